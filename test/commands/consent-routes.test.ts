import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUnsubscribeToken } from '../../src/platforms/notifications/compliance/unsubscribe-token.js';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

/** The app reads it from COMM_UNSUBSCRIBE_SECRET; the tests make their tokens with it. */
const testUnsubscribeSecret = 'test-unsubscribe-secret-0123456789abcdef';

const consents = '/api/communication/consents';
const suppressions = '/api/communication/suppressions';
const unsubscribe = (token: string) => `/api/communication/unsubscribe/${token}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe.each(testDatabases())('consent API on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { worker: false, env: { COMM_UNSUBSCRIBE_SECRET: testUnsubscribeSecret } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const read = async (recipient: string, channel?: string, position?: string | null) => {
    const query = new URLSearchParams({ recipient, ...(channel ? { channel } : {}), ...(position ? { min_position: position } : {}) });
    const response = await t.call('GET', `${consents}?${query}`);
    expect(response.status).toBe(200);
    return response.body.consents;
  };

  describe('POST /consents', () => {
    it('records a consent (202 with revision and position), readable at that position', async () => {
      const response = await t.call('POST', consents, {
        body: { recipient: ' Marie.Dupont@Example.fr ', channel: 'email', granted: true, source: 'website_form' },
      });
      expect(response.status).toBe(202);
      expect(response.body).toEqual({
        recipient: 'marie.dupont@example.fr',
        channel: 'email',
        granted: true,
        suppressed: false,
        suppression_reasons: [],
        changed: true,
        revision: 0,
        position: expect.stringMatching(/^\d+\.\d+$/),
      });
      expect(response.headers.get('x-position')).toBe(response.body.position);

      const rows = await read('marie.dupont@example.fr', 'email', response.body.position);
      expect(rows).toEqual([
        expect.objectContaining({
          recipient: 'marie.dupont@example.fr',
          channel: 'email',
          granted: true,
          source: 'website_form',
          suppressed: false,
          suppression_reason: null,
          suppressions: [],
          revision: 0,
        }),
      ]);
    });

    it('records nothing when the same state is sent again', async () => {
      const body = { recipient: 'paul@example.fr', channel: 'email', granted: true, source: 'crm' };
      const first = await t.call('POST', consents, { body });
      const again = await t.call('POST', consents, { body: { ...body, source: 'in_restaurant' } });
      expect(again.status).toBe(202);
      expect(again.body).toMatchObject({ changed: false, revision: first.body.revision, position: null });
    });

    it('records a withdrawal', async () => {
      const body = { recipient: '+33611111111', channel: 'sms', granted: true, source: 'in_restaurant' };
      await t.call('POST', consents, { body });
      const withdrawn = await t.call('POST', consents, { body: { ...body, granted: false, source: 'crm' } });
      expect(withdrawn.body).toMatchObject({ granted: false, changed: true, revision: 1 });
      expect(await read('+33611111111', 'sms', withdrawn.body.position)).toEqual([expect.objectContaining({ granted: false, source: 'crm' })]);
    });

    it.each([
      [{ recipient: 'not-an-email', channel: 'email' }, 'body.recipient', /email/],
      [{ recipient: '0612345678', channel: 'sms' }, 'body.recipient', /E\.164/],
      [{ recipient: 'a@example.fr', channel: 'fax' }, 'body.channel', /./],
      [{ recipient: 'a@example.fr', channel: 'email', source: '  ' }, 'body.source', /./],
      [{ recipient: 'a@example.fr', channel: 'email', granted: 'yes' }, 'body.granted', /./],
      [{ recipient: 'a@example.fr', channel: 'email', extra: 1 }, 'body', /extra/],
    ])('refuses %j with 400 naming %s', async (changes, path, message) => {
      const response = await t.call('POST', consents, { body: { granted: true, source: 'crm', ...changes } });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('validation_failed');
      expect(response.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.stringMatching(message) })]));
    });

    it('replays an Idempotency-Key', async () => {
      const body = { recipient: 'idem@example.fr', channel: 'email', granted: true, source: 'crm' };
      const headers = { 'idempotency-key': 'consent-idem-1' };
      const first = await t.call('POST', consents, { body, headers });
      const again = await t.call('POST', consents, { body, headers });
      expect(again.status).toBe(202);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
    });
  });

  describe('GET /consents', () => {
    it('lists every channel of a recipient when no channel is given, and nothing for an unknown one', async () => {
      const sms = await t.call('POST', consents, { body: { recipient: '+33622222222', channel: 'sms', granted: true, source: 'crm' } });
      const push = await t.call('POST', consents, { body: { recipient: '+33622222222', channel: 'push', granted: false, source: 'crm' } });
      expect(push.status).toBe(202);
      const position = [sms.body.position, push.body.position].sort().at(-1);
      expect((await read('+33622222222', undefined, position)).map((c: { channel: string }) => c.channel)).toEqual(['sms', 'push']);
      expect(await read('nobody@example.fr', 'email')).toEqual([]);
    });

    it('tags the response with the position it reflects, and validates the recipient for the channel', async () => {
      const response = await t.call('GET', `${consents}?recipient=marie.dupont%40example.fr&channel=email`);
      expect(response.headers.get('x-read-position')).toMatch(/^\d+\.\d+$/);
      const bad = await t.call('GET', `${consents}?recipient=0612345678&channel=sms`);
      expect(bad.status).toBe(400);
      expect(bad.body.details).toEqual([expect.objectContaining({ path: 'querystring.recipient' })]);
      expect((await t.call('GET', consents)).status).toBe(400);
    });
  });

  describe('POST /suppressions', () => {
    it('a STOP suppresses marketing and withdraws consent', async () => {
      await t.call('POST', consents, { body: { recipient: '+33633333333', channel: 'sms', granted: true, source: 'website_form' } });
      const response = await t.call('POST', suppressions, { body: { recipient: '+33633333333', channel: 'sms', reason: 'stop', source: 'twilio' } });
      expect(response.status).toBe(202);
      expect(response.body).toMatchObject({ granted: false, suppressed: true, suppression_reasons: ['stop'], changed: true, revision: 2 });
      expect(await read('+33633333333', 'sms', response.body.position)).toEqual([
        expect.objectContaining({ granted: false, source: 'twilio', suppressed: true, suppression_reason: 'stop' }),
      ]);
    });

    it('a hard bounce, then its release', async () => {
      const body = { recipient: 'bounce@example.fr', channel: 'email', reason: 'hard_bounce', source: 'sendgrid' };
      const suppressed = await t.call('POST', suppressions, { body });
      expect(suppressed.body).toMatchObject({ granted: null, suppressed: true, suppression_reasons: ['hard_bounce'] });
      expect(await read('bounce@example.fr', 'email', suppressed.body.position)).toEqual([
        expect.objectContaining({ granted: null, suppression_reason: 'hard_bounce', suppressions: [expect.objectContaining({ reason: 'hard_bounce', source: 'sendgrid' })] }),
      ]);
      expect((await t.call('POST', suppressions, { body })).body).toMatchObject({ changed: false, position: null });

      const released = await t.call('POST', `${suppressions}/release`, { body: { ...body, source: 'crm' } });
      expect(released.status).toBe(202);
      expect(released.body).toMatchObject({ suppressed: false, suppression_reasons: [], changed: true });
      expect(await read('bounce@example.fr', 'email', released.body.position)).toEqual([expect.objectContaining({ suppressed: false, suppression_reason: null })]);
    });

    it('refuses an unknown reason and a bad recipient', async () => {
      const response = await t.call('POST', suppressions, { body: { recipient: 'x', channel: 'email', reason: 'annoyed', source: 'crm' } });
      expect(response.status).toBe(400);
      expect(response.body.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['body.reason']));
    });
  });

  describe('scopes', () => {
    it('writes need notifications:send, reads notifications:read, and every route a key', async () => {
      const reader = await t.keyWith(['notifications:read']);
      const sender = await t.keyWith(['notifications:send']);
      const body = { recipient: 'scope@example.fr', channel: 'email', granted: true, source: 'crm' };
      expect((await t.call('POST', consents, { body, key: reader })).status).toBe(403);
      expect((await t.call('POST', suppressions, { body: { ...body, granted: undefined, reason: 'stop' }, key: reader })).status).toBe(403);
      expect((await t.call('POST', consents, { body, key: sender })).status).toBe(202);
      expect((await t.call('GET', `${consents}?recipient=scope%40example.fr`, { key: sender })).status).toBe(403);
      expect((await t.call('GET', `${consents}?recipient=scope%40example.fr`, { key: reader })).status).toBe(200);
      expect((await t.call('POST', consents, { body, key: null })).status).toBe(401);
      expect((await t.call('GET', `${consents}?recipient=scope%40example.fr`, { key: null })).status).toBe(401);
    });
  });

  describe('unsubscribe link (RFC 8058)', () => {
    const subscribe = async (recipient: string) =>
      t.call('POST', consents, { body: { recipient, channel: 'email', granted: true, source: 'website_form' } });

    it('GET shows a confirmation page that posts back, without a key, and changes nothing', async () => {
      const created = await subscribe('page@example.fr');
      const token = createUnsubscribeToken(testUnsubscribeSecret, { recipient: 'page@example.fr', channel: 'email' });
      const page = await t.call('GET', unsubscribe(token), { key: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
      expect(page.headers.get('cache-control')).toBe('no-store');
      expect(page.body).toContain('<form method="post">');
      expect(page.body).toContain('name="List-Unsubscribe" value="One-Click"');
      expect(page.body).not.toContain('page@example.fr');
      expect(await read('page@example.fr', 'email', created.body.position)).toEqual([expect.objectContaining({ granted: true, suppressed: false })]);
    });

    it('one-click POST (List-Unsubscribe=One-Click, no key) suppresses marketing and withdraws consent; again changes nothing', async () => {
      await subscribe('oneclick@example.fr');
      const token = createUnsubscribeToken(testUnsubscribeSecret, { recipient: 'oneclick@example.fr', channel: 'email' });
      const response = await t.call('POST', unsubscribe(token), { key: null, headers: form, body: 'List-Unsubscribe=One-Click' });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ status: 'unsubscribed', channel: 'email', position: expect.stringMatching(/^\d+\.\d+$/) });
      expect(await read('oneclick@example.fr', 'email', response.body.position)).toEqual([
        expect.objectContaining({
          granted: false,
          source: 'unsubscribe_link',
          suppressed: true,
          suppression_reason: 'unsubscribe',
          suppressions: [expect.objectContaining({ reason: 'unsubscribe', source: 'unsubscribe_link' })],
        }),
      ]);
      const again = await t.call('POST', unsubscribe(token), { key: null, headers: form, body: 'List-Unsubscribe=One-Click' });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ status: 'unsubscribed', position: null });
    });

    it('accepts multipart and empty bodies, and answers a browser with a page', async () => {
      const token = createUnsubscribeToken(testUnsubscribeSecret, { recipient: 'browser@example.fr', channel: 'email' });
      const boundary = '----x';
      const multipart = await t.call('POST', unsubscribe(token), {
        key: null,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: `--${boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--${boundary}--\r\n`,
      });
      expect(multipart.status).toBe(200);
      // Never subscribed: the unsubscribe is recorded all the same.
      expect(await read('browser@example.fr', 'email', multipart.body.position)).toEqual([
        expect.objectContaining({ granted: false, suppression_reason: 'unsubscribe' }),
      ]);
      const empty = await t.call('POST', unsubscribe(token), { key: null });
      expect(empty.status).toBe(200);
      const browser = await t.call('POST', unsubscribe(token), { key: null, headers: { ...form, accept: 'text/html' }, body: 'List-Unsubscribe=One-Click' });
      expect(browser.status).toBe(200);
      expect(browser.headers.get('content-type')).toMatch(/^text\/html/);
      expect(browser.body).toContain('désinscrit');
    });

    it('refuses a tampered or foreign token (400), as JSON or as a page', async () => {
      const token = createUnsubscribeToken(testUnsubscribeSecret, { recipient: 'tamper@example.fr', channel: 'email' });
      const tampered = `${token.slice(0, 10)}${token[10] === 'A' ? 'B' : 'A'}${token.slice(11)}`;
      const foreign = createUnsubscribeToken('some-other-secret-of-32-characters-or-more', { recipient: 'tamper@example.fr', channel: 'email' });
      for (const bad of [tampered, foreign, 'nonsense']) {
        const response = await t.call('POST', unsubscribe(bad), { key: null, headers: form, body: 'List-Unsubscribe=One-Click' });
        expect(response.status).toBe(400);
        expect(response.body).toMatchObject({ error: 'invalid_unsubscribe_token', details: [{ path: 'params.token' }] });
        const page = await t.call('GET', unsubscribe(bad), { key: null });
        expect(page.status).toBe(400);
        expect(page.body).toContain('Lien non valide');
      }
      expect(await read('tamper@example.fr', 'email')).toEqual([]);
    });
  });
});
