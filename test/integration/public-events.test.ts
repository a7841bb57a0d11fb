import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { campaignStreamId } from '../../src/commands/campaign-routes.js';
import { notificationStreamId } from '../../src/commands/notification-routes.js';
import { publicationStreamId } from '../../src/commands/publication-routes.js';
import { campaignEvents } from '../../src/domain/campaign.js';
import { campaignExperimentEvents, experimentStreamId } from '../../src/domain/campaign-experiment-decider.js';
import { campaignPerformanceEvents, performanceStreamId } from '../../src/domain/campaign-performance.js';
import { conversionEvents, conversionStreamId } from '../../src/domain/conversion.js';
import { spendEvents, spendStreamId } from '../../src/domain/spend.js';
import { consentEvents, consentStreamId } from '../../src/domain/consent.js';
import { engagementStreamId } from '../../src/domain/engagement.js';
import { engagementEvents } from '../../src/domain/engagement-events.js';
import type { EventCatalogue } from '../../src/domain/event-schema.js';
import { notificationEvents } from '../../src/domain/notification-events.js';
import { connectionStreamId, platformConnectionEvents } from '../../src/domain/platform-connection.js';
import { publicationEvents } from '../../src/domain/publication-events.js';
import { categoryOf } from '../../src/infrastructure/event-store/event-store.js';
import { publicEventFor, publicEvents, snakeCase } from '../../src/integration/public-events.js';
import { recipientHash } from '../../src/integration/recipient-hash.js';

const catalogues: EventCatalogue[] = [
  campaignEvents,
  publicationEvents,
  notificationEvents,
  engagementEvents,
  platformConnectionEvents,
  consentEvents,
  conversionEvents,
  spendEvents,
  campaignPerformanceEvents,
  campaignExperimentEvents,
];
const at = '2025-04-12T15:30:45.000Z';
const email = 'Marie.Dupont@example.fr';

function payload(type: string, data: unknown): Record<string, unknown> {
  return publicEventFor(type)!.payloadOf(data) as Record<string, unknown>;
}

describe('public events', () => {
  it('are the ones other modules were promised, under their subjects', () => {
    expect(publicEvents.map((e) => e.name)).toEqual([
      'campaign.campaign_created',
      'campaign.campaign_updated',
      'campaign.campaign_scheduled',
      'campaign.campaign_activated',
      'campaign.campaign_completed',
      'campaign.campaign_canceled',
      'publication.publication_scheduled',
      'publication.publication_rescheduled',
      'publication.publication_canceled',
      'publication.platform_published',
      'publication.platform_publish_failed',
      'notification.notification_requested',
      'notification.notification_sent',
      'notification.notification_delivered',
      'notification.notification_failed',
      'notification.notification_skipped',
      'notification.notification_opened',
      'notification.notification_clicked',
      'engagement.engagement_measured',
      'connection.platform_authorization_failed',
      'connection.platform_connection_restored',
      'connection.platform_connected',
      'connection.platform_connection_needs_reconnect',
      'connection.platform_token_expiring',
      'conversion.conversion_attributed',
      'spend.spend_recorded',
      'performance.campaign_threshold_reached',
      'performance.campaign_underperforming',
      'performance.campaign_budget_consumed',
      'experiment.campaign_variant_winner_chosen',
      'consent.consent_granted',
      'consent.consent_withdrawn',
      'consent.recipient_suppressed',
      'consent.suppression_released',
      'consent.recipient_erased',
    ]);
  });

  it('leave out the working steps, templates, interactions and operations events', () => {
    for (const type of ['PlatformPublishingStarted', 'PlatformTokenRefreshed', 'EngagementInteractionReceived', 'TemplateVersionPublished', 'SecurityAlertRaised', 'ExternalServiceUnhealthy']) {
      expect(publicEventFor(type)).toBeUndefined();
    }
  });

  it('are catalogue events, with the catalogue version', () => {
    for (const event of publicEvents) {
      const definition = catalogues.find((c) => c[event.type])?.[event.type];
      expect(definition, event.type).toBeDefined();
      expect(event.version).toBe(definition!.version);
    }
  });

  it('name their aggregate after the category of the streams they are recorded in', () => {
    const categories: Record<string, string> = {
      campaign: categoryOf(campaignStreamId(randomUUID())),
      publication: categoryOf(publicationStreamId(randomUUID())),
      notification: categoryOf(notificationStreamId(randomUUID())),
      engagement: categoryOf(engagementStreamId(randomUUID())),
      connection: categoryOf(connectionStreamId('facebook')),
      consent: categoryOf(consentStreamId(email, 'email')),
      conversion: categoryOf(conversionStreamId(randomUUID())),
      spend: categoryOf(spendStreamId(randomUUID())),
      performance: categoryOf(performanceStreamId(randomUUID())),
      experiment: categoryOf(experimentStreamId(randomUUID())),
    };
    for (const event of publicEvents) expect(categories[event.aggregate], event.type).toBe(event.aggregate);
  });

  it('snake_case the event type', () => {
    expect(snakeCase('PlatformPublishFailed')).toBe('platform_publish_failed');
    expect(snakeCase('NotificationSent')).toBe('notification_sent');
  });

  it('give a notification request without the recipient or the template variables, with the recipient hash', () => {
    const data = payload('NotificationRequested', {
      notification_id: randomUUID(),
      template_id: 'reservation_confirmation',
      recipient: email,
      channel: 'email',
      data: { first_name: 'Marie', table: 12 },
      campaign_id: null,
      requested_at: at,
    });
    expect(data).not.toHaveProperty('recipient');
    expect(data).not.toHaveProperty('data');
    expect(data.recipient_hash).toBe(recipientHash(email, 'email'));
    expect(JSON.stringify(data)).not.toMatch(/marie/i);
  });

  it('give a failure without the provider message, which may quote the address', () => {
    const data = payload('NotificationFailed', {
      notification_id: randomUUID(),
      reason: 'delivery_failed',
      error_class: 'bounced',
      message: `550 5.1.1 <${email}>: user unknown`,
      provider: 'sendgrid',
      provider_message_id: 'sg-1',
      failed_at: at,
    });
    expect(data).toMatchObject({ reason: 'delivery_failed', error_class: 'bounced', provider: 'sendgrid' });
    expect(JSON.stringify(data)).not.toMatch(/marie/i);
  });

  it('give a click without the link parameters that could name the recipient', () => {
    const data = payload('NotificationClicked', {
      notification_id: randomUUID(),
      provider_message_id: 'sg-1',
      url: 'https://levieuxmoulin.fr/menu?utm_campaign=ete&email=marie%40example.fr',
      clicked_at: at,
      first_click: true,
    });
    expect(data.url).toBe('https://levieuxmoulin.fr/menu?utm_campaign=ete');
  });

  it('give every consent event with the recipient hash instead of the recipient', () => {
    for (const type of Object.keys(consentEvents).filter((t) => t !== 'RecipientErased')) {
      const data = payload(type, { recipient: email, channel: 'email', source: 'unsubscribe_link', at, reason: 'unsubscribe' });
      expect(data, type).not.toHaveProperty('recipient');
      expect(data.recipient_hash).toBe(consentStreamId(email, 'email').slice('consent-'.length));
    }
  });

  it('give an erasure as recorded: it never held more than the recipient hash', () => {
    const recipient_hash = consentStreamId(email, 'email').slice('consent-'.length);
    expect(payload('RecipientErased', { recipient_hash, channel: 'email', source: 'crm', at })).toEqual({ recipient_hash, channel: 'email', source: 'crm', at });
  });

  it('pass the other events as recorded', () => {
    const published = {
      publication_id: randomUUID(),
      platform: 'facebook',
      attempt_id: 'a-1',
      post_id: 'fb_12345',
      post_url: 'https://www.facebook.com/1001/posts/12345',
      published_at: at,
    };
    expect(payload('PlatformPublished', published)).toEqual(published);
  });

  it('refuse data that does not parse', () => {
    expect(() => payload('PlatformPublished', { publication_id: 'nope' })).toThrow();
  });
});
