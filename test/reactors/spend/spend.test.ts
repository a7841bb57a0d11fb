import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { comparePositions, type EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import type { NotificationProvider } from '../../../src/platforms/notifications/provider.js';
import { createOvhProvider } from '../../../src/platforms/notifications/sms/ovh.js';
import { createTwilioProvider } from '../../../src/platforms/notifications/sms/twilio.js';
import { checkpointMigrations } from '../../../src/projections/checkpoints.js';
import { Reactor } from '../../../src/reactors/reactor.js';
import { pricingFromConfig } from '../../../src/reactors/spend/provider-pricing.js';
import { spendPriceLookupMigrations, SpendPriceLookups } from '../../../src/reactors/spend/spend-price-lookups.js';
import { SpendPricePoller } from '../../../src/reactors/spend/spend-price-poller.js';
import { spendRecorder } from '../../../src/reactors/spend/spend-recorder.js';
import { SpendRecords } from '../../../src/reactors/spend/spend-records.js';
import { startOvhDouble } from '../../doubles/ovh-double.js';
import { testDatabases } from '../../support/databases.js';
import { historyWriter } from '../../projections/analytics/analytics-history.js';

const logger = createLogger('silent');
const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const AT = '2026-12-01T18:00:00.000Z';

/** Twilio's Message resource: no price at first, then the one set with price(). */
async function startTwilioPrices() {
  const prices = new Map<string, { price: string | null; price_unit: string; num_segments: string }>();
  const server = createServer((req, res) => {
    const match = /\/Messages\/([^/]+)\.json$/.exec(req.url ?? '');
    const message = match ? prices.get(decodeURIComponent(match[1]!)) : undefined;
    res.writeHead(message ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message ? { sid: match![1], status: 'delivered', ...message } : { code: 20404, message: 'not found', status: 404 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: (sid: string) => prices.set(sid, { price: null, price_unit: 'USD', num_segments: '2' }),
    price: (sid: string, price: string) => prices.set(sid, { price, price_unit: 'USD', num_segments: '2' }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(testDatabases())('spend records on $name', (database) => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  // One database for the suite: each test's reactor resumes where the previous one stopped, on messages of its own.
  let store: EventStore;
  let db: ReturnType<typeof createKysely>;
  beforeAll(async () => {
    const sql = await database.create();
    store = await createPostgresEventStore(sql, { pollIntervalMs: 20 });
    db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...spendPriceLookupMigrations }, sql.schema);
  });
  afterAll(async () => {
    await store?.close();
    await database.cleanup();
  });

  const setup = async (providers: NotificationProvider[], notifications: Parameters<typeof pricingFromConfig>[0]) => {
    let now = new Date(AT);
    const clock = () => now;
    const pricing = pricingFromConfig(notifications);
    const lookups = new SpendPriceLookups(db);
    const records = new SpendRecords(store);
    const reporting = new Set(providers.filter((p) => p.lookUpPrice).map((p) => p.name));
    const reactor = new Reactor(store, db, spendRecorder({ store, records, lookups, pricing, reporting, now: clock, firstLookupDelayMs: 60_000 }), logger, { retryDelayMs: 20 });
    const poller = new SpendPricePoller(lookups, records, new Map(providers.map((p) => [p.name, p])), pricing, logger, { now: clock, retryDelaysMs: [60_000, 60_000] });
    await reactor.start();
    cleanups.push(() => reactor.stop());
    return {
      history: historyWriter(store),
      poller,
      advance: (ms: number) => (now = new Date(now.getTime() + ms)),
      caughtUp: async () => {
        const head = (await store.headPosition())!;
        const reached = () => reactor.state.checkpoint.position !== null && comparePositions(reactor.state.checkpoint.position, head) >= 0;
        for (let i = 0; i < 200 && !reached(); i++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        expect(reached()).toBe(true);
      },
    };
  };

  /** The spends recorded for these notifications. */
  const spends = async (...ids: string[]) =>
    (await store.readAll({ filter: { eventTypes: ['SpendRecorded'] } })).map((e) => e.data as Record<string, unknown>).filter((data) => ids.includes(data.notification_id as string));

  it('records the configured unit cost of providers that report no price, once per message', async () => {
    const s = await setup([], { email: { provider: 'sendgrid', from_email: 'r@levieuxmoulin.fr', from_name: 'Le Vieux Moulin', unit_cost: 0.0009 } });
    const campaign = randomUUID();
    const id = await s.history.notification({ campaign_id: campaign, at: AT }, ['sent', 'delivered']);
    const push = await s.history.notification({ channel: 'push', provider: 'fcm', at: AT }, ['sent']);
    await s.caughtUp();
    expect(await spends(id, push)).toEqual([
      {
        notification_id: id,
        campaign_id: campaign,
        channel: 'email',
        provider: 'sendgrid',
        provider_message_id: `msg-${id}`,
        amount: 0.0009,
        currency: 'EUR',
        source: 'configured',
        quantity: 1,
        unit: 'message',
        recorded_at: AT,
      },
    ]);
    // Sent again (a replayed event): still one record.
    const [sent] = (await store.readStream(`notification-${id}`)).filter((e) => e.type === 'NotificationSent');
    await s.history.append(`notification-${id}`, [{ type: 'NotificationSent', at: AT, data: sent!.data as Record<string, unknown> }]);
    await s.caughtUp();
    expect(await spends(id)).toHaveLength(1);
  });

  it("asks Twilio's Message resource for the price after the delivery report, and again while it has none", async () => {
    const twilio = await startTwilioPrices();
    cleanups.push(() => twilio.stop());
    const provider = createTwilioProvider({ provider: 'twilio', account_sid: ACCOUNT_SID, auth_token: 't', from_number: '+33600000000', base_url: twilio.url });
    const s = await setup([provider], { sms: { provider: 'twilio', from_number: '+33600000000', unit_cost: 0.07 } });
    const id = randomUUID();
    twilio.sent(`msg-${id}`);
    await s.history.notification({ id, channel: 'sms', provider: 'twilio', at: AT }, ['sent']);
    await s.caughtUp();
    expect(await s.poller.tick()).toBe(0); // not due yet: a minute after sending
    await s.history.append(`notification-${id}`, [{ type: 'NotificationDelivered', at: AT, data: { notification_id: id, provider_message_id: `msg-${id}`, delivered_at: AT } }]);
    await s.caughtUp();
    expect(await s.poller.tick()).toBe(0); // due now, but Twilio has no price yet
    s.advance(60_000);
    twilio.price(`msg-${id}`, '-0.01500');
    expect(await s.poller.tick()).toBe(1);
    expect(await spends(id)).toEqual([
      expect.objectContaining({ notification_id: id, provider: 'twilio', amount: 0.015, currency: 'USD', source: 'reported', quantity: 2, unit: 'segment' }),
    ]);
  });

  it('falls back to the configured cost when the provider never prices the message', async () => {
    const twilio = await startTwilioPrices();
    cleanups.push(() => twilio.stop());
    const provider = createTwilioProvider({ provider: 'twilio', account_sid: ACCOUNT_SID, auth_token: 't', from_number: '+33600000000', base_url: twilio.url });
    const s = await setup([provider], { sms: { provider: 'twilio', from_number: '+33600000000', unit_cost: 0.07 } });
    const id = randomUUID();
    twilio.sent(`msg-${id}`);
    await s.history.notification({ id, channel: 'sms', provider: 'twilio', at: AT }, ['sent', 'delivered']);
    await s.caughtUp();
    for (let round = 0; round < 3; round++) {
      expect(await s.poller.tick()).toBe(round === 2 ? 1 : 0);
      s.advance(60_000);
    }
    expect(await spends(id)).toEqual([expect.objectContaining({ notification_id: id, amount: 0.07, currency: 'EUR', source: 'configured' })]);
  });

  it("prices OVH's credits with the configured cost of a credit", async () => {
    const credentials = { applicationKey: 'ak', applicationSecret: 'as', consumerKey: 'ck', serviceName: 'sms-ab12345-1' };
    const ovh = await startOvhDouble(credentials);
    cleanups.push(() => ovh.stop());
    const provider = createOvhProvider({
      provider: 'ovh',
      application_key: 'ak',
      application_secret: 'as',
      consumer_key: 'ck',
      service_name: credentials.serviceName,
      sender: 'VieuxMoulin',
      base_url: ovh.url,
    });
    const { providerMessageId } = await provider.send({ notificationId: randomUUID(), channel: 'sms', recipient: '+33612345678', sms: 'x'.repeat(200), kind: 'transactional' });
    const s = await setup([provider], { sms: { provider: 'ovh', from_number: 'VieuxMoulin', unit_cost: 0.045 } });
    const id = randomUUID();
    await s.history.append(`notification-${id}`, [
      {
        type: 'NotificationRequested',
        at: AT,
        data: { notification_id: id, template_id: 't', recipient: '+33612345678', channel: 'sms', data: {}, campaign_id: null, requested_at: AT },
      },
      { type: 'NotificationSent', at: AT, data: { notification_id: id, provider: 'ovh', provider_message_id: providerMessageId, sent_at: AT } },
      { type: 'NotificationDelivered', at: AT, data: { notification_id: id, provider_message_id: providerMessageId, delivered_at: AT } },
    ]);
    await s.caughtUp();
    expect(await s.poller.tick()).toBe(1);
    expect(await spends(id)).toEqual([expect.objectContaining({ provider: 'ovh', amount: 0.09, currency: 'EUR', source: 'reported', quantity: 2, unit: 'credit' })]);
  });
});
