import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailjetDouble, type MailjetDouble } from '../doubles/mailjet-double.js';
import { testDatabases } from '../support/databases.js';
import { crmEnv, deleteCrmEnvStreams, crmEvent, customer, eventually, publishCrm } from '../support/crm-events.js';
import { platformsJson, startPlatformDoubles, type PlatformDoubles } from '../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const HOUR = 3_600_000;

/**
 * Launching a multichannel campaign over HTTP, with the audience from CRM events: the rules refused with 422, the
 * audience sized before launch, then the fan-out: e-mails through the notification pipeline to the Mailjet double
 * (consent checked at send time), the social post through the publishing scheduler with the campaign's priority,
 * the web promotion in the public feed; and a cancellation that stops what is still pending.
 */
describe.each(testDatabases())('campaign launch on $name', (database) => {
  let t: RunningApp;
  const env = crmEnv();
  let mailjet: MailjetDouble;
  let platforms: PlatformDoubles;
  const marie = customer({ email: 'marie@example.fr', first_name: 'Marie' });
  const paul = customer({ email: 'paul@example.fr', first_name: 'Paul' });
  const claire = customer({ phone: '+33611223344', first_name: 'Claire' });

  beforeAll(async () => {
    mailjet = await startMailjetDouble();
    platforms = await startPlatformDoubles();
    t = await startTestApp(database, {
      env,
      platforms: platformsJson(platforms, ['facebook']),
      templates: { promo: { subject: 'Offre pour {{customer.first_name}}', body_html: '<p>Bonjour {{customer.first_name}}, {{offer}}</p>' } },
      notifications: {
        email: { provider: 'mailjet', api_key: mailjet.apiKey, api_secret: mailjet.apiSecret, from_email: 'restaurant@levieuxmoulin.fr', base_url: mailjet.url } as never,
      },
    });
    for (const c of [marie, paul, claire]) await publishCrm(t.app, crmEvent('CustomerCreated', c));
    await publishCrm(t.app, crmEvent('ConsentChanged', { customer_id: marie.customer_id, channel: 'email', recipient: 'marie@example.fr', status: 'granted', source: 'website_form', at: new Date().toISOString() }));
    await publishCrm(t.app, crmEvent('SegmentMembershipChanged', { segment_id: 'fideles', segment_name: 'Fidèles', added: [marie.customer_id, paul.customer_id, claire.customer_id], removed: [], at: new Date().toISOString() }));
    await eventually(async () => {
      const sized = await t.call('POST', '/api/communication/audience/preview', { body: { target_audience: { segment: 'fideles' } } });
      return sized.body?.per_channel?.email?.consented === 1 ? true : undefined;
    });
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await deleteCrmEnvStreams(env);
    await mailjet.stop();
    await platforms.close();
    await database.cleanup();
  });

  const campaign = (overrides: Record<string, unknown> = {}) => ({
    name: 'Semaine de la pizza',
    start_date: new Date(Date.now() - HOUR).toISOString(),
    end_date: new Date(Date.now() + 7 * 24 * HOUR).toISOString(),
    target_audience: { segment: 'fideles' },
    budget: 50,
    priority: 90,
    channels: [{ type: 'email', content_template: 'promo', config: { data: { offer: 'un dessert offert' }, cost_per_message: 0.01 } }],
    ...overrides,
  });
  /** Creates the campaign; its id, and the query string that reads it back once the read model has it. */
  const created: Record<string, string> = {};
  const create = async (body: Record<string, unknown>) => {
    const response = await t.call('POST', '/api/communication/campaigns', { body });
    expect(response.status).toBe(201);
    created[response.body.campaign_id] = `min_position=${response.body.position}`;
    return response.body.campaign_id as string;
  };
  const launch = (id: string) => t.call('POST', `/api/communication/campaigns/${id}/launch`, { body: {} });
  const notificationsOf = async (id: string) => (await t.call('GET', `/api/communication/notifications?campaign_id=${id}&limit=200`)).body.notifications as { id: string; status: string; recipient: string }[];

  it.each([
    ['no channel', { channels: [] }, 'campaign_has_no_channels', 'channels'],
    ['no audience', { target_audience: {} }, 'campaign_has_no_audience', 'target_audience'],
    ['an unknown segment', { target_audience: { segment: 'inconnus' } }, 'unknown_segment', 'target_audience.segment'],
    ['a budget below the planned spend', { budget: 0, channels: [{ type: 'email', content_template: 'promo', config: { cost_per_message: 0.5 } }] }, 'budget_below_spend', 'budget'],
    ['an end date already past', { start_date: new Date(Date.now() - 3 * HOUR).toISOString(), end_date: new Date(Date.now() - HOUR).toISOString() }, 'campaign_ended', 'end_date'],
    ['an unknown template', { channels: [{ type: 'email', content_template: 'nope' }] }, 'template_not_found', 'channels.0.content_template'],
    ['a platform without an account', { channels: [{ type: 'social_media', content_template: 'Bonjour', config: { platforms: ['linkedin'] } }] }, 'platform_not_configured', 'channels.0.config.platforms'],
  ])('refuses to launch a campaign with %s: 422 with the rule and the field', async (_case, overrides, code, path) => {
    const id = await create(campaign(overrides));
    const response = await launch(id);
    expect(response.status).toBe(422);
    expect(response.body.error).toBe(code);
    expect(response.body.details.map((d: { path: string }) => d.path)).toContain(path);
    expect((await t.call('GET', `/api/communication/campaigns/${id}?${created[id]}`)).body.status).toBe('draft');
  });

  it('refuses an end date before the start date when the campaign is written', async () => {
    const response = await t.call('POST', '/api/communication/campaigns', { body: campaign({ end_date: new Date(Date.now() - 2 * HOUR).toISOString() }) });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ error: 'invalid_date_range', details: [{ path: 'end_date' }] });
  });

  it('shows the audience before launch, then fans every channel out: e-mails, the social post, the web promotion', async () => {
    const postAt = new Date(Date.now() + 2 * HOUR).toISOString();
    const id = await create(
      campaign({
        channels: [
          { type: 'email', content_template: 'promo', config: { data: { offer: 'un dessert offert' }, cost_per_message: 0.01 } },
          { type: 'social_media', content_template: 'La semaine de la pizza commence !', config: { platforms: ['facebook'], spend: 20 }, schedule: { at: postAt } },
          { type: 'web', content_template: 'Une pizza achetée, un dessert offert.', config: { title: 'Semaine de la pizza', link_url: 'https://levieuxmoulin.fr/reserver' } },
        ],
      }),
    );
    const audience = await t.call('GET', `/api/communication/campaigns/${id}/audience?${created[id]}`);
    expect(audience.status).toBe(200);
    expect(audience.body).toMatchObject({ campaign_id: id, size: 3, per_channel: { email: { addressable: 2, consented: 1 }, sms: { addressable: 1, consented: 0 } } });

    const launched = await launch(id);
    expect(launched.status).toBe(200);
    expect(launched.body).toMatchObject({ status: 'active', audience: { size: 3, per_channel: { email: 2, sms: 1 } } });

    // One notification per member with an e-mail address; consent decided at send time.
    const done = await eventually(async () => {
      const list = await notificationsOf(id);
      return list.length === 2 && list.every((n) => n.status !== 'pending') ? list : undefined;
    }, 20_000);
    expect(Object.fromEntries(done.map((n) => [n.recipient, n.status]))).toEqual({ 'marie@example.fr': 'sent', 'paul@example.fr': 'skipped' });
    const sent = mailjet.sent.filter((m) => m.email === 'marie@example.fr');
    expect(sent).toHaveLength(1);
    expect(sent[0]!.message).toMatchObject({ Subject: 'Offre pour Marie' });
    expect(String(sent[0]!.message.HTMLPart)).toContain('un dessert offert');

    // The post waits for its time in the publishing scheduler, with the campaign's priority.
    const publications = await eventually(async () => {
      const list = (await t.call('GET', `/api/communication/publications?campaign_id=${id}`)).body.items;
      return list?.length === 1 ? list : undefined;
    });
    expect(publications[0]).toMatchObject({ status: 'scheduled', priority: 90, campaign_id: id, scheduled_time: postAt });

    // The web channel, in the public feed: published content only.
    const feed = await eventually(async () => {
      const response = await t.call('GET', '/api/communication/promotions', { key: null });
      return response.body?.promotions?.some((p: { campaign_id: string }) => p.campaign_id === id) ? response : undefined;
    });
    expect(feed.status).toBe(200);
    const promotion = feed.body.promotions.find((p: { campaign_id: string }) => p.campaign_id === id);
    expect(promotion).toEqual({
      campaign_id: id,
      title: 'Semaine de la pizza',
      body: 'Une pizza achetée, un dessert offert.',
      image_url: null,
      link_url: 'https://levieuxmoulin.fr/reserver',
      starts_at: expect.any(String),
      ends_at: expect.any(String),
    });
    expect(JSON.stringify(feed.body)).not.toMatch(/budget|fideles|marie/);
    expect(feed.headers.get('cache-control')).toBe('public, max-age=60');

    // Handled again (a replay, a crash before the checkpoint): nothing requested twice.
    const fanout = t.app.reactors.find((r) => r.definition.name === 'campaign-fanout')!.definition;
    const activated = (await t.app.store.readStream(`campaign-${id}`)).find((e) => e.type === 'CampaignActivated')!;
    const streams = [...done.map((n) => `notification-${n.id}`), `publication-${publications[0].publication_id}`];
    const eventsOf = async () => Promise.all(streams.map(async (stream) => (await t.app.store.readStream(stream)).map((e) => e.id)));
    const before = await eventsOf();
    await fanout.handle(activated);
    expect(await eventsOf()).toEqual(before);
    const requested = (await t.app.store.readAll({ filter: { categories: ['notification'], eventTypes: ['NotificationRequested'] } })).filter(
      (e) => (e.data as { campaign_id: string }).campaign_id === id,
    );
    expect(requested.length).toBeLessThanOrEqual(2);
    expect(mailjet.sent.filter((m) => m.email === 'marie@example.fr')).toHaveLength(1);
  }, 40_000);

  it('cancels what is still pending: the post not yet published, the e-mails not yet sent', async () => {
    mailjet.fail({ status: 503, times: 1_000 });
    try {
      const id = await create(
        campaign({
          channels: [
            { type: 'email', content_template: 'promo', config: { data: { offer: 'un café offert' } } },
            { type: 'social_media', content_template: 'Bientôt !', config: { platforms: ['facebook'] }, schedule: { at: new Date(Date.now() + 3 * HOUR).toISOString() } },
            { type: 'web', content_template: 'Un café offert.', config: { title: 'Café' } },
          ],
        }),
      );
      expect((await launch(id)).status).toBe(200);
      // Marie's e-mail keeps failing at the provider (retried, still pending); Paul's is skipped at once.
      await eventually(async () => {
        const list = await notificationsOf(id);
        return list.length === 2 && list.some((n) => n.recipient === 'paul@example.fr' && n.status === 'skipped') ? true : undefined;
      });
      const canceled = await t.call('POST', `/api/communication/campaigns/${id}/cancel`, { body: { reason: 'four en panne' } });
      expect(canceled.status).toBe(200);

      const list = await eventually(async () => {
        const all = await notificationsOf(id);
        return all.some((n) => n.status === 'canceled') ? all : undefined;
      }, 20_000);
      expect(Object.fromEntries(list.map((n) => [n.recipient, n.status]))).toEqual({ 'marie@example.fr': 'canceled', 'paul@example.fr': 'skipped' });
      const post = await eventually(async () => {
        const found = (await t.call('GET', `/api/communication/publications?campaign_id=${id}`)).body.items?.[0];
        return found?.status === 'canceled' ? found : undefined;
      });
      expect(post.status).toBe('canceled');
      const feed = await t.call('GET', '/api/communication/promotions', { key: null });
      expect(feed.body.promotions.some((p: { campaign_id: string }) => p.campaign_id === id)).toBe(false);

      mailjet.fail({ times: 0 });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(mailjet.sent.filter((m) => String(m.message.HTMLPart).includes('un café offert'))).toEqual([]);
    } finally {
      mailjet.fail({ times: 0 });
    }
  }, 60_000);
});
