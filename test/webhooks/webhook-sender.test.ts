import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../src/infrastructure/database/sql-client.js';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { OutboundAllowlist } from '../../src/infrastructure/http/outbound-allowlist.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { WebhookDeliveries, webhookDeliveryMigrations, type WebhookDeliveryRow } from '../../src/webhooks/webhook-deliveries.js';
import { webhookFanout } from '../../src/webhooks/webhook-fanout.js';
import { WebhookSender, type WebhookSenderOptions } from '../../src/webhooks/webhook-sender.js';
import { verifyWebhookSignature } from '../../src/webhooks/webhook-signature.js';
import { WebhookSubscriptions, webhookSubscriptionMigrations, type WebhookEventType } from '../../src/webhooks/webhook-subscriptions.js';
import { testDatabases } from '../support/databases.js';
import { startReceiver, type Answer } from './webhook-receiver.js';

const logger = createLogger('silent');
const secret = 'whsec_test-secret-0123456789';
const hour = 3_600_000;
/** The receivers listen on 127.0.0.1, which the outbound guard refuses unless allowed. */
const allowlist = OutboundAllowlist.parse('127.0.0.1');

describe.each(testDatabases())('webhook sender on $name', (database) => {
  let sql: SqlClient;
  let db: SharedDatabase;
  let clock: Date;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const now = () => clock;

  beforeAll(async () => {
    sql = await database.create();
    db = createKysely(sql);
    await migrateToLatest(db, { ...webhookSubscriptionMigrations, ...webhookDeliveryMigrations }, sql.schema);
  });
  afterAll(async () => {
    await db.destroy();
    await database.cleanup();
  });
  beforeEach(async () => {
    clock = new Date(Date.now() + 1_000);
    // Each test starts with an empty queue: what an earlier test left pending would be claimed here.
    await db.deleteFrom('webhook_deliveries').execute();
    await db.deleteFrom('webhook_subscriptions').execute();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  async function subscribe(url: string, eventTypes: WebhookEventType[] = ['publication_success']) {
    return new WebhookSubscriptions(db).create({ id: randomUUID(), url, event_types: eventTypes, description: null, secret });
  }

  function published(): RecordedEvent {
    const publicationId = randomUUID();
    return {
      id: randomUUID(),
      type: 'PlatformPublished',
      streamId: `publication-${publicationId}`,
      revision: 2,
      position: { commit: 1n, prepare: 1n },
      data: { publication_id: publicationId, platform: 'facebook', attempt_id: 'a-1', post_id: 'fb_12345', post_url: null, published_at: new Date().toISOString() },
      metadata: {},
      // After the registration: a registration only receives events recorded after it.
      createdAt: new Date(Date.now() + 500),
    };
  }

  async function queue(event: RecordedEvent): Promise<void> {
    await webhookFanout(db, logger, { now }).handle(event);
  }

  async function deliveriesOf(subscriptionId: string): Promise<WebhookDeliveryRow[]> {
    return new WebhookDeliveries(db).page(subscriptionId, { limit: 100 });
  }

  function sender(options: WebhookSenderOptions = {}): WebhookSender {
    return new WebhookSender(db, logger, { now, random: () => 0.5, allowlist, ...options });
  }

  async function setUp(answer?: Answer) {
    receiver = await startReceiver(answer);
    const subscription = await subscribe(`${receiver.url}/hooks`);
    const event = published();
    await queue(event);
    return { subscription, event };
  }

  it('POSTs the payload with the headers, signed so that verifyWebhookSignature accepts it', async () => {
    const { subscription, event } = await setUp();
    expect(await sender().runOnce()).toBe(1);
    const [request] = receiver.received;
    const timestamp = request!.headers['x-webhook-timestamp'] as string;
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': expect.stringMatching(/^VieuxMoulin-Communication-Webhooks\//),
      'x-webhook-id': event.id,
      'x-webhook-event': 'publication_success',
      'x-webhook-signature': expect.stringMatching(/^v1=[0-9a-f]{64}$/),
    });
    expect(Number(timestamp)).toBe(Math.floor(clock.getTime() / 1000));
    expect(verifyWebhookSignature(secret, timestamp, request!.body, request!.headers['x-webhook-signature'] as string, { now: clock })).toBe(true);
    expect(verifyWebhookSignature('not-the-secret-at-all', timestamp, request!.body, request!.headers['x-webhook-signature'] as string, { now: clock })).toBe(false);
    expect(JSON.parse(request!.body)).toMatchObject({
      event_type: 'publication_success',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      data: { platform: 'facebook', post_id: 'fb_12345', engagement_metrics: { likes: 0, shares: 0, comments: 0 } },
    });
    const [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null });
    expect(delivery!.delivered_at).toEqual(clock);
  });

  it('retries after a 500 with backoff, then records the delivery', async () => {
    const { subscription } = await setUp((index, response) => response.writeHead(index === 0 ? 500 : 204).end(index === 0 ? 'database down' : undefined));
    const send = sender();
    await send.runOnce();
    let [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500, last_error: 'HTTP 500: database down' });
    expect(delivery!.next_attempt_at!.getTime() - clock.getTime()).toBe(30_000);
    expect(await send.runOnce()).toBe(0); // not due yet
    clock = new Date(clock.getTime() + 30_000);
    expect(await send.runOnce()).toBe(1);
    [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 204, last_error: null });
    expect(receiver.received.map((r) => r.headers['x-webhook-id'])).toEqual([delivery!.event_id, delivery!.event_id]);
  });

  it('gives up at once on 410 Gone', async () => {
    const { subscription } = await setUp((_, response) => response.writeHead(410).end());
    await sender().runOnce();
    const [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 410, next_attempt_at: null });
    expect(delivery!.last_error).toContain('410 Gone');
  });

  it('keeps retrying until 24 h after the first attempt, then marks the delivery failed', async () => {
    const { subscription } = await setUp((_, response) => response.writeHead(503).end());
    const send = sender();
    const first = clock;
    await send.runOnce();
    clock = new Date(first.getTime() + 24 * hour - 10_000);
    await send.runOnce();
    let [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 2 });
    // The next retry would fall after the deadline: it is made at the deadline instead.
    expect(delivery!.next_attempt_at).toEqual(new Date(first.getTime() + 24 * hour));
    clock = new Date(first.getTime() + 24 * hour);
    await send.runOnce();
    [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 3, last_status_code: 503, next_attempt_at: null });
    expect(delivery!.first_attempt_at).toEqual(first);
    expect(delivery!.last_error).toContain('retries exhausted');
  });

  it('does not follow redirects and retries timeouts and refused connections', async () => {
    const { subscription } = await setUp((index, response) => {
      if (index === 0) response.writeHead(301, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      // index 1: no answer (timeout)
    });
    const send = sender({ timeoutMs: 300 });
    await send.runOnce();
    let [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'pending', last_status_code: 301, last_error: 'HTTP 301: redirects are not followed' });
    expect(receiver.received).toHaveLength(1);
    clock = new Date(clock.getTime() + hour);
    await send.runOnce();
    [delivery] = await deliveriesOf(subscription.id);
    expect(delivery).toMatchObject({ status: 'pending', attempts: 2, last_status_code: null, last_error: 'no answer within 0.3 s' });

    const closed = await subscribe('http://127.0.0.1:1/nothing-listens-here');
    await queue(published());
    clock = new Date(clock.getTime() + 2 * hour);
    await send.runOnce();
    const [refused] = await deliveriesOf(closed.id);
    expect(refused).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(refused!.last_error).toMatch(/^request failed \(/);
  });

  it('queues one delivery per matching registration, and none more when the fan-out sees the event again', async () => {
    receiver = await startReceiver();
    const success = await subscribe(receiver.url, ['publication_success']);
    const engagement = await subscribe(receiver.url, ['engagement']);
    const event = published();
    let wakes = 0;
    const fanout = webhookFanout(db, logger, { now, onQueued: () => wakes++ });
    await fanout.handle(event);
    await fanout.handle(event);
    expect(wakes).toBe(1);
    expect(await deliveriesOf(success.id)).toHaveLength(1);
    expect(await deliveriesOf(engagement.id)).toHaveLength(0);
    await sender().runOnce();
    await queue(event);
    expect(await deliveriesOf(success.id)).toEqual([expect.objectContaining({ status: 'delivered', attempts: 1 })]);
    expect(receiver.received).toHaveLength(1);
  });

  it('does not send events recorded before the registration', async () => {
    receiver = await startReceiver();
    const event = { ...published(), createdAt: new Date(Date.now() - hour) };
    const subscription = await subscribe(receiver.url);
    await queue(event);
    expect(await deliveriesOf(subscription.id)).toHaveLength(0);
  });

  it('cancels the deliveries of a deleted registration', async () => {
    const { subscription } = await setUp();
    await new WebhookSubscriptions(db).delete(subscription.id, new Date());
    expect(await sender().runOnce()).toBe(1);
    expect(receiver.received).toHaveLength(0);
    expect(await deliveriesOf(subscription.id)).toEqual([expect.objectContaining({ status: 'canceled', attempts: 0 })]);
  });

  it('shares the queue between senders: each delivery is claimed once', async () => {
    receiver = await startReceiver();
    const subscription = await subscribe(receiver.url);
    for (let i = 0; i < 12; i++) await queue(published());
    const senders = [sender({ concurrency: 5 }), sender({ concurrency: 5 }), sender({ concurrency: 5 })];
    while ((await Promise.all(senders.map((s) => s.runOnce()))).some((n) => n > 0));
    expect(receiver.received).toHaveLength(12);
    expect(new Set(receiver.received.map((r) => r.headers['x-webhook-id'])).size).toBe(12);
    const rows = await deliveriesOf(subscription.id);
    expect(rows.every((r) => r.status === 'delivered' && r.attempts === 1)).toBe(true);
  });

  it('runs as a loop: start() sends what is queued, wake() skips the poll wait, stop() ends it', async () => {
    receiver = await startReceiver();
    const subscription = await subscribe(receiver.url);
    const loop = new WebhookSender(db, logger, { now, pollIntervalMs: 60_000, allowlist });
    await loop.start();
    await queue(published());
    loop.wake();
    await receiver.waitFor(1);
    await loop.stop();
    await expect.poll(async () => (await deliveriesOf(subscription.id))[0]?.status).toBe('delivered');
  });
});
