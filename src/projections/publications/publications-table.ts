import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

export interface PublicationsTable {
  publications: {
    id: string;
    /** The whole publication's status, derived from its platforms as the decider does. */
    status: string;
    scheduled_time: Date;
    content: unknown;
    targeting: unknown;
    campaign_id: string | null;
    priority: number;
    max_attempts: number;
    requested_at: Date;
    canceled_at: Date | null;
    cancel_reason: string | null;
    revision: number;
    updated_at: Date;
    /** Global position of the last event folded in, "<commit>.<prepare>". */
    last_position: string;
  };
  publication_platforms: {
    publication_id: string;
    platform: string;
    /** The platform's place in the request, to list platforms in the order they were asked. */
    sort_order: number;
    /** A copy of the publication's scheduled_time: the calendar filtered by platform is then one index range. */
    scheduled_time: Date;
    status: string;
    attempts: number;
    attempt_id: string | null;
    attempt_ids: unknown;
    started_at: Date | null;
    next_attempt_at: Date | null;
    post_id: string | null;
    post_url: string | null;
    published_at: Date | null;
    last_error_attempt_id: string | null;
    last_error_class: string | null;
    last_error_message: string | null;
    last_error_at: Date | null;
  };
}

export const publicationsMigrations: Record<string, Migration> = {
  '0150_publications': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('publications')
        .ifNotExists()
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('scheduled_time', 'timestamptz', (c) => c.notNull())
        .addColumn('content', 'jsonb', (c) => c.notNull())
        .addColumn('targeting', 'jsonb')
        .addColumn('campaign_id', 'uuid')
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('max_attempts', 'integer', (c) => c.notNull())
        .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
        .addColumn('canceled_at', 'timestamptz')
        .addColumn('cancel_reason', 'text')
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addColumn('last_position', 'text', (c) => c.notNull())
        .execute();
      // The calendar: a period, optionally one status or one campaign, in (scheduled_time, id) order.
      await db.schema.createIndex('publications_calendar').ifNotExists().on('publications').columns(['scheduled_time', 'id']).execute();
      await db.schema
        .createIndex('publications_status_calendar')
        .ifNotExists()
        .on('publications')
        .columns(['status', 'scheduled_time', 'id'])
        .execute();
      await db.schema
        .createIndex('publications_campaign_calendar')
        .ifNotExists()
        .on('publications')
        .columns(['campaign_id', 'scheduled_time', 'id'])
        .execute();

      await db.schema
        .createTable('publication_platforms')
        .ifNotExists()
        .addColumn('publication_id', 'uuid', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('sort_order', 'integer', (c) => c.notNull())
        .addColumn('scheduled_time', 'timestamptz', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('attempt_id', 'text')
        .addColumn('attempt_ids', 'jsonb', (c) => c.notNull())
        .addColumn('started_at', 'timestamptz')
        .addColumn('next_attempt_at', 'timestamptz')
        .addColumn('post_id', 'text')
        .addColumn('post_url', 'text')
        .addColumn('published_at', 'timestamptz')
        .addColumn('last_error_attempt_id', 'text')
        .addColumn('last_error_class', 'text')
        .addColumn('last_error_message', 'text')
        .addColumn('last_error_at', 'timestamptz')
        .addPrimaryKeyConstraint('publication_platforms_pkey', ['publication_id', 'platform'])
        .execute();
      // The calendar filtered by platform walks this index, joined to publications by id.
      await db.schema
        .createIndex('publication_platforms_calendar')
        .ifNotExists()
        .on('publication_platforms')
        .columns(['platform', 'scheduled_time', 'publication_id'])
        .execute();
    },
  },
};
