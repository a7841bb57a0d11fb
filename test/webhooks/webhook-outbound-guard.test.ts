import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../src/infrastructure/database/sql-client.js';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { OutboundAllowlist } from '../../src/infrastructure/http/outbound-allowlist.js';
import type { Resolve } from '../../src/infrastructure/http/outbound-guard.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { WebhookDeliveries, webhookDeliveryMigrations } from '../../src/webhooks/webhook-deliveries.js';
import { webhookFanout } from '../../src/webhooks/webhook-fanout.js';
import { WebhookSender } from '../../src/webhooks/webhook-sender.js';
import { WebhookSubscriptions, webhookSubscriptionMigrations } from '../../src/webhooks/webhook-subscriptions.js';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';
import { startReceiver } from './webhook-receiver.js';

const base = '/api/communication/webhooks';
const logger = createLogger('silent');

describe.each(testDatabases())('webhooks reach public receivers only, on $name', (database) => {
  describe('registration', () => {
    let t: RunningApp;
    beforeAll(async () => {
      // An empty allowlist, as in production without COMM_OUTBOUND_ALLOWLIST.
      t = await startTestApp(database, { worker: false, env: { COMM_OUTBOUND_ALLOWLIST: 'crm.office.lan' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it.each([
      ['http://127.0.0.1:8080/hooks', 'loopback'],
      ['http://localhost:8080/hooks', 'loopback'],
      ['http://[::1]/hooks', 'loopback'],
      ['http://169.254.169.254/latest/meta-data/iam/', 'link-local'],
      ['http://10.0.0.12/hooks', 'private'],
      ['http://[::ffff:192.168.1.1]/hooks', 'private'],
      ['http://100.100.100.200/hooks', 'carrier-grade NAT'],
      ['https://nowhere.invalid/hooks', 'does not resolve'],
    ])('refuses %s with 400 naming body.url and the reason (%s)', async (url, reason) => {
      const response = await t.call('POST', base, { body: { url, event_types: ['engagement'] } });
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'body.url', message: expect.stringContaining(reason) }] });
      expect(response.body.message).toContain(reason);
    });

    it('accepts a public address, and a host the allowlist names without resolving it', async () => {
      expect((await t.call('POST', base, { body: { url: 'https://93.184.216.34/hooks', event_types: ['engagement'] } })).status).toBe(201);
      expect((await t.call('POST', base, { body: { url: 'http://crm.office.lan:8080/hooks', event_types: ['engagement'] } })).status).toBe(201);
    });
  });

  describe('delivery', () => {
    let sql: SqlClient;
    let db: SharedDatabase;
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

    beforeAll(async () => {
      sql = await database.create();
      db = createKysely(sql);
      await migrateToLatest(db, { ...webhookSubscriptionMigrations, ...webhookDeliveryMigrations }, sql.schema);
    });
    afterAll(async () => {
      await db.destroy();
      await database.cleanup();
    });
    afterEach(async () => {
      await receiver?.close();
      await db.deleteFrom('webhook_deliveries').execute();
      await db.deleteFrom('webhook_subscriptions').execute();
    });

    /** A registration stored as it was when the check let it through (or before the check existed), and one event. */
    async function queued(url: string) {
      const subscription = await new WebhookSubscriptions(db).create({
        id: randomUUID(),
        url,
        event_types: ['publication_success'],
        description: null,
        secret: 'whsec_test-secret-0123456789',
      });
      const publicationId = randomUUID();
      const event: RecordedEvent = {
        id: randomUUID(),
        type: 'PlatformPublished',
        streamId: `publication-${publicationId}`,
        revision: 2,
        position: { commit: 1n, prepare: 1n },
        data: { publication_id: publicationId, platform: 'facebook', attempt_id: 'a-1', post_id: 'fb_1', post_url: null, published_at: new Date().toISOString() },
        metadata: {},
        createdAt: new Date(Date.now() + 500),
      };
      await webhookFanout(db, logger, { now: () => new Date(Date.now() + 1_000) }).handle(event);
      return subscription;
    }

    async function deliveryOf(subscriptionId: string) {
      const [delivery] = await new WebhookDeliveries(db).page(subscriptionId, { limit: 1 });
      return delivery;
    }

    const sender = (options: { allowlist?: OutboundAllowlist; resolve?: Resolve } = {}) =>
      new WebhookSender(db, logger, { now: () => new Date(Date.now() + 2_000), ...options });

    it('fails a delivery to a private receiver at once, recording why, and sends nothing', async () => {
      receiver = await startReceiver();
      const subscription = await queued(`${receiver.url}/hooks`);
      expect(await sender().runOnce()).toBe(1);
      const delivery = await deliveryOf(subscription.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1, last_status_code: null, next_attempt_at: null });
      expect(delivery?.last_error).toMatch(/^127\.0\.0\.1, a loopback address: .* \(refused: not retried\)$/);
      expect(receiver.received).toHaveLength(0);
    });

    it('fails a delivery whose host rebinds to loopback between the check and the connection', async () => {
      receiver = await startReceiver();
      const port = new URL(receiver.url).port;
      const subscription = await queued(`http://rebind.test:${port}/hooks`);
      const answers = ['93.184.216.34', '127.0.0.1'];
      const resolve: Resolve = async () => [{ address: answers.shift() ?? '127.0.0.1', family: 4 }];
      await sender({ resolve }).runOnce();
      const delivery = await deliveryOf(subscription.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
      expect(delivery?.last_error).toContain('rebind.test resolves to 127.0.0.1, a loopback address');
      expect(answers).toEqual([]);
      expect(receiver.received).toHaveLength(0);
    });

    it('retries a receiver whose name does not resolve (DNS may be down for a moment)', async () => {
      const subscription = await queued('https://receiver.invalid/hooks');
      await sender().runOnce();
      const delivery = await deliveryOf(subscription.id);
      expect(delivery).toMatchObject({ status: 'pending', attempts: 1, last_error: expect.stringContaining('receiver.invalid does not resolve') });
    });

    it('delivers to a private receiver the allowlist names', async () => {
      receiver = await startReceiver();
      const subscription = await queued(`${receiver.url}/hooks`);
      await sender({ allowlist: OutboundAllowlist.parse('127.0.0.0/8') }).runOnce();
      expect(await deliveryOf(subscription.id)).toMatchObject({ status: 'delivered', last_status_code: 200 });
      expect(receiver.received).toHaveLength(1);
    });
  });
});
