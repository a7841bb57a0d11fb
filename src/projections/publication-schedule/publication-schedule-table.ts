import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The scheduler's view of publications: one row per (publication, platform) with when it is due. The projection owns
 * every column but dispatched_at, which the scheduler sets when it hands the row to the bus; any change of status or
 * due time clears it, so a rescheduled or retried platform is dispatched again.
 */
export interface PublicationScheduleTable {
  publication_schedule: {
    publication_id: string;
    platform: string;
    /** scheduled | publishing | published | failed | canceled */
    status: string;
    /** scheduled_time, or next_attempt_at after a retryable failure. */
    due_at: Date;
    priority: number;
    campaign_id: string | null;
    attempts: number;
    started_at: Date | null;
    published_at: Date | null;
    dispatched_at: Date | null;
  };
}

export const publicationScheduleMigrations: Record<string, Migration> = {
  '0151_publication_schedule': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('publication_schedule')
        .ifNotExists()
        .addColumn('publication_id', 'uuid', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('due_at', 'timestamptz', (c) => c.notNull())
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('campaign_id', 'uuid')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'timestamptz')
        .addColumn('published_at', 'timestamptz')
        .addColumn('dispatched_at', 'timestamptz')
        .addPrimaryKeyConstraint('publication_schedule_pk', ['publication_id', 'platform'])
        .execute();
      await db.schema.createIndex('publication_schedule_due').ifNotExists().on('publication_schedule').columns(['status', 'due_at']).execute();
      await db.schema.createIndex('publication_schedule_platform_due').ifNotExists().on('publication_schedule').columns(['platform', 'due_at']).execute();
    },
  },
};
