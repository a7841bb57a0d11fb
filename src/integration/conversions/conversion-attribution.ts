import type { ConversionAttribution } from '../../domain/conversion.js';
import type { NotificationEvent } from '../../domain/notification-events.js';
import type { PublicationEvent } from '../../domain/publication-events.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { ConversionRecorded } from './conversion-recorded.js';
import { trackedLinkOf, type TrackedLink } from './tracked-link.js';

type DataOf<E, T> = E extends { type: T; data: infer D } ? D : never;
type Found = Pick<ConversionAttribution, 'campaign_id' | 'notification_id' | 'publication_id' | 'channel' | 'platform' | 'attributed_by'>;

/**
 * What a conversion is attributed to, from the most precise reference it carries that names something of ours:
 * the notification (its campaign, channel and provider), the publication (its campaign; the platform when the link or
 * the publication says which), the campaign, then the tracked link's campaign. The references are checked against
 * the event store, like a command loads its aggregate: an id of something we never sent is skipped. Null when nothing
 * is ours.
 */
export async function attributeConversion(store: EventStore, message: ConversionRecorded, now: Date): Promise<ConversionAttribution | null> {
  const { data } = message;
  const link = trackedLinkOf(data.landing_url);
  const found =
    (await viaNotification(store, data.notification_id ?? link?.content_id ?? null)) ??
    (await viaPublication(store, data.publication_id ?? link?.content_id ?? null, link)) ??
    (await viaCampaign(store, data.campaign_id, link, 'campaign')) ??
    (await viaCampaign(store, link?.campaign_id ?? null, link, 'tracked_link'));
  if (!found) return null;
  return {
    conversion_id: data.conversion_id,
    source_event_id: message.id,
    kind: data.kind,
    amount: data.amount,
    currency: 'EUR',
    ...found,
    occurred_at: data.occurred_at,
    attributed_at: now.toISOString(),
  };
}

async function viaNotification(store: EventStore, id: string | null): Promise<Found | null> {
  if (!id) return null;
  const events = await store.readStream(`notification-${id}`);
  const requested = events.find((e) => e.type === 'NotificationRequested')?.data as DataOf<NotificationEvent, 'NotificationRequested'> | undefined;
  if (!requested) return null;
  const sent = events.find((e) => e.type === 'NotificationSent')?.data as DataOf<NotificationEvent, 'NotificationSent'> | undefined;
  return {
    campaign_id: requested.campaign_id ?? null,
    notification_id: id,
    publication_id: null,
    channel: requested.channel,
    platform: sent?.provider ?? null,
    attributed_by: 'notification',
  };
}

async function viaPublication(store: EventStore, id: string | null, link: TrackedLink | null): Promise<Found | null> {
  if (!id) return null;
  const [first] = await store.readStream(`publication-${id}`, { maxCount: 1 });
  if (first?.type !== 'PublicationScheduled') return null;
  const scheduled = first.data as DataOf<PublicationEvent, 'PublicationScheduled'>;
  const platforms: string[] = scheduled.platforms;
  const platform = link?.platform && platforms.includes(link.platform) ? link.platform : platforms.length === 1 ? platforms[0]! : null;
  return { campaign_id: scheduled.campaign_id ?? null, notification_id: null, publication_id: id, channel: 'social_media', platform, attributed_by: 'publication' };
}

async function viaCampaign(store: EventStore, id: string | null, link: TrackedLink | null, by: 'campaign' | 'tracked_link'): Promise<Found | null> {
  if (!id) return null;
  const [first] = await store.readStream(`campaign-${id}`, { maxCount: 1 });
  if (first?.type !== 'CampaignCreated') return null;
  return { campaign_id: id, notification_id: null, publication_id: null, channel: link?.channel ?? null, platform: link?.platform ?? null, attributed_by: by };
}
