import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '../../src/webhooks/webhook-signature.js';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';
import { startReceiver } from './webhook-receiver.js';

describe.each(testDatabases())('outbound webhooks end to end on $name', (database) => {
  let t: RunningApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t.close();
    await receiver.close();
    await database.cleanup();
  });

  it('POSTs publication and engagement events recorded in the store to the registered receiver, signed', async () => {
    const registered = await t.call('POST', '/api/communication/webhooks', {
      body: { url: `${receiver.url}/le-vieux-moulin`, event_types: ['publication_success', 'publication_failure', 'engagement'] },
    });
    expect(registered.status).toBe(201);
    const { id: webhookId, secret } = registered.body as { id: string; secret: string };

    const publicationId = randomUUID();
    const now = new Date().toISOString();
    const event = (type: string, data: Record<string, unknown>) => ({ id: randomUUID(), type, data, metadata: { timestamp: now, schema_version: 1 } });
    const published = event('PlatformPublished', {
      publication_id: publicationId,
      platform: 'facebook',
      attempt_id: 'attempt-1',
      post_id: 'fb_12345',
      post_url: 'https://www.facebook.com/levieuxmoulin/posts/fb_12345',
      published_at: now,
    });
    const failure = { publication_id: publicationId, platform: 'instagram', attempt_id: 'attempt-2', attempt: 1, error_class: 'transient', message: 'timeout', retryable: true, failed_at: now };
    const retried = event('PlatformPublishFailed', { ...failure, will_retry: true, next_attempt_at: now });
    const failedForGood = event('PlatformPublishFailed', { ...failure, attempt_id: 'attempt-3', attempt: 5, will_retry: false, next_attempt_at: null });
    await t.app.store.append(`publication-${publicationId}`, [published, retried, failedForGood], { expectedRevision: 'any' });
    const measured = event('EngagementMeasured', {
      publication_id: publicationId,
      platform: 'facebook',
      post_id: 'fb_12345',
      metrics: { likes: 7, shares: 1, comments: 2, reach: 300, clicks: 5, impressions: 450 },
      measured_at: now,
      source: 'insights',
    });
    await t.app.store.append(`engagement-${publicationId}`, [measured], { expectedRevision: 'any' });

    const received = await receiver.waitFor(3);
    const byId = new Map(received.map((r) => [r.headers['x-webhook-id'], r]));
    expect([...byId.keys()].sort()).toEqual([published.id, failedForGood.id, measured.id].sort());
    for (const request of received) {
      const timestamp = request.headers['x-webhook-timestamp'] as string;
      expect(verifyWebhookSignature(secret, timestamp, request.body, request.headers['x-webhook-signature'] as string)).toBe(true);
    }
    expect(byId.get(published.id)!.headers['x-webhook-event']).toBe('publication_success');
    expect(JSON.parse(byId.get(published.id)!.body)).toMatchObject({
      event_type: 'publication_success',
      data: { publication_id: publicationId, platform: 'facebook', post_id: 'fb_12345', engagement_metrics: { likes: 0, shares: 0, comments: 0 } },
    });
    expect(JSON.parse(byId.get(failedForGood.id)!.body)).toMatchObject({ event_type: 'publication_failure', data: { platform: 'instagram', error_class: 'transient' } });
    expect(JSON.parse(byId.get(measured.id)!.body)).toMatchObject({ event_type: 'engagement', data: { engagement_metrics: { likes: 7, reach: 300 } } });

    await expect
      .poll(async () => (await t.call('GET', `/api/communication/webhooks/${webhookId}/deliveries?status=delivered`)).body.deliveries.length)
      .toBe(3);
    const log = await t.call('GET', `/api/communication/webhooks/${webhookId}/deliveries`);
    expect(log.body.deliveries).toHaveLength(3);
    expect(log.body.deliveries[0]).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });
  });
});
