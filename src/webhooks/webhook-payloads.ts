import { z } from 'zod';
import { CampaignThresholdReached, CampaignUnderperforming } from '../domain/campaign-performance.js';
import { PlatformAuthorizationFailed, PlatformConnectionNeedsReconnect, PlatformTokenExpiring } from '../domain/platform-connection.js';
import { PlatformPublished, PlatformPublishFailed } from '../domain/publication-events.js';
import { occurredAt, type RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { WebhookEventType } from './webhook-subscriptions.js';

/**
 * What a receiver gets, in the spec's shape {event_type, timestamp, data}. This is a public contract: add fields,
 * never rename or remove one.
 */
export interface WebhookMessage {
  event_type: WebhookEventType;
  /** When the event was recorded, UTC, to the second. */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The store events that may become webhooks. */
export const webhookSourceEventTypes = [
  'PlatformPublished',
  'PlatformPublishFailed',
  'EngagementMeasured',
  'PlatformConnectionNeedsReconnect',
  'PlatformAuthorizationFailed',
  'PlatformTokenExpiring',
  'CampaignThresholdReached',
  'CampaignUnderperforming',
];

/** Only the fields a webhook passes on; metrics are passed through as measured. */
const engagementMeasuredSchema = z.object({
  publication_id: z.string(),
  platform: z.string(),
  post_id: z.string(),
  metrics: z.record(z.string(), z.number().nullable()),
  measured_at: z.string(),
});

/** The message for an event, or null when the event is not one receivers hear about (a failure that will be retried). */
export function webhookMessageFor(event: RecordedEvent): WebhookMessage | null {
  const timestamp = recordedAt(event);
  switch (event.type) {
    case 'PlatformPublished': {
      const data = PlatformPublished.schema.parse(event.data);
      return {
        event_type: 'publication_success',
        timestamp,
        data: {
          publication_id: data.publication_id,
          platform: data.platform,
          post_id: data.post_id,
          post_url: data.post_url,
          published_at: data.published_at,
          // Just published: nothing measured yet. Later figures come as engagement webhooks.
          engagement_metrics: { likes: 0, shares: 0, comments: 0 },
        },
      };
    }
    case 'PlatformPublishFailed': {
      const data = PlatformPublishFailed.schema.parse(event.data);
      if (data.will_retry) return null;
      return {
        event_type: 'publication_failure',
        timestamp,
        data: { publication_id: data.publication_id, platform: data.platform, error_class: data.error_class, message: data.message, failed_at: data.failed_at },
      };
    }
    case 'EngagementMeasured': {
      const data = engagementMeasuredSchema.parse(event.data);
      return {
        event_type: 'engagement',
        timestamp,
        data: { publication_id: data.publication_id, platform: data.platform, post_id: data.post_id, engagement_metrics: data.metrics, measured_at: data.measured_at },
      };
    }
    // A connection someone must reconnect: the refresh token was refused or expired, or a platform refused our token.
    case 'PlatformConnectionNeedsReconnect': {
      const data = PlatformConnectionNeedsReconnect.schema.parse(event.data);
      return {
        event_type: 'connection_needs_reconnect',
        timestamp,
        data: { platform: data.platform, account: data.account, reason: data.reason, message: data.message, detected_at: data.detected_at },
      };
    }
    case 'PlatformAuthorizationFailed': {
      const data = PlatformAuthorizationFailed.schema.parse(event.data);
      return {
        event_type: 'connection_needs_reconnect',
        timestamp,
        data: { platform: data.platform, account: data.account, reason: 'token_refused', message: data.message, detected_at: data.detected_at },
      };
    }
    case 'PlatformTokenExpiring': {
      const data = PlatformTokenExpiring.schema.parse(event.data);
      return {
        event_type: 'connection_expiring',
        timestamp,
        data: { platform: data.platform, account: data.account, expires_at: data.expires_at, days_left: data.days_left, warned_at: data.warned_at },
      };
    }
    // The spec's performance alerts: a campaign crossed one of its success_metrics targets, one way or the other.
    case 'CampaignThresholdReached':
    case 'CampaignUnderperforming': {
      const data = (event.type === 'CampaignThresholdReached' ? CampaignThresholdReached : CampaignUnderperforming).schema.parse(event.data);
      return {
        event_type: event.type === 'CampaignThresholdReached' ? 'campaign.threshold_reached' : 'campaign.underperforming',
        timestamp,
        data: {
          campaign_id: data.campaign_id,
          metric: data.metric,
          operator: data.operator,
          threshold: data.threshold,
          value: data.value,
          sample_size: data.sample_size,
          evaluated_at: data.evaluated_at,
        },
      };
    }
    default:
      return null;
  }
}

/** The command's clock (metadata.timestamp) when it is there, else the store's. */
function recordedAt(event: RecordedEvent): string {
  return `${occurredAt(event).toISOString().slice(0, 19)}Z`;
}
