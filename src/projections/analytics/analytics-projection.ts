import type { Kysely } from 'kysely';
import type { Projection } from '../projection.js';
import { foldAnalytics, referencesOf } from './analytics-fold.js';
import { analyticsMigrations, type AnalyticsTables } from './analytics-tables.js';
import { loadReferences, writeChanges } from './analytics-writes.js';

/**
 * Campaign analytics (GET /api/communication/analytics): notification, publication, engagement, conversion and spend
 * events folded into hourly, daily and weekly buckets (see analytics-tables.ts). A batch is folded in memory and written with
 * one upsert per table, in the projector's transaction with the checkpoint: a replay never counts twice.
 */
export const analyticsProjection: Projection = {
  name: 'analytics',
  filter: {
    categories: ['notification', 'publication', 'engagement', 'campaign', 'conversion', 'spend'],
    eventTypes: [
      'NotificationRequested',
      'NotificationSent',
      'NotificationDelivered',
      'NotificationFailed',
      'NotificationSkipped',
      'NotificationOpened',
      'NotificationClicked',
      'PublicationScheduled',
      'PlatformPublished',
      'PlatformPublishFailed',
      'EngagementMeasured',
      'EngagementInteractionReceived',
      'CampaignCreated',
      'CampaignUpdated',
      'ConversionAttributed',
      'SpendRecorded',
    ],
  },
  migrations: analyticsMigrations,

  async reset(trx) {
    const db = trx as Kysely<AnalyticsTables>;
    for (const table of ['analytics_hourly', 'analytics_daily', 'analytics_weekly', 'analytics_notifications', 'analytics_posts', 'analytics_publications', 'analytics_campaigns'] as const) {
      await db.deleteFrom(table).execute();
    }
  },

  async apply(events, trx) {
    const db = trx as Kysely<AnalyticsTables>;
    const loaded = await loadReferences(db, referencesOf(events));
    await writeChanges(db, foldAnalytics(events, loaded));
  },
};
