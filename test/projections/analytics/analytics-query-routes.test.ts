import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyticsProjection } from '../../../src/projections/analytics/analytics-projection.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { testDatabases } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';
import { historyWriter } from './analytics-history.js';

/** Each test has days of its own on one shared app: 12 June 2025 plus `offset` weeks. */
const dayOf = (offset: number, plus = 0) => new Date(Date.UTC(2025, 5, 12 + offset * 7 + plus)).toISOString().slice(0, 10);

describe.each(testDatabases())('GET /api/communication/analytics on $name', (database) => {
  let running: RunningApp;
  let history: ReturnType<typeof historyWriter>;
  beforeAll(async () => {
    running = await startTestApp(database, { worker: false });
    history = historyWriter(running.app.store);
  });
  afterAll(async () => {
    await running?.close();
    await database.cleanup();
  });

  /** A campaign's e-mails, an SMS outside campaigns, a post with engagement, conversions and spend. */
  const seed = async (campaign: string, offset: number) => {
    const DAY = dayOf(offset);
    const at = (day: string, time: string) => `${day}T${time}.000Z`;
    const MORNING = at(DAY, '08:15:00');
    const NEXT = dayOf(offset, 1);
    await history.campaign(campaign, { budget: 10 });
    const opened = await history.notification({ campaign_id: campaign, at: MORNING }, ['sent', 'delivered', 'opened', 'opened_again', 'clicked']);
    await history.notification({ campaign_id: campaign, at: MORNING }, ['sent', 'delivered', 'opened']);
    await history.notification({ campaign_id: campaign, at: MORNING }, ['sent', 'delivered']);
    await history.notification({ campaign_id: campaign, at: MORNING }, ['sent', 'bounced']);
    await history.notification({ campaign_id: campaign, at: MORNING }, ['skipped']);
    await history.notification({ channel: 'sms', provider: 'twilio', at: MORNING }, ['failed']);
    const publication = randomUUID();
    const post = { publication_id: publication, platform: 'facebook', post_id: '1_2' };
    await history.append(`publication-${publication}`, [
      {
        type: 'PublicationScheduled',
        at: MORNING,
        data: {
          publication_id: publication,
          content: { title: '', body: 'Pizza', media_urls: [], hashtags: [] },
          platforms: ['facebook'],
          scheduled_time: `${DAY}T10:00:00Z`,
          targeting: null,
          campaign_id: campaign,
          priority: 50,
          max_attempts: 5,
          requested_at: MORNING,
        },
      },
      { type: 'PlatformPublished', at: at(DAY, '10:00:05'), data: { ...post, attempt_id: 'a1', post_url: null, published_at: at(DAY, '10:00:05') } },
    ]);
    const metrics = (likes: number) => ({ likes, shares: 2, comments: 3, reach: 100, clicks: 5, impressions: 150 });
    await history.append(`engagement-${publication}`, [
      { type: 'EngagementMeasured', at: at(DAY, '12:00:00'), data: { ...post, metrics: metrics(10), source: 'insights', measured_at: at(DAY, '12:00:00') } },
      {
        type: 'EngagementInteractionReceived',
        at: at(DAY, '12:05:00'),
        data: { ...post, interaction_id: 'c1', kind: 'comment', verb: 'add', received_at: at(DAY, '12:05:00') },
      },
      // A day later: counted with the post (its hour), as the platform's totals.
      { type: 'EngagementMeasured', at: at(NEXT, '12:00:00'), data: { ...post, metrics: metrics(12), source: 'insights', measured_at: at(NEXT, '12:00:00') } },
    ]);
    const conversion = (extra: Record<string, unknown>) => ({
      conversion_id: randomUUID(),
      source_event_id: randomUUID(),
      kind: 'reservation',
      amount: null,
      currency: 'EUR',
      campaign_id: campaign,
      notification_id: null,
      publication_id: null,
      channel: null,
      platform: null,
      occurred_at: at(NEXT, '19:00:00'),
      attributed_at: at(NEXT, '19:00:01'),
      ...extra,
    });
    const viaEmail = conversion({ notification_id: opened, channel: 'email', platform: 'sendgrid', attributed_by: 'notification', kind: 'order', amount: 45.5 });
    const viaLink = conversion({ channel: 'email', attributed_by: 'tracked_link' });
    for (const data of [viaEmail, viaLink]) await history.append(`conversion-${data.conversion_id as string}`, [{ type: 'ConversionAttributed', at: data.attributed_at as string, data }]);
    await history.append(`spend-${opened}`, [
      {
        type: 'SpendRecorded',
        at: at(DAY, '08:20:00'),
        data: {
          notification_id: opened,
          campaign_id: campaign,
          channel: 'email',
          provider: 'sendgrid',
          provider_message_id: `msg-${opened}`,
          amount: 8.5,
          currency: 'EUR',
          source: 'configured',
          quantity: 1,
          unit: 'message',
          recorded_at: at(DAY, '08:20:00'),
        },
      },
    ]);
  };

  const get = (query: string, position: string | null) =>
    running.call('GET', `/api/communication/analytics?${query}${position ? `&min_position=${position}` : ''}`);

  it('sums sent, delivered, failed, rates, engagement, conversions and spend per campaign, channel and platform', async () => {
    const campaign = randomUUID();
    const DAY = dayOf(0);
    await seed(campaign, 0);
    const response = await get(`from=${DAY}&to=2025-06-14&granularity=day&group_by=campaign,channel,platform`, history.position());
    expect(response.status).toBe(200);
    const { body } = response;
    expect(body).toMatchObject({ granularity: 'day', time_zone: 'Europe/Paris', from: '2025-06-12T00:00:00+02:00', to: '2025-06-14T00:00:00+02:00' });
    type Row = { channel: string | null; platform: string | null; period_start: string };
    const email = body.series.find((row: Row) => row.channel === 'email' && row.platform === 'sendgrid' && row.period_start.startsWith(DAY));
    expect(email).toMatchObject({
      period_start: '2025-06-12T00:00:00+02:00',
      period_end: '2025-06-13T00:00:00+02:00',
      campaign_id: campaign,
      platform: 'sendgrid',
      sent: 4,
      delivered: 3,
      failed: 1,
      bounced: 1,
      unique_opens: 2,
      opens: 3,
      unique_clicks: 1,
      open_rate: 0.6667,
      click_rate: 0.3333,
      bounce_rate: 0.25,
      delivery_rate: 0.75,
      conversions: { count: 1, revenue: 45.5, currency: 'EUR' },
      cost: { amount: 8.5, currency: 'EUR', records: 1, not_in_eur: 0 },
    });
    const skipped = body.series.find((row: Row) => row.channel === 'email' && row.platform === null && row.period_start.startsWith(DAY));
    expect(skipped).toMatchObject({ skipped: 1, sent: 0 });
    const sms = body.series.find((row: Row) => row.channel === 'sms');
    expect(sms).toMatchObject({ campaign_id: null, platform: 'twilio', failed: 1, sent: 0, bounce_rate: null });
    const facebook = body.series.find((row: Row) => row.channel === 'social_media');
    expect(facebook).toMatchObject({ platform: 'facebook', sent: 1, engagement: { likes: 12, shares: 2, comments: 3, reach: 100, impressions: 150, clicks: 5 } });
    // The conversion through a tracked link counts the day it happened, for the campaign and channel only.
    const linked = body.series.find((row: Row) => row.period_start.startsWith('2025-06-13') && row.channel === 'email');
    expect(linked).toMatchObject({ campaign_id: campaign, platform: null, conversions: { count: 1, revenue: 0 } });
    expect(body.totals).toMatchObject({ sent: 5, delivered: 3, failed: 2, conversions: { count: 2, revenue: 45.5 }, cost: { amount: 8.5 } });
    expect(body.budgets).toEqual([{ campaign_id: campaign, budget: 10, spent: 8.5, remaining: 1.5, consumed_rate: 0.85, currency: 'EUR' }]);
    // Neither filtered nor grouped by campaign: the figures summed over campaigns are the same.
    for (const granularity of ['hour', 'day', 'week']) {
      const overall = await get(`from=${DAY}&to=2025-06-14&granularity=${granularity}&group_by=channel`, null);
      expect(overall.body.totals, granularity).toEqual(body.totals);
      expect(overall.body.budgets).toEqual([]);
    }
  });

  it('filters by campaign, channel and platform, and groups by what is asked', async () => {
    const campaign = randomUUID();
    const DAY = dayOf(1);
    await seed(campaign, 1);
    await seed(randomUUID(), 1);
    const position = history.position();
    const byCampaign = await get(`campaign_id=${campaign}&from=${DAY}&to=${dayOf(1, 2)}&group_by=none`, position);
    expect(byCampaign.status).toBe(200);
    expect(byCampaign.body.series.map((row: { period_start: string }) => row.period_start)).toEqual([`${DAY}T00:00:00+02:00`, `${dayOf(1, 1)}T00:00:00+02:00`]);
    expect(byCampaign.body.series[0]).not.toHaveProperty('channel');
    expect(byCampaign.body.group_by).toEqual([]);
    expect(byCampaign.body.totals).toMatchObject({ sent: 5, failed: 1, skipped: 1, conversions: { count: 2 } });
    const emailOnly = await get(`channel=email&platform=sendgrid&from=${DAY}&to=${dayOf(1, 1)}&group_by=campaign`, position);
    expect(emailOnly.body.totals).toMatchObject({ sent: 8, delivered: 6, unique_opens: 4 });
    expect(emailOnly.body.series).toHaveLength(2);
    expect(emailOnly.body.budgets).toHaveLength(2);
    const none = await get(`campaign_id=none&from=${DAY}&to=${dayOf(1, 1)}`, position);
    expect(none.body.totals).toMatchObject({ failed: 2, sent: 0 });
  });

  it('cuts days at midnight in Paris and weeks on Mondays; hours are UTC', async () => {
    const campaign = randomUUID();
    // 22:30 UTC on 26 June is 00:30 on 27 June in Paris (summer time).
    await history.notification({ campaign_id: campaign, at: '2025-06-26T22:30:00.000Z' }, ['sent']);
    await history.notification({ campaign_id: campaign, at: '2025-06-26T21:30:00.000Z' }, ['sent']);
    const position = history.position();
    const days = await get(`campaign_id=${campaign}&from=2025-06-26&to=2025-06-28&group_by=none`, position);
    expect(days.body.series.map((row: { period_start: string; sent: number }) => [row.period_start, row.sent])).toEqual([
      ['2025-06-26T00:00:00+02:00', 1],
      ['2025-06-27T00:00:00+02:00', 1],
    ]);
    const weeks = await get(`campaign_id=${campaign}&from=2025-06-26&to=2025-06-28&granularity=week&group_by=none`, position);
    expect(weeks.body).toMatchObject({ from: '2025-06-23T00:00:00+02:00', to: '2025-06-30T00:00:00+02:00' });
    expect(weeks.body.series).toEqual([expect.objectContaining({ period_start: '2025-06-23T00:00:00+02:00', period_end: '2025-06-30T00:00:00+02:00', sent: 2 })]);
    const hours = await get(`campaign_id=${campaign}&from=2025-06-26T21:00:00Z&to=2025-06-26T23:00:00Z&granularity=hour&group_by=none`, position);
    expect(hours.body.series.map((row: { period_start: string }) => row.period_start)).toEqual(['2025-06-26T21:00:00Z', '2025-06-26T22:00:00Z']);
    // In winter a Paris day starts at 23:00 UTC.
    await history.notification({ campaign_id: campaign, at: '2025-01-15T23:30:00.000Z' }, ['sent']);
    const winter = await get(`campaign_id=${campaign}&from=2025-01-16&to=2025-01-17&group_by=none`, history.position());
    expect(winter.body.series).toEqual([expect.objectContaining({ period_start: '2025-01-16T00:00:00+01:00', sent: 1 })]);
  });

  it('gives the same numbers after the read model is rebuilt from the events, and after a second rebuild', async () => {
    await seed(randomUUID(), 3);
    await seed(randomUUID(), 3);
    const query = `from=${dayOf(3)}&to=${dayOf(3, 2)}&granularity=hour&group_by=campaign,channel,platform`;
    const before = await get(query, history.position());
    expect(before.body.totals.sent).toBe(10);
    const { app } = running;
    const projector = app.projectors.find((p) => p.projection.name === analyticsProjection.name)!;
    await projector.stop();
    try {
      for (let round = 0; round < 2; round++) {
        const rebuilt = await rebuildProjection(app.store, app.db, analyticsProjection, 7);
        expect(rebuilt.events).toBeGreaterThan(40);
        const after = await get(query, null);
        expect({ ...after.body, position: null }).toEqual({ ...before.body, position: null });
      }
    } finally {
      await projector.start();
    }
  });

  it('refuses a bad range, granularity or filter with 400 naming the field', async () => {
    const cases: [string, string, string][] = [
      ['granularity=month', 'validation_failed', 'querystring.granularity'],
      ['from=2025-06-14&to=2025-06-12', 'invalid_range', 'querystring.to'],
      ['from=2025-06-12&to=2025-06-12', 'invalid_range', 'querystring.to'],
      ['from=2025-01-01&to=2025-06-01&granularity=hour', 'invalid_range', 'querystring.from'],
      ['from=2025-02-30', 'validation_failed', 'querystring.from'],
      ['from=yesterday', 'validation_failed', 'querystring.from'],
      ['to=2025-06-12T10:00:00', 'validation_failed', 'querystring.to'],
      ['group_by=campaign,month', 'validation_failed', 'querystring.group_by'],
      ['campaign_id=42', 'validation_failed', 'querystring.campaign_id'],
      ['channel=fax', 'validation_failed', 'querystring.channel'],
      ['platform=Face%20book', 'validation_failed', 'querystring.platform'],
    ];
    for (const [query, code, path] of cases) {
      const response = await running.call('GET', `/api/communication/analytics?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error, query).toBe(code);
      expect(response.body.details.map((d: { path: string }) => d.path), query).toContain(path);
    }
  });

  it('needs the analytics:read scope', async () => {
    const key = await running.keyWith(['campaigns:read']);
    expect((await running.call('GET', '/api/communication/analytics', { key })).status).toBe(403);
    const reader = await running.keyWith(['analytics:read']);
    expect((await running.call('GET', '/api/communication/analytics', { key: reader })).status).toBe(200);
  });
});
