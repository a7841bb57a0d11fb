import { sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The analytics read model. Figures are pre-aggregated per (period, campaign, channel, platform) so that a query
 * reads a few hundred rows whatever the number of events behind them: hourly buckets (UTC hours, which are also
 * Europe/Paris hours), daily ones (Europe/Paris calendar days, the restaurant's) and weekly ones (ISO weeks from
 * Monday, Paris, keyed by their Monday).
 *
 * Keys: campaign_id is NO_CAMPAIGN for messages sent outside any campaign, and ALL_CAMPAIGNS for the same figures
 * summed over every campaign (and none), which serves the queries that neither filter nor group by campaign; channel is
 * email, sms, push or social_media ('' for a conversion attributed to a campaign only); platform is the notification
 * provider (sendgrid, twilio…) or the social platform (facebook…), '' when none took part (a skipped notification).
 *
 * Besides the buckets, the projection keeps what it needs to place later events: each notification's bucket and
 * what was already counted for it (so that a second open is not a second unique open), each post's last counters
 * (platforms report totals, the buckets add differences), each publication's campaign, and each campaign's budget
 * and success_metrics with a change sequence the performance monitor follows.
 */

export const NO_CAMPAIGN = '00000000-0000-0000-0000-000000000000';
export const ALL_CAMPAIGNS = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** Counts of messages and posts: integer (far above any hour's or day's count), whose sums PostgreSQL adds as int8, not numeric. */
export const countColumns = [
  'sent',
  'delivered',
  'failed',
  'bounced',
  'skipped',
  'unique_opens',
  'unique_clicks',
  'opens',
  'clicks',
  'conversions',
  'spend_records',
  'spend_other_currency',
] as const;
/** Engagement counters and amounts in euros, double precision (platform counters may be any number ≥ 0). */
export const amountColumns = ['likes', 'shares', 'comments', 'reach', 'impressions', 'engagement_clicks', 'revenue', 'cost'] as const;
export const figureColumns = [...countColumns, ...amountColumns] as const;
export type FigureColumn = (typeof figureColumns)[number];
export type Figures = Record<FigureColumn, number>;

export function emptyFigures(): Figures {
  return Object.fromEntries(figureColumns.map((column) => [column, 0])) as Figures;
}

interface BucketKeyColumns {
  campaign_id: string;
  channel: string;
  platform: string;
}

/** Bigint and sums come back from the driver as strings. */
type StoredFigures = Record<FigureColumn, number | string>;

export interface AnalyticsTables {
  analytics_hourly: { hour: Date } & BucketKeyColumns & StoredFigures;
  analytics_daily: { day: string } & BucketKeyColumns & StoredFigures;
  analytics_weekly: { week: string } & BucketKeyColumns & StoredFigures;
  analytics_notifications: {
    notification_id: string;
    campaign_id: string;
    channel: string;
    platform: string;
    hour: Date;
    sent: boolean;
    delivered: boolean;
    failed: boolean;
    bounced: boolean;
    skipped: boolean;
    opened: boolean;
    clicked: boolean;
  };
  analytics_posts: {
    publication_id: string;
    platform: string;
    campaign_id: string;
    hour: Date;
    published: boolean;
    failed: boolean;
    likes: number;
    shares: number;
    comments: number;
    reach: number;
    impressions: number;
    clicks: number;
  };
  analytics_publications: { publication_id: string; campaign_id: string };
  analytics_campaigns: {
    campaign_id: string;
    budget: number;
    success_metrics: unknown;
    /** Spend in euros since the campaign began (the sum of its buckets' cost), for budgets at a glance. */
    spent: number;
    /** From analytics_campaign_changes: grows whenever the campaign's figures, budget or targets change. */
    changed_seq: string;
  };
}

export type NotificationDims = AnalyticsTables['analytics_notifications'];
export type PostDims = AnalyticsTables['analytics_posts'];

export const analyticsMigrations: Record<string, Migration> = {
  '0200_analytics': {
    async up(db: SharedDatabase) {
      for (const [table, period, type] of [
        ['analytics_hourly', 'hour', 'timestamptz'],
        ['analytics_daily', 'day', 'date'],
        ['analytics_weekly', 'week', 'date'],
      ] as const) {
        let create = db.schema
          .createTable(table)
          .ifNotExists()
          .addColumn(period, type, (c) => c.notNull())
          .addColumn('campaign_id', 'uuid', (c) => c.notNull())
          .addColumn('channel', 'text', (c) => c.notNull())
          .addColumn('platform', 'text', (c) => c.notNull());
        for (const column of countColumns) create = create.addColumn(column, 'integer', (c) => c.notNull().defaultTo(0));
        for (const column of amountColumns) create = create.addColumn(column, 'double precision', (c) => c.notNull().defaultTo(0));
        // The second index serves a campaign's periods, and the ALL_CAMPAIGNS rows; the primary key the rest.
        await create.addPrimaryKeyConstraint(`${table}_pk`, [period, 'campaign_id', 'channel', 'platform']).execute();
        await db.schema.createIndex(`${table}_campaign`).ifNotExists().on(table).columns(['campaign_id', period]).execute();
      }
      await db.schema
        .createTable('analytics_notifications')
        .ifNotExists()
        .addColumn('notification_id', 'uuid', (c) => c.primaryKey())
        .addColumn('campaign_id', 'uuid', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('hour', 'timestamptz', (c) => c.notNull())
        .addColumn('sent', 'boolean', (c) => c.notNull())
        .addColumn('delivered', 'boolean', (c) => c.notNull())
        .addColumn('failed', 'boolean', (c) => c.notNull())
        .addColumn('bounced', 'boolean', (c) => c.notNull())
        .addColumn('skipped', 'boolean', (c) => c.notNull())
        .addColumn('opened', 'boolean', (c) => c.notNull())
        .addColumn('clicked', 'boolean', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('analytics_posts')
        .ifNotExists()
        .addColumn('publication_id', 'uuid', (c) => c.notNull())
        .addColumn('platform', 'text', (c) => c.notNull())
        .addColumn('campaign_id', 'uuid', (c) => c.notNull())
        .addColumn('hour', 'timestamptz', (c) => c.notNull())
        .addColumn('published', 'boolean', (c) => c.notNull())
        .addColumn('failed', 'boolean', (c) => c.notNull())
        .addColumn('likes', 'double precision', (c) => c.notNull())
        .addColumn('shares', 'double precision', (c) => c.notNull())
        .addColumn('comments', 'double precision', (c) => c.notNull())
        .addColumn('reach', 'double precision', (c) => c.notNull())
        .addColumn('impressions', 'double precision', (c) => c.notNull())
        .addColumn('clicks', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('analytics_posts_pk', ['publication_id', 'platform'])
        .execute();
      await db.schema
        .createTable('analytics_publications')
        .ifNotExists()
        .addColumn('publication_id', 'uuid', (c) => c.primaryKey())
        .addColumn('campaign_id', 'uuid', (c) => c.notNull())
        .execute();
      // A sequence, not a counter per row: it keeps growing across rebuilds, so whoever remembers the last value it
      // handled still sees every later change.
      await sql`CREATE SEQUENCE IF NOT EXISTS analytics_campaign_changes`.execute(db);
      await db.schema
        .createTable('analytics_campaigns')
        .ifNotExists()
        .addColumn('campaign_id', 'uuid', (c) => c.primaryKey())
        .addColumn('budget', 'double precision', (c) => c.notNull())
        .addColumn('success_metrics', 'jsonb', (c) => c.notNull())
        .addColumn('spent', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('changed_seq', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('analytics_campaigns_changed').ifNotExists().on('analytics_campaigns').column('changed_seq').execute();
    },
  },
};
