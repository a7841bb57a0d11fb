import type { Kysely } from 'kysely';
import {
  publicationDecider,
  publicationEvents,
  type Platform,
  type PlatformState,
  type PublicationEvent,
  type PublicationState,
  type PublishErrorClass,
} from '../../domain/publication.js';
import { occurredAt, formatPosition, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { publicationsMigrations, type PublicationsTable } from './publications-table.js';

type Row = PublicationsTable['publications'];
type PlatformRow = PublicationsTable['publication_platforms'];
type ExistingState = Exclude<PublicationState, { status: 'none' }>;

/** A publication as folded so far, with what the row records about the last event. */
interface Folded {
  state: ExistingState;
  revision: number;
  updatedAt: Date;
  lastPosition: string;
}

/**
 * Publications read model: one row per publication and one per (publication, platform), for the publication and
 * calendar routes. Events are folded with the decider's own evolve, so statuses here are exactly the aggregate's; the
 * rows keep every field of its state (attempt ids included) so that a later batch can resume the fold from them.
 */
export const publicationsProjection: Projection = {
  name: 'publications',
  filter: { categories: ['publication'] },
  migrations: publicationsMigrations,

  async reset(trx) {
    const db = trx as Kysely<PublicationsTable>;
    await db.deleteFrom('publication_platforms').execute();
    await db.deleteFrom('publications').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<PublicationsTable>;
    const known = events.filter((event) => Object.hasOwn(publicationEvents, event.type));
    const ids = [...new Set(known.map(publicationIdOf))];
    const existing = await loadFolded(db, ids);
    const touched = new Map<string, Folded>();
    for (const event of known) {
      const id = publicationIdOf(event);
      const before = touched.get(id) ?? existing.get(id);
      const state = publicationDecider.evolve(before?.state ?? publicationDecider.initialState(), event as unknown as PublicationEvent);
      if (state.status === 'none') continue;
      touched.set(id, {
        state,
        revision: event.revision,
        updatedAt: occurredAt(event),
        lastPosition: formatPosition(event.position),
      });
    }
    if (touched.size > 0) await write(db, [...touched.values()]);
  },
};

function publicationIdOf(event: RecordedEvent): string {
  return (event.data as { publication_id: string }).publication_id;
}

// ---- rows → state -------------------------------------------------------------------------------------------------

async function loadFolded(db: Kysely<PublicationsTable>, ids: string[]): Promise<Map<string, Folded>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('publications').selectAll().where('id', 'in', ids).execute();
  const platformRows = await db
    .selectFrom('publication_platforms')
    .selectAll()
    .where('publication_id', 'in', ids)
    .orderBy('publication_id')
    .orderBy('sort_order')
    .execute();
  const platformsOf = new Map<string, PlatformRow[]>();
  for (const p of platformRows) {
    const list = platformsOf.get(p.publication_id);
    if (list) list.push(p);
    else platformsOf.set(p.publication_id, [p]);
  }
  return new Map(rows.map((row) => [row.id, toFolded(row, platformsOf.get(row.id) ?? [])]));
}

function toFolded(row: Row, platforms: PlatformRow[]): Folded {
  return {
    state: {
      status: row.status as ExistingState['status'],
      publication_id: row.id,
      content: row.content as ExistingState['content'],
      platforms: platforms.map(toPlatformState),
      scheduled_time: row.scheduled_time.toISOString(),
      targeting: row.targeting as ExistingState['targeting'],
      campaign_id: row.campaign_id,
      priority: row.priority,
      max_attempts: row.max_attempts,
      requested_at: row.requested_at.toISOString(),
      canceled_at: iso(row.canceled_at),
      cancel_reason: row.cancel_reason,
    },
    revision: row.revision,
    updatedAt: row.updated_at,
    lastPosition: row.last_position,
  };
}

function toPlatformState(row: PlatformRow): PlatformState {
  return {
    platform: row.platform as Platform,
    status: row.status as PlatformState['status'],
    attempts: row.attempts,
    attempt_id: row.attempt_id,
    attempt_ids: row.attempt_ids as string[],
    started_at: iso(row.started_at),
    next_attempt_at: iso(row.next_attempt_at),
    post_id: row.post_id,
    post_url: row.post_url,
    published_at: iso(row.published_at),
    last_error:
      row.last_error_class === null
        ? null
        : {
            attempt_id: row.last_error_attempt_id ?? '',
            error_class: row.last_error_class as PublishErrorClass,
            message: row.last_error_message ?? '',
            failed_at: iso(row.last_error_at) ?? '',
          },
  };
}

// ---- state → rows -------------------------------------------------------------------------------------------------

function toRow({ state, revision, updatedAt, lastPosition }: Folded): Row {
  return {
    id: state.publication_id,
    status: state.status,
    scheduled_time: new Date(state.scheduled_time),
    content: state.content,
    targeting: state.targeting,
    campaign_id: state.campaign_id,
    priority: state.priority,
    max_attempts: state.max_attempts,
    requested_at: new Date(state.requested_at),
    canceled_at: date(state.canceled_at),
    cancel_reason: state.cancel_reason,
    revision,
    updated_at: updatedAt,
    last_position: lastPosition,
  };
}

function toPlatformRows({ state }: Folded): PlatformRow[] {
  return state.platforms.map((p, index) => ({
    publication_id: state.publication_id,
    platform: p.platform,
    sort_order: index,
    scheduled_time: new Date(state.scheduled_time),
    status: p.status,
    attempts: p.attempts,
    attempt_id: p.attempt_id,
    attempt_ids: p.attempt_ids,
    started_at: date(p.started_at),
    next_attempt_at: date(p.next_attempt_at),
    post_id: p.post_id,
    post_url: p.post_url,
    published_at: date(p.published_at),
    last_error_attempt_id: p.last_error?.attempt_id ?? null,
    last_error_class: p.last_error?.error_class ?? null,
    last_error_message: p.last_error?.message ?? null,
    last_error_at: date(p.last_error?.failed_at ?? null),
  }));
}

// PostgreSQL takes at most 65,535 parameters per statement: under 20 columns × 2,000 rows stays well below.
const chunkSize = 2_000;

async function write(db: Kysely<PublicationsTable>, folded: Folded[]): Promise<void> {
  // jsonb columns get JSON text: node-postgres would turn a JS array into a PostgreSQL array otherwise.
  const rows = folded.map(toRow).map((row) => ({ ...row, content: JSON.stringify(row.content), targeting: json(row.targeting) }));
  const platformRows = folded.flatMap(toPlatformRows).map((row) => ({ ...row, attempt_ids: JSON.stringify(row.attempt_ids) }));
  for (let start = 0; start < rows.length; start += chunkSize) await upsertPublications(db, rows.slice(start, start + chunkSize));
  for (let start = 0; start < platformRows.length; start += chunkSize) {
    await upsertPlatforms(db, platformRows.slice(start, start + chunkSize));
  }
}

async function upsertPublications(db: Kysely<PublicationsTable>, rows: Row[]): Promise<void> {
  await db
    .insertInto('publications')
    .values(rows)
    .onConflict((oc) =>
      oc.column('id').doUpdateSet((eb) => ({
        status: eb.ref('excluded.status'),
        scheduled_time: eb.ref('excluded.scheduled_time'),
        canceled_at: eb.ref('excluded.canceled_at'),
        cancel_reason: eb.ref('excluded.cancel_reason'),
        revision: eb.ref('excluded.revision'),
        updated_at: eb.ref('excluded.updated_at'),
        last_position: eb.ref('excluded.last_position'),
      })),
    )
    .execute();
}

async function upsertPlatforms(db: Kysely<PublicationsTable>, rows: PlatformRow[]): Promise<void> {
  await db
    .insertInto('publication_platforms')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['publication_id', 'platform']).doUpdateSet((eb) => ({
        scheduled_time: eb.ref('excluded.scheduled_time'),
        status: eb.ref('excluded.status'),
        attempts: eb.ref('excluded.attempts'),
        attempt_id: eb.ref('excluded.attempt_id'),
        attempt_ids: eb.ref('excluded.attempt_ids'),
        started_at: eb.ref('excluded.started_at'),
        next_attempt_at: eb.ref('excluded.next_attempt_at'),
        post_id: eb.ref('excluded.post_id'),
        post_url: eb.ref('excluded.post_url'),
        published_at: eb.ref('excluded.published_at'),
        last_error_attempt_id: eb.ref('excluded.last_error_attempt_id'),
        last_error_class: eb.ref('excluded.last_error_class'),
        last_error_message: eb.ref('excluded.last_error_message'),
        last_error_at: eb.ref('excluded.last_error_at'),
      })),
    )
    .execute();
}

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

function date(value: string | null): Date | null {
  return value ? new Date(value) : null;
}

function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}
