import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailjetDouble, type MailjetDouble } from '../../doubles/mailjet-double.js';
import { pgliteDatabase } from '../../support/databases.js';
import { campaignBody, startTestApp, type RunningApp } from '../../support/test-app.js';

/** The value of one series in Prometheus text, or undefined when it is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  let mailjet: MailjetDouble;
  beforeAll(async () => {
    mailjet = await startMailjetDouble();
    t = await startTestApp(database, {
      templates: { reservation_confirmation: { subject: 'Bonjour {{first_name}}', body_html: '<p>Bonjour {{first_name}}</p>' } },
      notifications: {
        email: { provider: 'mailjet', api_key: mailjet.apiKey, api_secret: mailjet.apiSecret, from_email: 'restaurant@levieuxmoulin.fr', base_url: mailjet.url } as never,
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await mailjet.stop();
    await database.cleanup();
  });

  it('needs a key with status:read', async () => {
    expect((await t.call('GET', '/metrics', { key: null })).status).toBe(401);
    expect((await t.call('GET', '/metrics', { key: await t.keyWith(['campaigns:read']) })).status).toBe(403);
    const allowed = await t.call('GET', '/metrics', { key: await t.keyWith(['status:read']) });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toContain('text/plain');
  });

  it('counts requests by route pattern, commands, appends, and gives process metrics', async () => {
    const created = await t.call('POST', '/api/communication/campaigns', { body: campaignBody() });
    const id = created.body.campaign_id as string;
    await t.call('GET', `/api/communication/campaigns/${id}`);
    const text = (await t.call('GET', '/metrics')).body as string;

    expect(sample(text, 'comm_http_requests_total{route="/api/communication/campaigns",method="POST",status_code="201"}')).toBe(1);
    expect(text).toContain('comm_http_request_duration_seconds_bucket{le="0.005",route="/api/communication/campaigns",method="POST"}');
    expect(text).toMatch(/comm_http_requests_total\{route="\/api\/communication\/campaigns\/:id",method="GET",status_code="\d+"\} 1/);
    expect(text).not.toContain(id);
    expect(sample(text, 'comm_commands_total{command="CreateCampaign",outcome="appended"}')).toBe(1);
    expect(sample(text, 'comm_command_duration_seconds_count{command="CreateCampaign"}')).toBe(1);
    expect(sample(text, 'comm_event_store_appends_total{outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('shows projection and reactor lag, queue depth and breaker state at scrape time', async () => {
    const text = (await t.call('GET', '/metrics')).body as string;
    expect(text).toMatch(/comm_follower_lag_events\{kind="projection",name="campaigns"\} \d+/);
    expect(text).toMatch(/comm_follower_lag_seconds\{kind="reactor",name="notification-dispatch"\} [\d.]+/);
    expect(sample(text, 'comm_queue_pending_messages{queue="notify-email"}')).toBe(0);
    expect(sample(text, 'comm_dead_letters')).toBe(0);
    expect(sample(text, 'comm_circuit_breaker_state{kind="provider",service="mailjet"}')).toBe(0);
  });

  it('times each provider call, labelled by provider, never by recipient', async () => {
    const response = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'paul@example.fr', data: { first_name: 'Paul' } },
    });
    expect(response.status).toBe(202);
    const series = 'comm_external_call_duration_seconds_count{kind="provider",service="mailjet",operation="send"}';
    await expect.poll(async () => sample((await t.call('GET', '/metrics')).body as string, series), { timeout: 10_000 }).toBe(1);
    expect((await t.call('GET', '/metrics')).body).not.toContain('paul@example.fr');
  });
});

describe('GET /metrics with COMM_METRICS_PUBLIC=true, in a worker-only process', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { api: false, projector: false, env: { COMM_METRICS_PUBLIC: 'true' } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('answers without a key, next to the probes', async () => {
    const metrics = await t.call('GET', '/metrics', { key: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('comm_http_requests_total');
    expect((await t.call('GET', '/health/live', { key: null })).status).toBe(200);
    expect((await t.call('GET', '/health/ready', { key: null })).status).toBe(200);
    expect((await t.call('GET', '/api/communication/campaigns', { key: null })).status).toBe(404);
  });
});
