import type { Kysely } from 'kysely';
import { activeSuppressions, consentDecider, type ConsentEvent, type ConsentState, type SuppressionReason } from '../../domain/consent.js';
import type { NotificationChannel } from '../../domain/notification.js';
import { occurredAt, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { ERASED_RECIPIENT, consentsMigrations, type ConsentsTable } from './consents-table.js';

type Row = ConsentsTable['consents'];

/** A suppression as the read model stores it. */
export interface SuppressionEntry {
  reason: SuppressionReason;
  source: string;
  at: string;
}

/**
 * The consents read model (projection 'consents', category 'consent'): the consent and suppressions of each
 * (recipient, channel), folded with the consent decider's own evolve. A batch is folded in memory and written with
 * one read and one multi-row upsert.
 */
export const consentsProjection: Projection = {
  name: 'consents',
  filter: { categories: ['consent'] },
  migrations: consentsMigrations,

  async reset(trx) {
    await (trx as Kysely<ConsentsTable>).deleteFrom('consents').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<ConsentsTable>;
    const ids = [...new Set(events.map((e) => e.streamId))];
    const existing = new Map((await db.selectFrom('consents').selectAll().where('id', 'in', ids).execute()).map((row) => [row.id, row]));
    const touched = new Map<string, Row>();
    for (const event of events) {
      const row = applyEvent(touched.get(event.streamId) ?? existing.get(event.streamId), event);
      if (row) touched.set(event.streamId, row);
    }
    const rows = [...touched.values()];
    for (let start = 0; start < rows.length; start += 1_000) await upsert(db, rows.slice(start, start + 1_000));
  },
};

function applyEvent(row: Row | undefined, event: RecordedEvent): Row | undefined {
  const state = consentDecider.evolve(row ? toState(row) : consentDecider.initialState(), event as unknown as ConsentEvent);
  const updated_at = occurredAt(event);
  if (state.erased && state.channel !== null) {
    // Erased: the address leaves the read model; the id (its hash) stays, so the consent policy still blocks it.
    return {
      id: event.streamId,
      recipient: ERASED_RECIPIENT,
      channel: state.channel,
      granted: null,
      source: null,
      consent_at: null,
      suppressed: true,
      suppression_reason: null,
      suppressions: [],
      revision: event.revision,
      updated_at,
      erased_at: new Date(state.erased.at),
    };
  }
  if (state.recipient === null || state.channel === null) return row;
  const suppressions: SuppressionEntry[] = activeSuppressions(state).map((reason) => {
    const { source, at } = state.suppressions[reason]!;
    return { reason, source, at: new Date(at).toISOString() };
  });
  return {
    id: event.streamId,
    recipient: state.recipient,
    channel: state.channel,
    granted: state.consent?.granted ?? null,
    source: state.consent?.source ?? null,
    consent_at: state.consent ? new Date(state.consent.at) : null,
    suppressed: suppressions.length > 0,
    suppression_reason: suppressions[0]?.reason ?? null,
    suppressions,
    revision: event.revision,
    updated_at,
    erased_at: null,
  };
}

function toState(row: Row): ConsentState {
  return {
    recipient: row.recipient,
    channel: row.channel as NotificationChannel,
    consent:
      row.granted === null || row.consent_at === null
        ? null
        : { granted: row.granted, source: row.source ?? '', at: row.consent_at.toISOString() },
    suppressions: Object.fromEntries((row.suppressions as SuppressionEntry[]).map(({ reason, source, at }) => [reason, { source, at }])),
    erased: row.erased_at ? { source: 'erasure', at: row.erased_at.toISOString() } : null,
  };
}

async function upsert(db: Kysely<ConsentsTable>, rows: Row[]): Promise<void> {
  await db
    .insertInto('consents')
    .values(rows.map((row) => ({ ...row, suppressions: JSON.stringify(row.suppressions) })))
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        recipient: eb.ref('excluded.recipient'),
        erased_at: eb.ref('excluded.erased_at'),
        granted: eb.ref('excluded.granted'),
        source: eb.ref('excluded.source'),
        consent_at: eb.ref('excluded.consent_at'),
        suppressed: eb.ref('excluded.suppressed'),
        suppression_reason: eb.ref('excluded.suppression_reason'),
        suppressions: eb.ref('excluded.suppressions'),
        revision: eb.ref('excluded.revision'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}
