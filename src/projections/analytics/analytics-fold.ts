import type { CampaignEvent } from '../../domain/campaign.js';
import type { ConversionAttribution } from '../../domain/conversion.js';
import type { EngagementEvent } from '../../domain/engagement-events.js';
import type { NotificationEvent } from '../../domain/notification-events.js';
import type { PublicationEvent } from '../../domain/publication-events.js';
import type { SpendRecord } from '../../domain/spend.js';
import type { RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import { ALL_CAMPAIGNS, emptyFigures, NO_CAMPAIGN, type FigureColumn, type Figures, type NotificationDims, type PostDims } from './analytics-tables.js';
import { hourOf, mondayOf, parisDay } from './paris-calendar.js';

type DataOf<E, T> = E extends { type: T; data: infer D } ? D : never;

export interface BucketKey {
  campaign_id: string;
  channel: string;
  platform: string;
}

export interface BucketDelta<P> {
  period: P;
  key: BucketKey;
  figures: Figures;
}

export interface CampaignSettings {
  budget?: number;
  success_metrics?: unknown;
}

/** What a batch changes, folded in memory, written by analytics-writes.ts. */
export interface AnalyticsChanges {
  notifications: Map<string, NotificationDims>;
  posts: Map<string, PostDims>;
  publications: Map<string, string>;
  hourly: Map<string, BucketDelta<Date>>;
  daily: Map<string, BucketDelta<string>>;
  weekly: Map<string, BucketDelta<string>>;
  /** Campaigns whose figures moved. */
  touched: Set<string>;
  /** Spend in euros the batch adds, per campaign. */
  spent: Map<string, number>;
  /** Budgets and targets as the batch's campaign events set them. */
  settings: Map<string, CampaignSettings>;
}

/** What the batch's events refer to, as stored before the batch. */
export interface Loaded {
  notifications: Map<string, NotificationDims>;
  /** By postKey. */
  posts: Map<string, PostDims>;
  /** publication id → campaign id (NO_CAMPAIGN for none). */
  publications: Map<string, string>;
}

export function postKey(publicationId: string, platform: string): string {
  return `${publicationId} ${platform}`;
}

/** The rows a batch needs loaded before folding. */
export function referencesOf(events: RecordedEvent[]): { notificationIds: string[]; publicationIds: string[] } {
  const notificationIds = new Set<string>();
  const publicationIds = new Set<string>();
  for (const event of events) {
    const data = event.data as { notification_id?: unknown; publication_id?: unknown };
    if (typeof data.notification_id === 'string') notificationIds.add(data.notification_id);
    if (typeof data.publication_id === 'string') publicationIds.add(data.publication_id);
  }
  return { notificationIds: [...notificationIds], publicationIds: [...publicationIds] };
}

const engagementColumns = { likes: 'likes', shares: 'shares', comments: 'comments', reach: 'reach', impressions: 'impressions', clicks: 'engagement_clicks' } as const;
const interactionCounters = { comment: 'comments', reaction: 'likes', share: 'shares' } as const;

/**
 * Folds a batch into changes. Every count is guarded by what was already counted for its notification or post, so
 * a notification opened twice is one unique open, and an event the store delivers again cannot count twice.
 */
export function foldAnalytics(events: RecordedEvent[], loaded: Loaded): AnalyticsChanges {
  const changes: AnalyticsChanges = {
    notifications: new Map(),
    posts: new Map(),
    publications: new Map(),
    hourly: new Map(),
    daily: new Map(),
    weekly: new Map(),
    touched: new Set(),
    spent: new Map(),
    settings: new Map(),
  };
  const notification = (id: string) => changes.notifications.get(id) ?? loaded.notifications.get(id);
  const post = (publicationId: string, platform: string) => {
    const key = postKey(publicationId, platform);
    return changes.posts.get(key) ?? loaded.posts.get(key);
  };
  const campaignOfPublication = (id: string) => changes.publications.get(id) ?? loaded.publications.get(id) ?? NO_CAMPAIGN;
  const saveNotification = (row: NotificationDims) => changes.notifications.set(row.notification_id, row);
  const savePost = (row: PostDims) => changes.posts.set(postKey(row.publication_id, row.platform), row);
  const add = (hour: Date, key: BucketKey, column: FigureColumn, amount: number) => {
    if (amount === 0) return;
    const day = parisDay(hour);
    const week = mondayOf(day);
    // Object.assign here and below, not `{ ...row, sent: true }`: V8 builds a spread followed by properties on a slow
    // path, and this runs for every event of a notification.
    for (const bucketKey of [key, Object.assign({}, key, { campaign_id: ALL_CAMPAIGNS })]) {
      addTo(changes.hourly, hour.getTime(), hour, bucketKey, column, amount);
      addTo(changes.daily, day, day, bucketKey, column, amount);
      addTo(changes.weekly, week, week, bucketKey, column, amount);
    }
    if (key.campaign_id === NO_CAMPAIGN) return;
    changes.touched.add(key.campaign_id);
    if (column === 'cost') changes.spent.set(key.campaign_id, (changes.spent.get(key.campaign_id) ?? 0) + amount);
  };
  const addToNotification = (row: NotificationDims, column: FigureColumn, amount = 1) => add(row.hour, row, column, amount);
  const addToPost = (row: PostDims, column: FigureColumn, amount = 1) => add(row.hour, { campaign_id: row.campaign_id, channel: 'social_media', platform: row.platform }, column, amount);

  for (const event of events) {
    const data = event.data as never;
    switch (event.type) {
      case 'NotificationRequested': {
        const requested = data as DataOf<NotificationEvent, 'NotificationRequested'>;
        if (notification(requested.notification_id)) break;
        saveNotification({
          notification_id: requested.notification_id,
          campaign_id: requested.campaign_id ?? NO_CAMPAIGN,
          channel: requested.channel,
          platform: '',
          // A notification's figures all count in the hour it was requested (a cohort): an open two days later
          // counts with its message, so a period's rates compare like with like and never exceed 100 %.
          hour: hourOf(requested.requested_at),
          sent: false,
          delivered: false,
          failed: false,
          bounced: false,
          skipped: false,
          opened: false,
          clicked: false,
        });
        break;
      }
      case 'NotificationSent': {
        const sent = data as DataOf<NotificationEvent, 'NotificationSent'>;
        const row = notification(sent.notification_id);
        if (!row || row.sent) break;
        const next = Object.assign({}, row, { sent: true, platform: sent.provider });
        saveNotification(next);
        addToNotification(next, 'sent');
        break;
      }
      case 'NotificationDelivered': {
        const row = notification((data as DataOf<NotificationEvent, 'NotificationDelivered'>).notification_id);
        if (!row || row.delivered) break;
        saveNotification(Object.assign({}, row, { delivered: true }));
        addToNotification(row, 'delivered');
        break;
      }
      case 'NotificationFailed': {
        const failed = data as DataOf<NotificationEvent, 'NotificationFailed'>;
        const row = notification(failed.notification_id);
        if (!row || row.failed) break;
        const bounced = failed.error_class === 'bounced';
        // Refused before sending: the provider that refused it is the one it counts for.
        const next = Object.assign({}, row, { failed: true, bounced, platform: row.sent ? row.platform : failed.provider });
        saveNotification(next);
        addToNotification(next, 'failed');
        if (bounced) addToNotification(next, 'bounced');
        break;
      }
      case 'NotificationSkipped': {
        const row = notification((data as DataOf<NotificationEvent, 'NotificationSkipped'>).notification_id);
        if (!row || row.skipped) break;
        saveNotification(Object.assign({}, row, { skipped: true }));
        addToNotification(row, 'skipped');
        break;
      }
      case 'NotificationOpened': {
        const row = notification((data as DataOf<NotificationEvent, 'NotificationOpened'>).notification_id);
        if (!row) break;
        addToNotification(row, 'opens');
        if (row.opened) break;
        saveNotification(Object.assign({}, row, { opened: true }));
        addToNotification(row, 'unique_opens');
        break;
      }
      case 'NotificationClicked': {
        const row = notification((data as DataOf<NotificationEvent, 'NotificationClicked'>).notification_id);
        if (!row) break;
        addToNotification(row, 'clicks');
        if (row.clicked) break;
        saveNotification(Object.assign({}, row, { clicked: true }));
        addToNotification(row, 'unique_clicks');
        break;
      }
      case 'PublicationScheduled': {
        const scheduled = data as DataOf<PublicationEvent, 'PublicationScheduled'>;
        changes.publications.set(scheduled.publication_id, scheduled.campaign_id ?? NO_CAMPAIGN);
        break;
      }
      case 'PlatformPublished': {
        const published = data as DataOf<PublicationEvent, 'PlatformPublished'>;
        const row = post(published.publication_id, published.platform);
        if (row?.published || row?.failed) break;
        const next = newPost(published.publication_id, published.platform, campaignOfPublication(published.publication_id), published.published_at);
        next.published = true;
        savePost(next);
        addToPost(next, 'sent');
        break;
      }
      case 'PlatformPublishFailed': {
        const failed = data as DataOf<PublicationEvent, 'PlatformPublishFailed'>;
        if (failed.will_retry) break;
        const row = post(failed.publication_id, failed.platform);
        if (row?.published || row?.failed) break;
        const next = newPost(failed.publication_id, failed.platform, campaignOfPublication(failed.publication_id), failed.failed_at);
        next.failed = true;
        savePost(next);
        addToPost(next, 'failed');
        break;
      }
      case 'EngagementMeasured': {
        const measured = data as DataOf<EngagementEvent, 'EngagementMeasured'>;
        const row = post(measured.publication_id, measured.platform);
        if (!row?.published) break;
        // Platforms report totals; the buckets add the difference with the last totals known.
        const next = { ...row };
        for (const [name, column] of Object.entries(engagementColumns) as [keyof typeof engagementColumns, FigureColumn][]) {
          const value = measured.metrics[name];
          if (value === null) continue;
          addToPost(row, column, value - row[name]);
          next[name] = value;
        }
        savePost(next);
        break;
      }
      case 'EngagementInteractionReceived': {
        const interaction = data as DataOf<EngagementEvent, 'EngagementInteractionReceived'>;
        const row = post(interaction.publication_id, interaction.platform);
        if (!row?.published || interaction.verb === 'edited') break;
        const counter = interactionCounters[interaction.kind];
        const value = interaction.verb === 'add' ? row[counter] + 1 : Math.max(0, row[counter] - 1);
        addToPost(row, counter, value - row[counter]);
        savePost(Object.assign({}, row, { [counter]: value }));
        break;
      }
      case 'CampaignCreated': {
        const created = data as DataOf<CampaignEvent, 'CampaignCreated'>;
        changes.settings.set(created.campaign_id, { budget: created.budget, success_metrics: created.success_metrics });
        break;
      }
      case 'CampaignUpdated': {
        const { campaign_id, changes: changed } = data as DataOf<CampaignEvent, 'CampaignUpdated'>;
        if (changed.budget === undefined && changed.success_metrics === undefined) break;
        const settings = { ...changes.settings.get(campaign_id) };
        if (changed.budget !== undefined) settings.budget = changed.budget;
        if (changed.success_metrics !== undefined) settings.success_metrics = changed.success_metrics;
        changes.settings.set(campaign_id, settings);
        break;
      }
      case 'ConversionAttributed': {
        const conversion = data as ConversionAttribution;
        const counted = (key: BucketKey, hour: Date) => {
          add(hour, key, 'conversions', 1);
          add(hour, key, 'revenue', conversion.amount ?? 0);
        };
        // With its message when there is one (the message's cohort), else when it happened.
        const viaNotification = conversion.notification_id ? notification(conversion.notification_id) : undefined;
        const viaPost = conversion.publication_id && conversion.platform ? post(conversion.publication_id, conversion.platform) : undefined;
        if (viaNotification) counted(viaNotification, viaNotification.hour);
        else if (viaPost) counted({ campaign_id: viaPost.campaign_id, channel: 'social_media', platform: viaPost.platform }, viaPost.hour);
        else {
          const key = { campaign_id: conversion.campaign_id ?? NO_CAMPAIGN, channel: conversion.channel ?? '', platform: conversion.platform ?? '' };
          counted(key, hourOf(conversion.occurred_at));
        }
        break;
      }
      case 'SpendRecorded': {
        const spend = data as SpendRecord;
        const row = notification(spend.notification_id);
        const key = row ?? { campaign_id: spend.campaign_id ?? NO_CAMPAIGN, channel: spend.channel, platform: spend.provider };
        const hour = row?.hour ?? hourOf(spend.recorded_at);
        add(hour, key, 'spend_records', 1);
        // Budgets are in euros; an amount in another currency is counted, not converted.
        if (spend.currency === 'EUR') add(hour, key, 'cost', spend.amount);
        else add(hour, key, 'spend_other_currency', 1);
        break;
      }
    }
  }
  return changes;
}

function newPost(publicationId: string, platform: string, campaignId: string, at: string): PostDims {
  return {
    publication_id: publicationId,
    platform,
    campaign_id: campaignId,
    hour: hourOf(at),
    published: false,
    failed: false,
    likes: 0,
    shares: 0,
    comments: 0,
    reach: 0,
    impressions: 0,
    clicks: 0,
  };
}

function addTo<P>(buckets: Map<string, BucketDelta<P>>, periodKey: string | number, period: P, key: BucketKey, column: FigureColumn, amount: number): void {
  const id = `${periodKey}|${key.campaign_id}|${key.channel}|${key.platform}`;
  let bucket = buckets.get(id);
  if (!bucket) {
    bucket = { period, key: { campaign_id: key.campaign_id, channel: key.channel, platform: key.platform }, figures: emptyFigures() };
    buckets.set(id, bucket);
  }
  bucket.figures[column] += amount;
}
