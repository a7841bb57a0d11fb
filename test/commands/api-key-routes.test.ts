import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, hashApiKey } from '../../src/infrastructure/auth/api-keys.js';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const base = '/api/communication/api-keys';

describe.each(testDatabases())('API key management on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { projector: false, worker: false });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('creates a key shown once, usable at once, with only the scopes granted', async () => {
    const created = await t.call('POST', base, { body: { name: 'Site web', scopes: ['campaigns:read'] } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.headers.get('location')).toBe(`${base}/${created.body.id}`);
    expect(created.body).toMatchObject({ name: 'Site web', scopes: ['campaigns:read'], status: 'active', expires_at: null, revoked_at: null, last_used_at: null });
    expect(created.body.key).toMatch(new RegExp(`^cm_${created.body.prefix}_`));

    expect((await t.call('GET', '/api/communication/campaigns', { key: created.body.key })).status).toBe(200);
    const refused = await t.call('POST', '/api/communication/campaigns', { key: created.body.key, body: {} });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('campaigns:write');
  });

  it.each([
    ['crm', ['campaigns:read', 'notifications:read', 'analytics:read', 'publications:read']],
    ['accounting', ['analytics:read', 'campaigns:read']],
  ])('grants the read-only %s preset', async (preset, scopes) => {
    const created = await t.call('POST', base, { body: { name: `module ${preset}`, preset } });
    expect(created.status).toBe(201);
    expect(created.body.scopes).toEqual(scopes);
    expect(created.body.scopes.some((s: string) => s === 'admin' || s.endsWith(':write') || s.endsWith(':send'))).toBe(false);
  });

  it.each([
    [{ name: 'x', scopes: ['campaigns:read'], preset: 'crm' }, 'body.preset'],
    [{ name: 'x' }, 'body.scopes'],
    [{ name: 'x', scopes: ['campaigns:delete'] }, 'body.scopes.0'],
    [{ name: 'x', scopes: [] }, 'body.scopes'],
    [{ name: 'x', scopes: ['campaigns:read', 'campaigns:read'] }, 'body.scopes'],
    [{ name: 'x', preset: 'marketing' }, 'body.preset'],
    [{ name: ' ', scopes: ['campaigns:read'] }, 'body.name'],
    [{ name: 'x', scopes: ['campaigns:read'], expires_at: 'tomorrow' }, 'body.expires_at'],
    [{ name: 'x', scopes: ['campaigns:read'], expires_at: '2020-01-01T00:00:00Z' }, 'body.expires_at'],
  ])('refuses %j with a 400 naming %s', async (body, path) => {
    const response = await t.call('POST', base, { body });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(response.body.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it('lists keys with their state, never a key or a hash', async () => {
    const created = await t.call('POST', base, { body: { name: 'listed', scopes: ['status:read'], expires_at: new Date(Date.now() + 3_600_000).toISOString() } });
    await t.call('GET', '/api/communication/status', { key: created.body.key });
    const listed = await t.call('GET', base);
    expect(listed.status).toBe(200);
    const entry = listed.body.api_keys.find((k: { id: string }) => k.id === created.body.id);
    expect(entry).toMatchObject({ prefix: created.body.prefix, name: 'listed', scopes: ['status:read'], status: 'active', revoked_at: null });
    expect(entry.expires_at).toBe(created.body.expires_at);
    expect(entry.last_used_at).not.toBeNull();
    expect(listed.body.api_keys.find((k: { id: string }) => k.id === 'admin')).toMatchObject({ scopes: ['admin'] });
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(created.body.key);
    expect(text).not.toContain(hashApiKey(created.body.key));
    expect(text).not.toContain(t.adminKey);
    expect(Object.keys(entry).sort()).toEqual(['created_at', 'expires_at', 'id', 'last_used_at', 'name', 'prefix', 'revoked_at', 'scopes', 'status']);
  });

  it('revokes a key by its prefix: refused at once with a 401 that says so', async () => {
    const created = await t.call('POST', base, { body: { name: 'to revoke', preset: 'accounting' } });
    expect((await t.call('DELETE', `${base}/${created.body.prefix}`)).status).toBe(204);
    const refused = await t.call('GET', '/api/communication/campaigns', { key: created.body.key });
    expect(refused.status).toBe(401);
    expect(refused.body.message).toBe(`The API key ${created.body.prefix} was revoked`);
    const listed = await t.call('GET', base);
    expect(listed.body.api_keys.find((k: { id: string }) => k.id === created.body.id)).toMatchObject({ status: 'revoked' });
    expect((await t.call('DELETE', `${base}/${created.body.id}`)).status).toBe(204);
  });

  it('refuses an expired key with a 401 that says so', async () => {
    const { key, record } = await new ApiKeyStore(t.app.db).create('expired', ['campaigns:read'], new Date(Date.now() - 1_000));
    const refused = await t.call('GET', '/api/communication/campaigns', { key });
    expect(refused.status).toBe(401);
    expect(refused.body.message).toMatch(new RegExp(`^The API key ${record.prefix} expired at`));
    const listed = await t.call('GET', base);
    expect(listed.body.api_keys.find((k: { id: string }) => k.id === record.id)).toMatchObject({ status: 'expired' });
  });

  it('answers 404 for an unknown key, 422 for the bootstrap admin key, 400 for a whole key in the path', async () => {
    expect((await t.call('DELETE', `${base}/ffffffff`)).body).toMatchObject({ error: 'api_key_not_found', details: [{ path: 'params.id' }] });
    const admin = await t.call('DELETE', `${base}/admin`);
    expect(admin.status).toBe(422);
    expect(admin.body.error).toBe('api_key_protected');
    const adminPrefix = (await t.call('GET', base)).body.api_keys.find((k: { id: string }) => k.id === 'admin').prefix;
    expect((await t.call('DELETE', `${base}/${adminPrefix}`)).status).toBe(422);
    const whole = await t.call('DELETE', `${base}/${t.adminKey}`);
    expect(whole.status).toBe(400);
    expect(JSON.stringify(whole.body)).not.toContain(t.adminKey);
  });

  it('keeps key management to admin keys', async () => {
    const reader = await t.keyWith(['campaigns:read', 'webhooks:write']);
    for (const [method, path] of [['GET', base], ['POST', base], ['DELETE', `${base}/ffffffff`]] as const) {
      const response = await t.call(method, path, { key: reader, body: method === 'POST' ? { name: 'x', preset: 'crm' } : undefined });
      expect(response.status).toBe(403);
      expect(response.body.message).toBe('This route needs the scope admin');
    }
    expect((await t.call('GET', base, { key: null })).status).toBe(401);
  });

  it('does not keep a created key for an Idempotency-Key replay', async () => {
    const headers = { 'idempotency-key': 'create-key-1' };
    const first = await t.call('POST', base, { body: { name: 'retried', preset: 'crm' }, headers });
    const second = await t.call('POST', base, { body: { name: 'retried', preset: 'crm' }, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.key).not.toBe(first.body.key);
    const records = await t.app.db.selectFrom('idempotency_records').select(['key', 'response_body']).execute();
    expect(records.filter((r) => r.key === 'create-key-1')).toEqual([]);
    expect(JSON.stringify(records)).not.toContain(first.body.key);
  });
});
