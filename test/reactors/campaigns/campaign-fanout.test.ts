import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStreamId } from '../../../src/commands/campaign-routes.js';
import { PublicationPublisher } from '../../../src/commands/publication-publisher.js';
import { PublicationSlotBooker } from '../../../src/commands/publication-slot-booker.js';
import type { EventStore, RecordedEvent, StreamAppend } from '../../../src/infrastructure/event-store/event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { AudienceWriter } from '../../../src/projections/audience/audience-writer.js';
import { campaignFanout } from '../../../src/reactors/campaigns/campaign-fanout.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const HOUR = 3_600_000;
const MEMBERS = 3_000;
const PAGE = 500;

/**
 * The fan-out of a campaign's e-mail channel, driven directly: the audience is read and requested page by page (one
 * appendMany per page), a replay requests nothing twice, and a campaign canceled mid-way stops at the next page.
 */
describe.each(testDatabases())('campaign fan-out on $name', (database) => {
  let t: RunningApp;
  const segment = `seg-${randomUUID()}`;

  beforeAll(async () => {
    // No worker: nothing sends, so every request stays as the fan-out wrote it.
    t = await startTestApp(database, { worker: false, templates: { promo: { subject: 'Offre', body_html: '<p>Bonjour {{customer.first_name}}</p>' } } });
    const writer = new AudienceWriter(t.app.db);
    const at = new Date().toISOString();
    const ids: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const customer_id = randomUUID();
      ids.push(customer_id);
      await writer.upsertCustomer({ id: randomUUID(), type: 'CustomerCreated', occurred_at: at }, { customer_id, email: `client${i}@example.fr`, phone: null, first_name: `Client ${i}`, last_name: null, language: 'fr' });
    }
    await writer.changeSegment({ id: randomUUID(), type: 'SegmentMembershipChanged' }, { segment_id: segment, segment_name: 'Test', added: ids, removed: [], at });
  }, 120_000);
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  /** The store, counting appendMany calls and their sizes; `afterAppendMany` runs after each. */
  const countingStore = (afterAppendMany: () => Promise<void> = async () => undefined) => {
    const calls: number[] = [];
    const store = t.app.store;
    const wrapped: EventStore = Object.assign(Object.create(store) as EventStore, {
      appendMany: async (appends: StreamAppend[]) => {
        calls.push(appends.length);
        const results = await store.appendMany(appends);
        await afterAppendMany();
        return results;
      },
    });
    for (const method of ['append', 'readStream', 'readAll', 'subscribe', 'headPosition', 'ping', 'close'] as const) {
      (wrapped as unknown as Record<string, unknown>)[method] = (store[method] as (...args: unknown[]) => unknown).bind(store);
    }
    return { store: wrapped, calls };
  };

  const fanoutWith = (store: EventStore) =>
    campaignFanout({
      store,
      db: t.app.db,
      templates: t.app.templates,
      publisher: new PublicationPublisher(store, new PublicationSlotBooker(t.app.db, {}), createLogger('silent')),
      positions: t.app.positions,
      logger: createLogger('silent'),
      pageSize: PAGE,
    });

  const launchedCampaign = async (): Promise<{ id: string; activated: RecordedEvent }> => {
    const created = await t.call('POST', '/api/communication/campaigns', {
      body: {
        name: 'Fan-out',
        start_date: new Date(Date.now() - HOUR).toISOString(),
        end_date: new Date(Date.now() + 24 * HOUR).toISOString(),
        target_audience: { segment },
        channels: [{ type: 'email', content_template: 'promo' }],
      },
    });
    const id = created.body.campaign_id as string;
    const launched = await t.call('POST', `/api/communication/campaigns/${id}/launch`, { body: {} });
    expect(launched.status).toBe(200);
    const activated = (await t.app.store.readStream(campaignStreamId(id))).find((e) => e.type === 'CampaignActivated')!;
    return { id, activated };
  };

  /**
   * The campaign's requests once there are `count` of them (global reads on PostgreSQL wait for every transaction older
   * than theirs, on the whole server), then a moment more to be sure no more come.
   */
  const requestsOf = async (campaignId: string, count: number) => {
    const read = async () =>
      (await t.app.store.readAll({ filter: { categories: ['notification'], eventTypes: ['NotificationRequested'] } })).filter(
        (e) => (e.data as { campaign_id: string }).campaign_id === campaignId,
      );
    const deadline = Date.now() + 20_000;
    while ((await read()).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 300));
    return read();
  };

  it('requests one notification per member, a page per store call, and nothing more when handled again', async () => {
    const { id, activated } = await launchedCampaign();
    const { store, calls } = countingStore();
    const started = performance.now();
    await fanoutWith(store).handle(activated);
    const seconds = (performance.now() - started) / 1_000;
    expect(calls).toEqual(Array.from({ length: MEMBERS / PAGE }, () => PAGE));
    const requests = await requestsOf(id, MEMBERS);
    expect(requests).toHaveLength(MEMBERS);
    expect(new Set(requests.map((e) => (e.data as { recipient: string }).recipient)).size).toBe(MEMBERS);
    const first = requests[0]!.data as { template_id: string; template_version: number; data: { customer: { first_name: string } } };
    expect(first).toMatchObject({ template_id: 'promo', template_version: 0 });
    expect(first.data.customer.first_name).toMatch(/^Client \d+$/);
    expect(requests[0]!.metadata).toMatchObject({ causation_id: activated.id, actor: 'campaign-fanout' });
    expect(seconds).toBeLessThan(60);

    await fanoutWith(t.app.store).handle(activated);
    expect(await requestsOf(id, MEMBERS)).toHaveLength(MEMBERS);
  }, 120_000);

  it('stops at the next page once the campaign is canceled', async () => {
    const { id, activated } = await launchedCampaign();
    // The first page appended cancels the campaign; every append waits for the cancellation to be recorded.
    let cancellation: Promise<void> | null = null;
    const { store, calls } = countingStore(async () => {
      cancellation ??= t.call('POST', `/api/communication/campaigns/${id}/cancel`, { body: { reason: 'erreur de prix' } }).then((response) => {
        expect(response.status).toBe(200);
      });
      await cancellation;
    });
    await fanoutWith(store).handle(activated);
    // The page appended alongside the first one (two at a time) may finish; no page is read after the cancellation.
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(await requestsOf(id, calls.length * PAGE)).toHaveLength(calls.length * PAGE);
  }, 120_000);
});
