import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityStreamId } from '../../../src/domain/security-alert.js';
import { pgliteDatabase } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

describe('request rate limit per API key', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { projector: false, worker: false, env: { COMM_RATE_LIMIT_PER_MINUTE: '5' } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('answers 429 in the catalogue shape with Retry-After past the limit, per key', async () => {
    const [busy, other] = [await t.keyWith(['campaigns:read']), await t.keyWith(['campaigns:read'])];
    for (let i = 0; i < 5; i++) expect((await t.call('GET', '/api/communication/campaigns', { key: busy })).status).toBe(200);
    const refused = await t.call('GET', '/api/communication/campaigns', { key: busy });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'too_many_requests', details: [] });
    expect(refused.body.message).toMatch(/^At most 5 requests a minute; retry in /);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('5');
    expect((await t.call('GET', '/api/communication/campaigns', { key: other })).status).toBe(200);
  });

  it('leaves the health probes out', async () => {
    for (let i = 0; i < 8; i++) expect((await t.call('GET', '/health/live', { key: null })).status).toBe(200);
  });
});

describe('failed authentications from one address', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, {
      projector: false,
      worker: false,
      env: { COMM_AUTH_FAILURE_LIMIT: '3', COMM_AUTH_FAILURE_ALERT_THRESHOLD: '2' },
    });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('raise one security alert per crossing, then get 429 while valid keys keep working', async () => {
    const bad = 'cm_00000000_not-a-key-of-this-service';
    for (let i = 0; i < 3; i++) expect((await t.call('GET', '/api/communication/campaigns', { key: bad })).status).toBe(401);
    const refused = await t.call('GET', '/api/communication/campaigns', { key: bad });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'too_many_requests', details: [{ path: 'headers.authorization' }] });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(200);
    expect((await t.call('GET', '/api/communication/campaigns', { key: null })).status).toBe(429);

    // The address is not locked out: a valid key from it is served.
    expect((await t.call('GET', '/api/communication/campaigns')).status).toBe(200);

    const events = await t.app.store.readStream(securityStreamId(new Date()));
    expect(events.map((e) => [e.type, (e.data as { subject_type: string }).subject_type])).toEqual([
      ['SecurityAlertRaised', 'client_address'],
      ['SecurityAlertRaised', 'key_prefix'],
    ]);
    expect(events[0]!.data).toMatchObject({ kind: 'repeated_authentication_failures', subject: '127.0.0.1', failures: 2, threshold: 2, reasons: { unknown: 2 } });
    expect(events[1]!.data).toMatchObject({ subject: '00000000' });
    expect(JSON.stringify(events.map((e) => [e.data, e.metadata]))).not.toContain(bad);
  });
});
