import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { campaignBody, startTestApp, type RunningApp } from '../support/test-app.js';

describe.each(testDatabases())('campaign API on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const create = async (overrides: Record<string, unknown> = {}) => {
    const response = await t.call('POST', '/api/communication/campaigns', { body: campaignBody(overrides) });
    expect(response.status).toBe(201);
    return response;
  };

  it('creates a draft campaign and reads it back at the position the command returned', async () => {
    const created = await create();
    expect(created.body).toMatchObject({ status: 'draft', revision: 0 });
    expect(created.body.position).toMatch(/^\d+\.\d+$/);
    expect(created.headers.get('location')).toBe(`/api/communication/campaigns/${created.body.campaign_id}`);
    expect(created.headers.get('etag')).toBe('"0"');

    const read = await t.call('GET', `/api/communication/campaigns/${created.body.campaign_id}?min_position=${created.body.position}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: created.body.campaign_id, name: 'Semaine de la pizza', status: 'draft', budget: 250.5, revision: 0 });
    expect(read.body.channels[0]).toMatchObject({ type: 'email', content_template: 'promotional_email' });
    expect(read.headers.get('x-read-position')).toMatch(/^\d+\.\d+$/);
  });

  it('walks the lifecycle draft → scheduled → active → completed', async () => {
    const { body } = await create();
    const id = body.campaign_id;
    for (const [action, status, revision] of [['schedule', 'scheduled', 1], ['activate', 'active', 2], ['complete', 'completed', 3]] as const) {
      const response = await t.call('POST', `/api/communication/campaigns/${id}/${action}`, { body: {} });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ status, revision });
    }
    const last = await t.call('POST', `/api/communication/campaigns/${id}/cancel`, { body: {} });
    expect(last.status).toBe(422);
    expect(last.body).toMatchObject({ error: 'invalid_transition' });
    expect(last.body.details[0].path).toBe('status');
  });

  it('updates only what changed and refuses edits of an active campaign', async () => {
    const { body } = await create();
    const id = body.campaign_id;
    const updated = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { name: 'Semaine de la pizza (prolongée)', budget: 300 } });
    expect(updated.status).toBe(200);
    expect(updated.body.revision).toBe(1);
    const same = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { budget: 300 } });
    expect(same.body.revision).toBe(1);
    const read = await t.call('GET', `/api/communication/campaigns/${id}?min_position=${updated.body.position}`);
    expect(read.body).toMatchObject({ name: 'Semaine de la pizza (prolongée)', budget: 300 });

    await t.call('POST', `/api/communication/campaigns/${id}/schedule`);
    await t.call('POST', `/api/communication/campaigns/${id}/activate`);
    const refused = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { budget: 10 } });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toBe('campaign_not_editable');
  });

  it('refuses to schedule a campaign without channels (422 naming the field)', async () => {
    const { body } = await create({ channels: [] });
    const response = await t.call('POST', `/api/communication/campaigns/${body.campaign_id}/schedule`);
    expect(response.status).toBe(422);
    expect(response.body).toEqual({
      error: 'campaign_has_no_channels',
      message: expect.any(String),
      details: [{ path: 'channels', message: expect.any(String) }],
    });
  });

  it('names every offending field of an invalid body (400), and stores nothing', async () => {
    const before = await t.app.store.headPosition();
    const response = await t.call('POST', '/api/communication/campaigns', {
      body: campaignBody({ name: '', start_date: 'tomorrow', budget: -5, channels: [{ type: 'fax' }], colour: 'red' }),
    });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    const paths = response.body.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.start_date', 'body.budget', 'body.channels.0.type']));
    expect(paths.some((p: string) => p.startsWith('body'))).toBe(true);
    expect(await t.app.store.headPosition()).toEqual(before);
  });

  it('answers 422 for an end date before the start date', async () => {
    const response = await t.call('POST', '/api/communication/campaigns', {
      body: campaignBody({ start_date: '2027-05-10T10:00:00Z', end_date: '2027-05-01T10:00:00Z' }),
    });
    expect(response.status).toBe(422);
    expect(response.body).toMatchObject({ error: 'invalid_date_range', details: [{ path: 'end_date' }] });
  });

  it('gives clear errors for malformed JSON, unknown ids and unknown routes', async () => {
    const malformed = await t.call('POST', '/api/communication/campaigns', { body: '{"name": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_json');

    const missing = await t.call('GET', `/api/communication/campaigns/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('campaign_not_found');

    const missingCommand = await t.call('POST', `/api/communication/campaigns/${randomUUID()}/schedule`);
    expect(missingCommand.status).toBe(404);

    const badId = await t.call('GET', '/api/communication/campaigns/not-a-uuid');
    expect(badId.status).toBe(400);
    expect(badId.body.details[0].path).toBe('params.id');

    const text = await t.call('POST', '/api/communication/campaigns', { body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect(text.body.error).toBe('unsupported_media_type');

    for (const body of ['[]', 'null', '"x"', '{"__proto__": {"admin": true}}', JSON.stringify({ name: 'x'.repeat(100_000) })]) {
      const response = await t.call('POST', '/api/communication/campaigns', { body });
      expect(response.status, body.slice(0, 40)).toBe(400);
      expect(response.body.error).toMatch(/validation_failed|invalid_json/);
    }

    const route = await t.call('GET', '/api/communication/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error).toBe('route_not_found');
  });

  it('refuses a change based on a stale revision (If-Match) with 409', async () => {
    const { body } = await create();
    const id = body.campaign_id;
    const first = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { budget: 1 }, headers: { 'if-match': '"0"' } });
    expect(first.status).toBe(200);
    const stale = await t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { budget: 2 }, headers: { 'if-match': '"0"' } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toBe('concurrency_conflict');
  });

  it('applies concurrent commands on one campaign one after the other (retry on version conflict)', async () => {
    const { body } = await create();
    const id = body.campaign_id;
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.call('PATCH', `/api/communication/campaigns/${id}`, { body: { priority: i + 1 } })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    const revisions = responses.map((r) => r.body.revision).sort((a, b) => a - b);
    expect(revisions).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('lists campaigns by status with pagination', async () => {
    const a = await create({ name: 'A' });
    await create({ name: 'B' });
    const scheduled = await t.call('POST', `/api/communication/campaigns/${a.body.campaign_id}/schedule`);
    const list = await t.call('GET', `/api/communication/campaigns?status=scheduled&min_position=${scheduled.body.position}`);
    expect(list.status).toBe(200);
    expect(list.body.campaigns.every((c: { status: string }) => c.status === 'scheduled')).toBe(true);
    expect(list.body.campaigns.map((c: { id: string }) => c.id)).toContain(a.body.campaign_id);
    expect(list.body.position).toMatch(/^\d+\.\d+$/);

    const page1 = await t.call('GET', '/api/communication/campaigns?limit=2');
    expect(page1.body.campaigns).toHaveLength(2);
    expect(page1.body.next_cursor).toEqual(expect.any(String));
    const page2 = await t.call('GET', `/api/communication/campaigns?limit=2&cursor=${page1.body.next_cursor}`);
    const ids1 = page1.body.campaigns.map((c: { id: string }) => c.id);
    expect(page2.body.campaigns.some((c: { id: string }) => ids1.includes(c.id))).toBe(false);

    const bad = await t.call('GET', '/api/communication/campaigns?status=running');
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].path).toBe('querystring.status');
  });

  it('accepts a client-chosen id and refuses it a second time with 409', async () => {
    const id = randomUUID();
    const first = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ id }) });
    expect(first.status).toBe(201);
    expect(first.body.campaign_id).toBe(id);
    const again = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ id }) });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('campaign_already_exists');
  });

  it('records correlation id, causation id, actor and timestamp on every event', async () => {
    const response = await t.call('POST', '/api/communication/campaigns', { body: campaignBody(), headers: { 'x-correlation-id': 'corr-123' } });
    expect(response.headers.get('x-correlation-id')).toBe('corr-123');
    const [event] = await t.app.store.readStream(`campaign-${response.body.campaign_id}`);
    expect(event!.type).toBe('CampaignCreated');
    expect(event!.revision).toBe(0);
    expect(event!.metadata).toMatchObject({ correlation_id: 'corr-123', causation_id: 'corr-123', schema_version: 1 });
    expect(event!.metadata.actor).toMatch(/^api-key:/);
    expect(Date.parse(event!.metadata.timestamp!)).not.toBeNaN();
  });

  it('answers 503 projection_lagging when a position is not reached in time', async () => {
    const response = await t.call('GET', '/api/communication/campaigns?min_position=99999999999.1&wait_ms=50');
    expect(response.status).toBe(503);
    expect(response.body.error).toBe('projection_lagging');
    expect(response.headers.get('retry-after')).toBe('1');
  });
});
