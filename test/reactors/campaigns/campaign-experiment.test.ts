import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignStreamId } from '../../../src/commands/campaign-routes.js';
import { PublicationPublisher } from '../../../src/commands/publication-publisher.js';
import { PublicationSlotBooker } from '../../../src/commands/publication-slot-booker.js';
import { experimentStreamId } from '../../../src/domain/campaign-experiment-decider.js';
import { CampaignVariantWinnerChosen, experimentBucket } from '../../../src/domain/campaign-experiment.js';
import { comparePositions, parsePosition, type Position, type RecordedEvent } from '../../../src/infrastructure/event-store/event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { AudienceWriter } from '../../../src/projections/audience/audience-writer.js';
import { experimentsProjection } from '../../../src/projections/campaigns/experiments-projection.js';
import type { ExperimentsTables } from '../../../src/projections/campaigns/experiments-tables.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { campaignFanout } from '../../../src/reactors/campaigns/campaign-fanout.js';
import { CampaignFanoutProgress } from '../../../src/reactors/campaigns/campaign-fanout-progress.js';
import { CampaignClock } from '../../../src/reactors/campaigns/campaign-clock.js';
import { ExperimentJudge } from '../../../src/reactors/campaigns/experiment-judge.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const HOUR = 3_600_000;
const MEMBERS = 300;
const logger = createLogger('silent');

interface Requested {
  notification_id: string;
  recipient: string;
  template_id: string;
  variant_id?: string;
  campaign_id: string;
}

/**
 * An e-mail channel's A/B test from launch to the rest of the audience: the test share gets the variants (split by
 * the customer's hash), interactions count per variant, the judge records the winner after the window with the
 * figures, and the fan-out sends the winner to the rest; a campaign canceled first sends no rest.
 */
describe.each(testDatabases())('campaign A/B/n experiment on $name', (database) => {
  let t: RunningApp;
  const segment = `seg-${randomUUID()}`;
  const customerOf = new Map<string, string>(); // address → CRM customer id

  beforeAll(async () => {
    // No worker: nothing sends, so the test says what happened to each message.
    t = await startTestApp(database, {
      worker: false,
      templates: {
        promo: { subject: 'Offre', body_html: '<p>Bonjour {{customer.first_name}}</p>' },
        promo_b: { subject: 'Une pizza offerte', body_html: '<p>Bonjour {{customer.first_name}}</p>' },
      },
    });
    const writer = new AudienceWriter(t.app.db);
    const at = new Date().toISOString();
    const ids: string[] = [];
    for (let i = 0; i < MEMBERS; i++) {
      const customer_id = randomUUID();
      ids.push(customer_id);
      customerOf.set(`client${i}@example.fr`, customer_id);
      await writer.upsertCustomer({ id: randomUUID(), type: 'CustomerCreated', occurred_at: at }, { customer_id, email: `client${i}@example.fr`, phone: null, first_name: `Client ${i}`, last_name: null, language: 'fr' });
    }
    await writer.changeSegment({ id: randomUUID(), type: 'SegmentMembershipChanged' }, { segment_id: segment, segment_name: 'Test', added: ids, removed: [], at });
  }, 120_000);
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  /** The members in a campaign's test share of 0.3, by the hash the fan-out places them with: [address, bucket]. */
  const testShare = (campaignId: string) =>
    [...customerOf].flatMap(([address, customer]) => {
      const bucket = experimentBucket(campaignId, 0, customer);
      return bucket < 0.3 ? [[address, bucket] as const] : [];
    });

  const fanout = () =>
    campaignFanout({
      store: t.app.store,
      db: t.app.db,
      templates: t.app.templates,
      publisher: new PublicationPublisher(t.app.store, new PublicationSlotBooker(t.app.db, {}), logger),
      positions: t.app.positions,
      logger,
      pageSize: 100,
    });

  const experiment = (changes: Record<string, unknown> = {}) => ({
    variants: [{ id: 'A' }, { id: 'B', template_id: 'promo_b' }],
    test_share: 0.3,
    metric: 'open_rate',
    test_window_hours: 2,
    min_sample: 5,
    ...changes,
  });

  const create = async (config: Record<string, unknown>) => {
    const created = await t.call('POST', '/api/communication/campaigns', {
      body: {
        name: 'Test A/B',
        start_date: new Date(Date.now() - HOUR).toISOString(),
        end_date: new Date(Date.now() + 24 * HOUR).toISOString(),
        target_audience: { segment },
        channels: [{ type: 'email', content_template: 'promo', config }],
      },
    });
    expect(created.status).toBe(201);
    wrote(created.body.position, 'campaigns');
    return created.body.campaign_id as string;
  };

  const launched = async (config: Record<string, unknown> = { experiment: experiment() }) => {
    const id = await create(config);
    const launch = await t.call('POST', `/api/communication/campaigns/${id}/launch`, { body: {} });
    expect(launch.status).toBe(200);
    wrote(launch.body.position, 'campaigns', 'experiments');
    const activated = (await t.app.store.readStream(campaignStreamId(id))).find((e) => e.type === 'CampaignActivated')!;
    return { id, activated };
  };

  /** The campaign's requests once there are `count` of them, then a moment more to be sure no more come. */
  const requestsOf = async (campaignId: string, count: number) => {
    const read = async () =>
      (await t.app.store.readAll({ filter: { categories: ['notification'], eventTypes: ['NotificationRequested'] } }))
        .map((e) => e.data as Requested)
        .filter((r) => r.campaign_id === campaignId);
    const deadline = Date.now() + 20_000;
    while ((await read()).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await new Promise((resolve) => setTimeout(resolve, 200));
    return read();
  };

  /**
   * The last write each read model the judge and the route read follows: a checkpoint moves only with the events its
   * projection follows, and on PostgreSQL a global read may not show the newest events yet (other suites' open
   * transactions on the server hold readers back), so the test keeps the positions its writes returned.
   */
  const written: Record<'campaigns' | 'experiments', Position | null> = { campaigns: null, experiments: null };
  const wrote = (position: Position | string | null, ...models: (keyof typeof written)[]) => {
    const at = typeof position === 'string' ? parsePosition(position) : position;
    if (!at) return;
    for (const model of models) if (!written[model] || comparePositions(at, written[model]) > 0) written[model] = at;
  };
  const caughtUp = async () => {
    if (written.campaigns) expect(await t.app.positions.waitFor('campaigns', written.campaigns, 10_000)).toBe(true);
    if (written.experiments) expect(await t.app.positions.waitFor(experimentsProjection.name, written.experiments, 10_000)).toBe(true);
  };
  const fanOut = async (campaignId: string, event: RecordedEvent) => {
    await fanout().handle(event);
    wrote(await new CampaignFanoutProgress(t.app.db).lastPosition(campaignId), 'experiments');
  };

  /** Sent and delivered, then opened by the first `opened` of them. */
  const deliver = async (requests: Requested[], opened: number) => {
    const at = new Date().toISOString();
    for (const [index, { notification_id }] of requests.entries()) {
      const provider_message_id = `msg-${notification_id}`;
      const events = [
        { type: 'NotificationSent', data: { notification_id, provider: 'sendgrid', provider_message_id, sent_at: at } },
        { type: 'NotificationDelivered', data: { notification_id, provider_message_id, delivered_at: at } },
        ...(index < opened
          ? [
              { type: 'NotificationOpened', data: { notification_id, provider_message_id, opened_at: at, first_open: true } },
              { type: 'NotificationOpened', data: { notification_id, provider_message_id, opened_at: at, first_open: false } },
            ]
          : []),
      ];
      const { position } = await t.app.store.append(`notification-${notification_id}`, events.map((e) => ({ id: randomUUID(), ...e, metadata: { schema_version: 1, timestamp: at } })), { expectedRevision: 'any' });
      wrote(position, 'experiments');
    }
  };

  const experimentsOf = async (id: string) => {
    await caughtUp();
    const response = await t.call('GET', `/api/communication/campaigns/${id}/experiments`);
    expect(response.status).toBe(200);
    return response.body;
  };

  it('sends the variants to the test share, chooses the winner after the window, and sends it to the rest', async () => {
    const { id, activated } = await launched();
    await fanOut(id, activated);

    const expected = testShare(id).map(([address, bucket]) => [address, bucket < 0.15 ? 'A' : 'B']);
    const test = await requestsOf(id, expected.length);
    expect(test.map((r) => [r.recipient, r.variant_id]).sort()).toEqual(expected.sort());
    expect(test.length).toBeGreaterThan(MEMBERS * 0.15);
    expect(test.length).toBeLessThan(MEMBERS * 0.45);
    for (const request of test) expect(request.template_id).toBe(request.variant_id === 'A' ? 'promo' : 'promo_b');

    const a = test.filter((r) => r.variant_id === 'A');
    const b = test.filter((r) => r.variant_id === 'B');
    await deliver(a, Math.floor(a.length / 5));
    await deliver(b, Math.floor((b.length * 3) / 5));

    const testing = await experimentsOf(id);
    expect(testing).toMatchObject({ campaign_id: id, campaign_status: 'active' });
    const [live] = testing.experiments;
    expect(live).toMatchObject({ channel_index: 0, channel: 'email', metric: 'open_rate', status: 'testing', rate_base: 'delivered', winner: null, leader: { variant_id: 'B', reason: 'highest_rate' } });
    expect(live.test_started_at).toBe(new Date((activated.data as { activated_at: string }).activated_at).toISOString());
    expect(live.variants.map((v: { variant_id: string; test: { requested: number; delivered: number; unique_opens: number } }) => [v.variant_id, v.test.requested, v.test.delivered, v.test.unique_opens])).toEqual([
      ['A', a.length, a.length, Math.floor(a.length / 5)],
      ['B', b.length, b.length, Math.floor((b.length * 3) / 5)],
    ]);

    const judge = new ExperimentJudge(t.app.store, t.app.db, logger);
    expect(await judge.tick(new Date())).toBe(0); // the window is still open
    // The campaign clock runs the judge each round (nothing else of this suite is due then).
    const clock = new CampaignClock(t.app.store, t.app.db, logger, 60_000);
    expect(await clock.tick(new Date(Date.now() + 3 * HOUR))).toBe(1);
    expect(await judge.tick(new Date(Date.now() + 3 * HOUR))).toBe(0);
    const decisions = await t.app.store.readStream(experimentStreamId(id));
    expect(decisions.map((e) => e.type)).toEqual(['CampaignVariantWinnerChosen']);
    wrote(decisions[0]!.position, 'experiments');
    expect(decisions[0]!.data).toMatchObject({
      campaign_id: id,
      winner_variant_id: 'B',
      reason: 'highest_rate',
      variants: [
        { variant_id: 'A', template_id: 'promo', requested: a.length, delivered: a.length, unique_opens: Math.floor(a.length / 5) },
        { variant_id: 'B', template_id: 'promo_b', requested: b.length, delivered: b.length, unique_opens: Math.floor((b.length * 3) / 5) },
      ],
    });

    const decided = (await experimentsOf(id)).experiments[0];
    expect(decided).toMatchObject({ status: 'decided', leader: null, winner: { winner_variant_id: 'B', reason: 'highest_rate', rate_base: 'delivered' } });
    expect(decided.winner.explanation).toMatch(/^B has the highest open_rate/);

    await fanOut(id, decisions[0]!);
    await fanOut(id, decisions[0]!); // a replay requests nothing twice
    const all = await requestsOf(id, MEMBERS);
    expect(all).toHaveLength(MEMBERS);
    expect(new Set(all.map((r) => r.recipient)).size).toBe(MEMBERS);
    const rest = all.filter((r) => !test.some((s) => s.notification_id === r.notification_id));
    expect(rest.length).toBe(MEMBERS - test.length);
    for (const request of rest) expect(request).toMatchObject({ variant_id: 'B', template_id: 'promo_b' });

    const after = (await experimentsOf(id)).experiments[0];
    expect(after.variants[0].rest).toBeNull();
    expect(after.variants[1].rest).toMatchObject({ requested: rest.length, sent: 0 });
    expect(after.variants[1].test.requested).toBe(b.length);
  }, 120_000);

  it('sends no rest, and chooses no winner, once the campaign is canceled', async () => {
    const { id, activated } = await launched({ experiment: experiment({ variants: [{ id: 'X' }, { id: 'Y', data: { promo: 'pizza' } }] }) });
    await fanOut(id, activated);
    const test = await requestsOf(id, testShare(id).length);
    expect(test).toHaveLength(testShare(id).length);
    const canceled = await t.call('POST', `/api/communication/campaigns/${id}/cancel`, { body: { reason: 'rupture de stock' } });
    expect(canceled.status).toBe(200);
    wrote(canceled.body.position, 'campaigns', 'experiments');
    await caughtUp();
    await new ExperimentJudge(t.app.store, t.app.db, logger).tick(new Date(Date.now() + 3 * HOUR));
    expect(await t.app.store.readStream(experimentStreamId(id))).toEqual([]);
    expect((await experimentsOf(id)).experiments[0]).toMatchObject({ status: 'stopped', winner: null, leader: null });

    // A winner recorded just before the cancellation, handled after it: the fan-out sends nothing.
    const figures = (variant_id: string) => ({ variant_id, template_id: 'promo', requested: 0, sent: 0, delivered: 0, failed: 0, unique_opens: 0, unique_clicks: 0, conversions: 0, sample: 0, rate: null });
    const winner = CampaignVariantWinnerChosen.schema.parse({
      campaign_id: id,
      channel_index: 0,
      channel: 'email',
      metric: 'open_rate',
      winner_variant_id: 'Y',
      reason: 'no_data',
      rate_base: 'sent',
      min_sample: 5,
      test_share: 0.3,
      variants: [figures('X'), figures('Y')],
      test_started_at: new Date().toISOString(),
      decided_at: new Date().toISOString(),
    });
    const { position } = await t.app.store.append(experimentStreamId(id), [{ id: randomUUID(), type: 'CampaignVariantWinnerChosen', data: winner, metadata: {} }], { expectedRevision: 'any' });
    wrote(position, 'experiments');
    const [recorded] = (await t.app.store.readStream(experimentStreamId(id))) as RecordedEvent[];
    await fanOut(id, recorded!);
    expect(await requestsOf(id, test.length)).toHaveLength(test.length);
  }, 60_000);

  it('refuses a bad experiment at launch with 422, the rule and the field', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [experiment({ variants: [{ id: 'A' }] }), 'invalid_experiment', 'channels.0.config.experiment.variants'],
      [experiment({ test_share: 1.5 }), 'invalid_experiment', 'channels.0.config.experiment.test_share'],
      [experiment({ test_share: 0 }), 'invalid_experiment', 'channels.0.config.experiment.test_share'],
      [experiment({ metric: 'revenue' }), 'invalid_experiment', 'channels.0.config.experiment.metric'],
      [experiment({ test_window_hours: 48 }), 'invalid_experiment', 'channels.0.config.experiment.test_window_hours'],
      [experiment({ variants: [{ id: 'A' }, { id: 'B', template_id: 'nowhere' }] }), 'template_not_found', 'channels.0.config.experiment.variants.1.template_id'],
    ];
    for (const [config, code, path] of cases) {
      const id = await create({ experiment: config });
      const response = await t.call('POST', `/api/communication/campaigns/${id}/launch`, { body: {} });
      expect(response.status, JSON.stringify(config)).toBe(422);
      expect(response.body.error, JSON.stringify(config)).toBe(code);
      expect(response.body.details.map((d: { path: string }) => d.path), JSON.stringify(config)).toContain(path);
    }
    const unknown = await t.call('GET', `/api/communication/campaigns/${randomUUID()}/experiments`);
    expect(unknown.status).toBe(404);
    const malformed = await t.call('GET', '/api/communication/campaigns/42/experiments');
    expect(malformed.status).toBe(400);
  }, 60_000);

  it('lists a campaign without experiments as having none, and one not launched as pending', async () => {
    const plain = await create({});
    expect((await experimentsOf(plain)).experiments).toEqual([]);
    const draft = await create({ experiment: experiment() });
    expect((await experimentsOf(draft)).experiments[0]).toMatchObject({ status: 'pending', test_started_at: null, decision_due_at: null, variants: [{ variant_id: 'A', test: { requested: 0, rate: null } }, { variant_id: 'B' }] });
  });

  it('rebuilds the experiments read model from the events to the same rows', async () => {
    await caughtUp();
    const db = t.app.db as unknown as Kysely<ExperimentsTables>;
    const rows = async () => ({
      notifications: await db.selectFrom('experiment_notifications').selectAll().orderBy('notification_id').execute(),
      campaigns: await db.selectFrom('experiment_campaigns').selectAll().orderBy('campaign_id').execute(),
      decisions: await db.selectFrom('experiment_decisions').selectAll().orderBy('campaign_id').orderBy('channel_index').execute(),
    });
    const live = await rows();
    expect(live.notifications.length).toBeGreaterThan(MEMBERS);
    expect(live.decisions).toHaveLength(2);
    expect(live.notifications.filter((n) => n.phase === 'rest').length).toBeGreaterThan(0);
    const projector = t.app.projectors.find((p) => p.projection.name === experimentsProjection.name)!;
    await projector.stop();
    try {
      for (const batch of [7, 1_000]) {
        await rebuildProjection(t.app.store, t.app.db, experimentsProjection, batch);
        expect(await rows()).toEqual(live);
      }
    } finally {
      await projector.start();
    }
  }, 60_000);
});
