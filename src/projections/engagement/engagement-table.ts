import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/** One row per published post: a publication on one platform, with its latest engagement counters. */
export interface EngagementTable {
  publication_engagement: {
    publication_id: string;
    platform: string;
    post_id: string;
    post_url: string | null;
    published_at: Date;
    /** null: the platform does not report this counter (or has not been asked yet). */
    likes: number | null;
    shares: number | null;
    comments: number | null;
    reach: number | null;
    clicks: number | null;
    impressions: number | null;
    /** When the platform's counters were last recorded (null until the first measurement). */
    measured_at: Date | null;
    updated_at: Date;
  };
}

export type EngagementRow = EngagementTable['publication_engagement'];

export const engagementMigrations: Record<string, Migration> = {
  '0170_publication_engagement': {
    async up(db: SharedDatabase) {
      // Counters are double precision: the event contract allows any number ≥ 0, and JS numbers round-trip exactly.
      await db.schema
        .createTable('publication_engagement')
        .ifNotExists()
        .addColumn('publication_id', 'uuid', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('post_id', 'text', (c) => c.notNull())
        .addColumn('post_url', 'text')
        .addColumn('published_at', 'timestamptz', (c) => c.notNull())
        .addColumn('likes', 'double precision')
        .addColumn('shares', 'double precision')
        .addColumn('comments', 'double precision')
        .addColumn('reach', 'double precision')
        .addColumn('clicks', 'double precision')
        .addColumn('impressions', 'double precision')
        .addColumn('measured_at', 'timestamptz')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .addPrimaryKeyConstraint('publication_engagement_pk', ['publication_id', 'platform'])
        .execute();
      // The platform webhooks name the post, not the publication.
      await db.schema.createIndex('publication_engagement_post').ifNotExists().on('publication_engagement').columns(['platform', 'post_id']).execute();
      // The insights poller asks for the posts of the last few days.
      await db.schema.createIndex('publication_engagement_published').ifNotExists().on('publication_engagement').column('published_at').execute();
    },
  },
};
