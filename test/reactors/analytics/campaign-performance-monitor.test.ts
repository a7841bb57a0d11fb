import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performanceStreamId } from '../../../src/domain/campaign-performance.js';
import { testDatabases } from '../../support/databases.js';
import { campaignBody, startTestApp, type RunningApp } from '../../support/test-app.js';
import { startReceiver } from '../../webhooks/webhook-receiver.js';
import { historyWriter } from '../../projections/analytics/analytics-history.js';

/**
 * success_metrics judged on the analytics read model: alert events once per crossing, the spec's performance webhooks,
 * budget consumption; and campaigns refuse targets of another shape.
 */
describe.each(testDatabases())('campaign performance alerts on $name', (database) => {
  let t: RunningApp;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await database.cleanup();
  });

  const alerts = async (campaignId: string) =>
    (await t.app.store.readStream(performanceStreamId(campaignId))).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));

  /** Lets the analytics projection catch up, then runs the monitor's round (the app's own runs every 2 s too). */
  const judge = async (position: string | null) => {
    expect((await t.call('GET', `/api/communication/analytics?min_position=${position}`)).status).toBe(200);
    await t.app.campaignResults!.monitor.tick();
  };

  it('raises threshold_reached and underperforming once per crossing, and POSTs the spec payload', async () => {
    const registered = await t.call('POST', '/api/communication/webhooks', {
      body: { url: `${receiver.url}/alerts`, event_types: ['campaign.threshold_reached', 'campaign.underperforming'] },
    });
    expect(registered.status).toBe(201);
    const created = await t.call('POST', '/api/communication/campaigns', {
      body: campaignBody({ success_metrics: { open_rate: { '>=': 0.5 }, bounce_rate: { '<=': 0.2 }, min_sample: 4 } }),
    });
    expect(created.status).toBe(201);
    const campaign = created.body.campaign_id as string;
    const history = historyWriter(t.app.store);
    const at = new Date().toISOString();

    // 2 of 4 delivered, 1 open of 2: too few delivered to judge the open rate; bounces 2/4 over their limit.
    for (const steps of [['sent', 'delivered', 'opened'], ['sent', 'delivered'], ['sent', 'bounced'], ['sent', 'bounced']] as const) {
      await history.notification({ campaign_id: campaign, at }, [...steps]);
    }
    await judge(history.position());
    expect((await alerts(campaign)).map((a) => `${a.type} ${a.data.metric as string}`)).toEqual(['CampaignUnderperforming bounce_rate']);

    // 6 delivered of 8 sent, 5 opened: open rate reached; bounces 2/8 still over.
    for (let i = 0; i < 4; i++) await history.notification({ campaign_id: campaign, at }, ['sent', 'delivered', 'opened']);
    await judge(history.position());
    await t.app.campaignResults!.monitor.tick(); // judging again changes nothing
    // 10 of 12 delivered, 5 opened: 0.5 still reached; bounces 2/12 back within the limit.
    for (let i = 0; i < 4; i++) await history.notification({ campaign_id: campaign, at }, ['sent', 'delivered']);
    await judge(history.position());
    const recorded = await alerts(campaign);
    expect(recorded.map((a) => `${a.type} ${a.data.metric as string}`)).toEqual([
      'CampaignUnderperforming bounce_rate',
      'CampaignThresholdReached open_rate',
      'CampaignThresholdReached bounce_rate',
    ]);
    // The app's own monitor may have judged between two notifications: the value is the one of the first judgement met.
    expect(recorded[1]!.data).toMatchObject({ campaign_id: campaign, operator: '>=', threshold: 0.5, min_sample: 4 });
    expect(recorded[1]!.data.value).toBeGreaterThanOrEqual(0.5);
    expect(recorded[1]!.data.sample_size).toBeGreaterThanOrEqual(4);

    const delivered = await receiver.waitFor(3, 15_000);
    const bodies = delivered.map((r) => JSON.parse(r.body) as { event_type: string; timestamp: string; data: Record<string, unknown> });
    expect(bodies.map((b) => `${b.event_type} ${b.data.metric as string}`).sort()).toEqual(
      ['campaign.threshold_reached bounce_rate', 'campaign.threshold_reached open_rate', 'campaign.underperforming bounce_rate'].sort(),
    );
    const underperforming = bodies.find((b) => b.event_type === 'campaign.underperforming')!;
    expect(underperforming).toEqual({
      event_type: 'campaign.underperforming',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      data: { campaign_id: campaign, metric: 'bounce_rate', operator: '<=', threshold: 0.2, value: expect.any(Number), sample_size: 4, evaluated_at: expect.any(String) },
    });
  });

  it('reports 80 % and 100 % of the budget consumed by recorded spend', async () => {
    const created = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ budget: 1, success_metrics: {} }) });
    const campaign = created.body.campaign_id as string;
    const history = historyWriter(t.app.store);
    const at = new Date().toISOString();
    const spend = async (amount: number) => {
      const id = await history.notification({ campaign_id: campaign, at }, ['sent']);
      await history.append(`spend-${id}`, [
        {
          type: 'SpendRecorded',
          at,
          data: { notification_id: id, campaign_id: campaign, channel: 'email', provider: 'sendgrid', provider_message_id: `msg-${id}`, amount, currency: 'EUR', source: 'configured', quantity: 1, unit: 'message', recorded_at: at },
        },
      ]);
    };
    await spend(0.5);
    await judge(history.position());
    expect(await alerts(campaign)).toEqual([]);
    await spend(0.35);
    await judge(history.position());
    await spend(0.2);
    await judge(history.position());
    expect((await alerts(campaign)).map((a) => [a.type, a.data.threshold, a.data.spent])).toEqual([
      ['CampaignBudgetConsumed', 0.8, 0.85],
      ['CampaignBudgetConsumed', 1, 1.05],
    ]);
  });

  it('refuses success_metrics of another shape with 422 naming the field', async () => {
    const response = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ success_metrics: { open_rate: 25, reservations: 40 } }) });
    expect(response.status).toBe(422);
    expect(response.body.error).toBe('invalid_success_metrics');
    expect(response.body.details.map((d: { path: string }) => d.path).sort()).toEqual(['success_metrics.open_rate', 'success_metrics.reservations']);
    const id = randomUUID();
    expect((await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ id }) })).status).toBe(201);
    const patched = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { success_metrics: { bounce_rate: { '=': 0.1 } } } });
    expect(patched.status).toBe(422);
    expect(patched.body.details).toEqual([{ path: 'success_metrics.bounce_rate', message: expect.stringContaining('operator') }]);
  });
});
