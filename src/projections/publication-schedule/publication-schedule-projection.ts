import { sql, type Kysely } from 'kysely';
import type { PublicationEvent } from '../../domain/publication-events.js';
import type { Projection } from '../projection.js';
import { publicationScheduleMigrations, type PublicationScheduleTable } from './publication-schedule-table.js';

type Row = PublicationScheduleTable['publication_schedule'];

/**
 * What the scheduler and the slot allocator read: per (publication, platform), its status and when it is due.
 * Batches are folded in memory and written with one upsert.
 */
export const publicationScheduleProjection: Projection = {
  name: 'publication-schedule',
  filter: { categories: ['publication'] },
  migrations: publicationScheduleMigrations,

  async reset(trx) {
    await (trx as Kysely<PublicationScheduleTable>).deleteFrom('publication_schedule').execute();
  },

  async apply(events, trx) {
    const db = trx as Kysely<PublicationScheduleTable>;
    const ids = [...new Set(events.map((e) => e.streamId.slice('publication-'.length)))];
    const existing = await db.selectFrom('publication_schedule').selectAll().where('publication_id', 'in', ids).execute();
    const rows = new Map(existing.map((row) => [key(row.publication_id, row.platform), row]));
    const touched = new Set<string>();
    for (const recorded of events) {
      for (const row of applyEvent(rows, recorded as unknown as PublicationEvent)) {
        rows.set(key(row.publication_id, row.platform), row);
        touched.add(key(row.publication_id, row.platform));
      }
    }
    const changed = [...touched].map((k) => rows.get(k)!);
    for (let start = 0; start < changed.length; start += 1_000) await upsert(db, changed.slice(start, start + 1_000));
  },
};

function key(publicationId: string, platform: string): string {
  return `${publicationId}/${platform}`;
}

function applyEvent(rows: Map<string, Row>, event: PublicationEvent): Row[] {
  const data = event.data;
  const forPlatform = (platform: string, change: (row: Row) => Row): Row[] => {
    const row = rows.get(key(data.publication_id, platform));
    return row ? [change(row)] : [];
  };
  const forAll = (change: (row: Row) => Row | null): Row[] =>
    [...rows.values()].filter((row) => row.publication_id === data.publication_id).flatMap((row) => change(row) ?? []);
  switch (event.type) {
    case 'PublicationScheduled':
      return event.data.platforms.map((platform) => ({
        publication_id: event.data.publication_id,
        platform,
        status: 'scheduled',
        due_at: new Date(event.data.scheduled_time),
        priority: event.data.priority,
        campaign_id: event.data.campaign_id,
        attempts: 0,
        started_at: null,
        published_at: null,
        dispatched_at: null,
      }));
    case 'PublicationRescheduled': {
      const at = new Date(event.data.scheduled_time);
      return forAll((row) => (row.status === 'scheduled' ? { ...row, due_at: at } : null));
    }
    case 'PublicationCanceled':
      return event.data.platforms.flatMap((platform) => forPlatform(platform, (row) => ({ ...row, status: 'canceled' })));
    case 'PlatformPublishingStarted':
      return forPlatform(event.data.platform, (row) => ({
        ...row,
        status: 'publishing',
        attempts: event.data.attempt,
        started_at: new Date(event.data.started_at),
      }));
    case 'PlatformPublished':
      return forPlatform(event.data.platform, (row) => ({ ...row, status: 'published', published_at: new Date(event.data.published_at) }));
    case 'PlatformPublishFailed': {
      const retry = event.data.will_retry && event.data.next_attempt_at !== null;
      return forPlatform(event.data.platform, (row) =>
        retry ? { ...row, status: 'scheduled', due_at: new Date(event.data.next_attempt_at!) } : { ...row, status: 'failed' },
      );
    }
  }
}

async function upsert(db: Kysely<PublicationScheduleTable>, rows: Row[]): Promise<void> {
  await db
    .insertInto('publication_schedule')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['publication_id', 'platform']).doUpdateSet((eb) => ({
        status: eb.ref('excluded.status'),
        due_at: eb.ref('excluded.due_at'),
        attempts: eb.ref('excluded.attempts'),
        started_at: eb.ref('excluded.started_at'),
        published_at: eb.ref('excluded.published_at'),
        // The scheduler's mark stays only while the row still means the same dispatch.
        dispatched_at: sql<Date | null>`case when publication_schedule.status = excluded.status and publication_schedule.due_at = excluded.due_at then publication_schedule.dispatched_at else null end`,
      })),
    )
    .execute();
}
