import type { Kysely } from 'kysely';
import { metricNames, type EngagementEvent, type InteractionKind } from '../../domain/engagement.js';
import type { PublicationEvent } from '../../domain/publication-events.js';
import { occurredAt, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Projection } from '../projection.js';
import { engagementMigrations, type EngagementRow, type EngagementTable } from './engagement-table.js';

type PlatformPublishedData = Extract<PublicationEvent, { type: 'PlatformPublished' }>['data'];

/** The counter a single interaction moves. */
const counterOf: Record<InteractionKind, 'comments' | 'likes' | 'shares'> = { comment: 'comments', reaction: 'likes', share: 'shares' };

/**
 * Publication engagement read model: a row per published post (created by PlatformPublished), holding the counters
 * of the last measurement, nudged by one for each interaction a webhook reports until the next measurement sets them
 * again. Batches are folded in memory and written with one upsert.
 */
export const engagementProjection: Projection = {
  name: 'publication_engagement',
  filter: {
    categories: ['publication', 'engagement'],
    eventTypes: ['PlatformPublished', 'EngagementMeasured', 'EngagementInteractionReceived'],
  },
  migrations: engagementMigrations,

  async reset(trx) {
    await (trx as Kysely<EngagementTable>).deleteFrom('publication_engagement').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<EngagementTable>;
    const publicationIds = [...new Set(events.map((e) => (e.data as { publication_id: string }).publication_id))];
    const touched = new Map<string, EngagementRow>();
    for (let start = 0; start < publicationIds.length; start += 1_000) {
      const rows = await db.selectFrom('publication_engagement').selectAll().where('publication_id', 'in', publicationIds.slice(start, start + 1_000)).execute();
      for (const row of rows) touched.set(keyOf(row.publication_id, row.platform), row);
    }
    const changed = new Set<string>();
    for (const event of events) {
      const { publication_id, platform } = event.data as { publication_id: string; platform: string };
      const key = keyOf(publication_id, platform);
      const row = applyEvent(touched.get(key), event);
      if (!row) continue;
      touched.set(key, row);
      changed.add(key);
    }
    const rows = [...changed].map((key) => touched.get(key)!);
    for (let start = 0; start < rows.length; start += 1_000) await upsert(db, rows.slice(start, start + 1_000));
  },
};

function keyOf(publicationId: string, platform: string): string {
  return `${publicationId} ${platform}`;
}

/** The row after the event; undefined when there is no row to change (engagement of a post never published). */
function applyEvent(row: EngagementRow | undefined, event: RecordedEvent): EngagementRow | undefined {
  const at = occurredAt(event);
  if (event.type === 'PlatformPublished') {
    const data = event.data as PlatformPublishedData;
    const published = { post_id: data.post_id, post_url: data.post_url, published_at: new Date(data.published_at), updated_at: at };
    if (row) return { ...row, ...published };
    return {
      publication_id: data.publication_id,
      platform: data.platform,
      ...published,
      // Interactions can count these before the first measurement; the others only a measurement knows.
      likes: 0,
      shares: 0,
      comments: 0,
      reach: null,
      clicks: null,
      impressions: null,
      measured_at: null,
    };
  }
  if (!row) return undefined;
  const engagement = event as unknown as EngagementEvent;
  switch (engagement.type) {
    case 'EngagementMeasured': {
      const { metrics, measured_at } = engagement.data;
      const counters = Object.fromEntries(metricNames.map((name) => [name, metrics[name]]));
      return { ...row, ...counters, measured_at: new Date(measured_at), updated_at: at };
    }
    case 'EngagementInteractionReceived': {
      const { kind, verb } = engagement.data;
      if (verb === 'edited') return row;
      const counter = counterOf[kind];
      const current = row[counter] ?? 0;
      return { ...row, [counter]: verb === 'add' ? current + 1 : Math.max(0, current - 1), updated_at: at };
    }
  }
}

async function upsert(db: Kysely<EngagementTable>, rows: EngagementRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('publication_engagement')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['publication_id', 'platform']).doUpdateSet((eb) => ({
        post_id: eb.ref('excluded.post_id'),
        post_url: eb.ref('excluded.post_url'),
        published_at: eb.ref('excluded.published_at'),
        likes: eb.ref('excluded.likes'),
        shares: eb.ref('excluded.shares'),
        comments: eb.ref('excluded.comments'),
        reach: eb.ref('excluded.reach'),
        clicks: eb.ref('excluded.clicks'),
        impressions: eb.ref('excluded.impressions'),
        measured_at: eb.ref('excluded.measured_at'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}
