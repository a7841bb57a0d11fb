import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { webhookMessageFor } from '../../src/webhooks/webhook-payloads.js';

const publicationId = randomUUID();

function recorded(type: string, data: unknown): RecordedEvent {
  return {
    id: randomUUID(),
    type,
    streamId: `publication-${publicationId}`,
    revision: 1,
    position: { commit: 1n, prepare: 1n },
    data,
    metadata: { timestamp: '2025-04-12T15:30:45.123Z' },
    createdAt: new Date('2025-04-12T15:30:46Z'),
  };
}

const failed = {
  publication_id: publicationId,
  platform: 'instagram',
  attempt_id: 'a-1',
  attempt: 5,
  error_class: 'permanent',
  message: 'media rejected',
  retryable: false,
  will_retry: false,
  next_attempt_at: null,
  failed_at: '2025-04-12T15:30:45.000Z',
};

describe('webhook payloads', () => {
  it('turns PlatformPublished into publication_success in the spec shape', () => {
    const message = webhookMessageFor(
      recorded('PlatformPublished', {
        publication_id: publicationId,
        platform: 'facebook',
        attempt_id: 'a-1',
        post_id: 'fb_12345',
        post_url: 'https://facebook.com/fb_12345',
        published_at: '2025-04-12T15:30:45.000Z',
      }),
    );
    expect(message).toEqual({
      event_type: 'publication_success',
      timestamp: '2025-04-12T15:30:45Z',
      data: {
        publication_id: publicationId,
        platform: 'facebook',
        post_id: 'fb_12345',
        post_url: 'https://facebook.com/fb_12345',
        published_at: '2025-04-12T15:30:45.000Z',
        engagement_metrics: { likes: 0, shares: 0, comments: 0 },
      },
    });
  });

  it('turns a final PlatformPublishFailed into publication_failure and ignores one that will be retried', () => {
    expect(webhookMessageFor(recorded('PlatformPublishFailed', failed))).toEqual({
      event_type: 'publication_failure',
      timestamp: '2025-04-12T15:30:45Z',
      data: { publication_id: publicationId, platform: 'instagram', error_class: 'permanent', message: 'media rejected', failed_at: '2025-04-12T15:30:45.000Z' },
    });
    expect(webhookMessageFor(recorded('PlatformPublishFailed', { ...failed, will_retry: true, retryable: true, next_attempt_at: '2025-04-12T15:31:45.000Z' }))).toBeNull();
  });

  it('turns EngagementMeasured into engagement with the metrics as measured', () => {
    const metrics = { likes: 12, shares: 3, comments: 4, reach: 800, clicks: null, impressions: 1200 };
    const message = webhookMessageFor(
      recorded('EngagementMeasured', { publication_id: publicationId, platform: 'facebook', post_id: 'fb_12345', metrics, measured_at: '2025-04-13T08:00:00.000Z', source: 'insights' }),
    );
    expect(message).toMatchObject({
      event_type: 'engagement',
      data: { publication_id: publicationId, platform: 'facebook', post_id: 'fb_12345', engagement_metrics: metrics, measured_at: '2025-04-13T08:00:00.000Z' },
    });
  });

  it('turns the performance alerts into campaign.threshold_reached and campaign.underperforming', () => {
    const campaign_id = randomUUID();
    const alert = { campaign_id, metric: 'open_rate', operator: '>=', threshold: 0.25, value: 0.31, sample_size: 120, min_sample: 50, evaluated_at: '2025-04-12T15:30:45.000Z' };
    const data = { campaign_id, metric: 'open_rate', operator: '>=', threshold: 0.25, value: 0.31, sample_size: 120, evaluated_at: '2025-04-12T15:30:45.000Z' };
    expect(webhookMessageFor(recorded('CampaignThresholdReached', alert))).toEqual({ event_type: 'campaign.threshold_reached', timestamp: '2025-04-12T15:30:45Z', data });
    expect(webhookMessageFor(recorded('CampaignUnderperforming', { ...alert, value: 0.12 }))).toEqual({
      event_type: 'campaign.underperforming',
      timestamp: '2025-04-12T15:30:45Z',
      data: { ...data, value: 0.12 },
    });
    expect(webhookMessageFor(recorded('CampaignBudgetConsumed', { campaign_id, threshold: 0.8 }))).toBeNull();
  });

  it('throws on data that does not parse, so that the fan-out can log and skip it', () => {
    expect(() => webhookMessageFor(recorded('PlatformPublished', { publication_id: publicationId }))).toThrow();
  });
});
