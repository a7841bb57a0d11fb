import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const base = '/api/communication/webhooks';

describe.each(testDatabases())('webhook registration API on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    // No worker: these tests look at registrations, not at deliveries.
    t = await startTestApp(database, { worker: false });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const body = { url: 'https://crm.example.fr/hooks/communication', event_types: ['publication_success', 'publication_failure'], description: 'CRM' };

  it('registers a webhook with a generated secret, shown once and masked afterwards', async () => {
    const created = await t.call('POST', base, { body });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      url: body.url,
      event_types: body.event_types,
      description: 'CRM',
      created_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
    });
    expect(created.headers.get('location')).toBe(`${base}/${created.body.id}`);
    const masked = `whsec_…${created.body.secret.slice(-4)}`;

    const one = await t.call('GET', `${base}/${created.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ...created.body, secret: masked });
    const list = await t.call('GET', base);
    expect(list.body.webhooks).toContainEqual({ ...created.body, secret: masked });
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
  });

  it('keeps a given secret, masked to its last 4 characters', async () => {
    const secret = 'my-own-secret-of-32-characters!!';
    const created = await t.call('POST', base, { body: { url: 'http://crm.internal:8080/hooks', event_types: ['engagement'], secret } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ secret, description: null });
    const read = await t.call('GET', `${base}/${created.body.id}`);
    expect(read.body.secret).toBe('…rs!!');
  });

  it.each([
    [{ ...body, url: 'ftp://crm.example.fr/hooks' }, 'body.url'],
    [{ ...body, url: 'javascript:alert(1)' }, 'body.url'],
    [{ ...body, url: 'not a url' }, 'body.url'],
    [{ ...body, url: 'https://user:password@crm.example.fr/hooks' }, 'body.url'],
    [{ ...body, event_types: [] }, 'body.event_types'],
    [{ ...body, event_types: ['publication_deleted'] }, 'body.event_types.0'],
    [{ ...body, event_types: ['engagement', 'engagement'] }, 'body.event_types'],
    [{ ...body, secret: 'too-short' }, 'body.secret'],
    [{ event_types: ['engagement'] }, 'body.url'],
  ])('refuses %j with 400 naming %s', async (bad, path) => {
    const response = await t.call('POST', base, { body: bad });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe('validation_failed');
    expect(response.body.details.map((d: { path: string }) => d.path)).toContain(path);
    expect(JSON.stringify(response.body)).not.toContain('password');
  });

  it('needs webhooks:write to register and delete, webhooks:read to read', async () => {
    const reader = await t.keyWith(['webhooks:read']);
    const writer = await t.keyWith(['webhooks:write']);
    expect((await t.call('POST', base, { body, key: reader })).status).toBe(403);
    expect((await t.call('GET', base, { key: writer })).status).toBe(403);
    const created = await t.call('POST', base, { body, key: writer });
    expect(created.status).toBe(201);
    expect((await t.call('GET', `${base}/${created.body.id}`, { key: reader })).status).toBe(200);
    expect((await t.call('DELETE', `${base}/${created.body.id}`, { key: reader })).status).toBe(403);
    expect((await t.call('GET', base, { key: null })).status).toBe(401);
  });

  it('deletes a webhook (204), after which it is not found', async () => {
    const created = await t.call('POST', base, { body });
    const deleted = await t.call('DELETE', `${base}/${created.body.id}`);
    expect(deleted.status).toBe(204);
    expect((await t.call('GET', `${base}/${created.body.id}`)).body).toMatchObject({ error: 'webhook_not_found', details: [{ path: 'params.id' }] });
    expect((await t.call('DELETE', `${base}/${created.body.id}`)).status).toBe(404);
    expect((await t.call('GET', `${base}/${created.body.id}/deliveries`)).status).toBe(404);
    expect((await t.call('GET', base)).body.webhooks.map((w: { id: string }) => w.id)).not.toContain(created.body.id);
  });

  it('answers 400 for a malformed id or cursor and 404 for an unknown id', async () => {
    expect((await t.call('GET', `${base}/not-a-uuid`)).body).toMatchObject({ error: 'validation_failed', details: [{ path: 'params.id' }] });
    expect((await t.call('GET', `${base}/${randomUUID()}`)).status).toBe(404);
    const created = await t.call('POST', base, { body });
    const badCursor = await t.call('GET', `${base}/${created.body.id}/deliveries?cursor=nonsense`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.details[0].path).toBe('querystring.cursor');
    const badStatus = await t.call('GET', `${base}/${created.body.id}/deliveries?status=lost`);
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.details[0].path).toBe('querystring.status');
  });

  it('lists the delivery log newest first, by pages, filtered by status', async () => {
    const created = await t.call('POST', base, { body: { ...body, event_types: ['publication_success'] } });
    const id = created.body.id as string;
    const eventIds = [randomUUID(), randomUUID(), randomUUID()];
    for (const [index, eventId] of eventIds.entries()) {
      await t.app.db
        .insertInto('webhook_deliveries')
        .values({
          subscription_id: id,
          event_id: eventId,
          event_type: 'publication_success',
          body: '{}',
          status: index === 0 ? 'delivered' : 'pending',
          created_at: new Date(Date.now() + index * 1_000),
        })
        .execute();
    }
    const first = await t.call('GET', `${base}/${id}/deliveries?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.deliveries.map((d: { event_id: string }) => d.event_id)).toEqual([eventIds[2], eventIds[1]]);
    expect(first.body.deliveries[0]).toMatchObject({ event_type: 'publication_success', status: 'pending', attempts: 0, last_status_code: null, last_error: null });
    const second = await t.call('GET', `${base}/${id}/deliveries?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body).toMatchObject({ deliveries: [{ event_id: eventIds[0], status: 'delivered' }], next_cursor: null });
    const pending = await t.call('GET', `${base}/${id}/deliveries?status=pending`);
    expect(pending.body.deliveries).toHaveLength(2);
  });
});
