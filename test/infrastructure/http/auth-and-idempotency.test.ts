import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../../support/databases.js';
import { campaignBody, startTestApp, type RunningApp } from '../../support/test-app.js';

describe.each(testDatabases())('authentication and Idempotency-Key on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('refuses a request without a key (401 with a Bearer challenge)', async () => {
    const response = await t.call('GET', '/api/communication/campaigns', { key: null });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(response.body).toMatchObject({ error: 'unauthorized', details: [{ path: 'headers.authorization' }] });
  });

  it('refuses an unknown key and a malformed header', async () => {
    expect((await t.call('GET', '/api/communication/campaigns', { key: 'cm_00000000_nope' })).status).toBe(401);
    const basic = await t.call('GET', '/api/communication/campaigns', { key: null, headers: { authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
  });

  it('refuses a key without the route scope (403) and accepts one with it', async () => {
    const reader = await t.keyWith(['campaigns:read']);
    const write = await t.call('POST', '/api/communication/campaigns', { body: campaignBody(), key: reader });
    expect(write.status).toBe(403);
    expect(write.body.message).toContain('campaigns:write');
    const read = await t.call('GET', '/api/communication/campaigns', { key: reader });
    expect(read.status).toBe(200);
  });

  it('keeps health probes and the API docs open, and everything else closed', async () => {
    expect((await t.call('GET', '/health/live', { key: null })).status).toBe(200);
    expect((await t.call('GET', '/health/ready', { key: null })).status).toBe(200);
    const docs = await t.call('GET', '/docs/json', { key: null });
    expect(docs.status).toBe(200);
    expect(docs.body.paths).toHaveProperty('/api/communication/campaigns');
    expect(docs.body.paths).toHaveProperty('/api/communication/status');

    const open = t.app.server.printRoutes({ commonPrefix: false });
    expect(open).toContain('/api/communication/campaigns');
    for (const path of ['/api/communication/status', '/api/communication/campaigns']) {
      expect((await t.call('GET', path, { key: null })).status).toBe(401);
    }
  });

  it('replays the first response for the same key and body', async () => {
    const body = campaignBody();
    const headers = { 'idempotency-key': 'create-once-1' };
    const first = await t.call('POST', '/api/communication/campaigns', { body, headers });
    const second = await t.call('POST', '/api/communication/campaigns', { body, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(second.headers.get('location')).toBe(first.headers.get('location'));
    const events = await t.app.store.readStream(`campaign-${first.body.campaign_id}`);
    expect(events).toHaveLength(1);
  });

  it('treats the same body with keys in another order as the same request', async () => {
    const body = campaignBody();
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const headers = { 'idempotency-key': 'create-once-2' };
    const first = await t.call('POST', '/api/communication/campaigns', { body, headers });
    const second = await t.call('POST', '/api/communication/campaigns', { body: reordered, headers });
    expect(second.body).toEqual(first.body);
  });

  it('refuses the same key with a different body (422)', async () => {
    const headers = { 'idempotency-key': 'create-once-3' };
    await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ name: 'one' }), headers });
    const other = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ name: 'two' }), headers });
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('idempotency_key_reused');
  });

  it('answers 409 with Retry-After while the first request with the key is still running', async () => {
    const body = campaignBody();
    // A first attempt that is in flight: the record exists, not finished, and fresh.
    const first = await t.call('POST', '/api/communication/campaigns', { body, headers: { 'idempotency-key': 'running-1' } });
    await t.app.db.updateTable('idempotency_records').set({ state: 'in_progress', updated_at: new Date() }).where('key', '=', 'running-1').execute();
    const second = await t.call('POST', '/api/communication/campaigns', { body, headers: { 'idempotency-key': 'running-1' } });
    expect(first.status).toBe(201);
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('idempotency_in_progress');
    expect(second.headers.get('retry-after')).toBe('1');
  });

  it('runs two simultaneous requests with one key once', async () => {
    const body = campaignBody();
    const headers = { 'idempotency-key': 'race-1' };
    const responses = await Promise.all([1, 2, 3].map(() => t.call('POST', '/api/communication/campaigns', { body, headers })));
    const created = responses.filter((r) => r.status === 201);
    const busy = responses.filter((r) => r.status === 409);
    expect(created.length + busy.length).toBe(3);
    expect(new Set(created.map((r) => r.body.campaign_id)).size).toBe(1);
  });

  it('keeps the key per API key: another key may use the same Idempotency-Key', async () => {
    const other = await t.keyWith(['campaigns:write']);
    const headers = { 'idempotency-key': 'shared-name' };
    const a = await t.call('POST', '/api/communication/campaigns', { body: campaignBody(), headers });
    const b = await t.call('POST', '/api/communication/campaigns', { body: campaignBody({ name: 'autre' }), headers, key: other });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.campaign_id).not.toBe(a.body.campaign_id);
  });

  it('reports every component on the status route', async () => {
    const response = await t.call('GET', '/api/communication/status');
    expect(response.status).toBe(200);
    expect(response.body.status).toMatch(/ok|degraded/);
    expect(response.body.components.event_store.status).toBe('up');
    expect(response.body.components.read_models.status).toBe('up');
    expect(response.body.components.message_bus.status).toBe('up');
    expect(response.body.components.projections.projections.map((p: { name: string }) => p.name)).toContain('campaigns');
  });
});
