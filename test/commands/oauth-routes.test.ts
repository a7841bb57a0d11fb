import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeChallengeS256 } from '../../src/platforms/social/oauth/pkce.js';
import { testDatabases } from '../support/databases.js';
import { connectThroughBrowser, oauthClients, oauthPlatformsJson, publicUrl, startOAuthDoubles } from '../support/oauth-doubles.js';
import { igUserId, pageId, type PlatformDoubles } from '../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

/**
 * Connecting each platform's account through its real OAuth 2.0 flow, against the platforms' doubles: the admin route
 * gives the consent URL, the double consents and redirects the browser to the callback (reached without an API key),
 * which checks the state, exchanges the code and keeps the tokens in the vault. The connectors then post with them.
 */

const connections = '/api/communication/connections';

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(testDatabases())('OAuth connections on $name', (database) => {
  let doubles: PlatformDoubles;
  let t: RunningApp;

  beforeAll(async () => {
    doubles = await startOAuthDoubles();
    t = await startTestApp(database, { platforms: oauthPlatformsJson(doubles), env: { COMM_PUBLIC_URL: publicUrl }, scheduler: { pollIntervalMs: 50 } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await doubles?.close();
    await database.cleanup();
  });

  it('lists every platform as not connected before anyone connects it, with OAuth available', async () => {
    const listed = await t.call('GET', connections);
    expect(listed.status).toBe(200);
    expect(listed.body.connections.map((c: { platform: string }) => c.platform)).toEqual(['facebook', 'instagram', 'twitter', 'google_business', 'linkedin']);
    for (const connection of listed.body.connections) {
      expect(connection).toMatchObject({ status: 'not_connected', token_source: null, oauth: { available: true, problems: [] } });
    }
  });

  it('starts X with PKCE S256, a single-use state and the offline.access scope, without caching the answer', async () => {
    const started = await t.call('POST', `${connections}/twitter/authorize`);
    expect(started.status).toBe(200);
    expect(started.headers.get('cache-control')).toBe('no-store');
    const url = new URL(started.body.authorization_url);
    expect(`${url.origin}${url.pathname}`).toBe(`${doubles.x.url}/i/oauth2/authorize`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: oauthClients.x.clientId,
      redirect_uri: `${publicUrl}/api/communication/connections/twitter/callback`,
      scope: 'tweet.read tweet.write users.read offline.access media.write',
      code_challenge_method: 'S256',
    });
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The verifier is ours alone: neither the URL nor the database shows it.
    const stored = await t.app.sql.query<{ code_verifier: string }>(`SELECT code_verifier FROM oauth_states`);
    expect(stored.rows.every((row) => row.code_verifier.startsWith('sealed:v1:'))).toBe(true);
    expect(Date.parse(started.body.state_expires_at) - Date.now()).toBeGreaterThan(10 * 60_000);
  });

  it('keeps no Idempotency-Key record of a start: it would hold the state in clear', async () => {
    const started = await t.call('POST', `${connections}/linkedin/authorize`, { headers: { 'idempotency-key': randomUUID() } });
    expect(started.status).toBe(200);
    const state = new URL(started.body.authorization_url).searchParams.get('state')!;
    const records = await t.app.sql.query<{ row: string }>('SELECT t::text AS row FROM idempotency_records AS t');
    expect(records.rows.map((r) => r.row).join('\n')).not.toContain(state);
  });

  it('redirects with 302 on GET /authorize, for a browser that holds the admin key', async () => {
    const response = await fetch(`${t.url}${connections}/google_business/authorize`, { headers: { authorization: `Bearer ${t.adminKey}` }, redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${doubles.google.url}/o/oauth2/v2/auth`);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ access_type: 'offline', prompt: 'consent', code_challenge_method: 'S256', scope: 'https://www.googleapis.com/auth/business.manage' });
  });

  it('connects X: the code exchanged with the verifier and HTTP Basic, tokens in the vault, PlatformConnected without them', async () => {
    const { started, callback } = await connectThroughBrowser(t, 'twitter');
    expect(callback.status, JSON.stringify(callback.body)).toBe(200);
    expect(callback.headers.get('cache-control')).toBe('no-store');
    expect(callback.body).toMatchObject({ platform: 'twitter', account: 'me', status: 'connected', refreshable: true, scopes: expect.arrayContaining(['offline.access', 'tweet.write']) });
    expect(Date.parse(callback.body.expires_at) - Date.now()).toBeGreaterThan(7_000_000);

    const authorization = doubles.x.authorization!;
    const consentRequest = authorization.authorizationRequests.at(-1)!;
    expect(consentRequest.code_challenge).toBe(new URL(started.body.authorization_url).searchParams.get('code_challenge'));
    expect(authorization.tokenRequests.at(-1)).toEqual({ grantType: 'authorization_code', clientAuthentication: 'basic', verdict: 'ok' });

    const [accessToken, refreshToken] = authorization.issued.slice(-2);
    expect(await t.app.vault.get('platforms/twitter/access_token')).toBe(accessToken);
    expect(await t.app.vault.get('platforms/twitter/refresh_token')).toBe(refreshToken);
    const events = await t.app.store.readStream('connection-twitter');
    expect(events.map((e) => e.type)).toEqual(['PlatformConnected']);
    const recorded = JSON.stringify(events.map((e) => ({ data: e.data, metadata: e.metadata })));
    expect(recorded).not.toContain(accessToken);
    expect(recorded).not.toContain(refreshToken);
  });

  it('refuses the same state twice, an unknown one, and a state made for another platform', async () => {
    const { redirect } = await connectThroughBrowser(t, 'linkedin');
    const replay = await t.call('GET', `${redirect.pathname}${redirect.search}`, { key: null });
    expect(replay.status, JSON.stringify(replay.body)).toBe(400);
    expect(replay.body).toMatchObject({ error: 'oauth_state_invalid', details: [{ path: 'query.state' }] });

    const unknown = await t.call('GET', `${connections}/linkedin/callback?code=abc&state=${randomUUID()}`, { key: null });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('oauth_state_invalid');

    const started = await t.call('POST', `${connections}/google_business/authorize`);
    const state = new URL(started.body.authorization_url).searchParams.get('state');
    const crossed = await t.call('GET', `${connections}/linkedin/callback?code=abc&state=${state}`, { key: null });
    expect(crossed.status).toBe(400);
    expect(crossed.body.error).toBe('oauth_state_invalid');
  });

  it('answers 400 naming the field for a callback without state or code, and a refused consent', async () => {
    const noState = await t.call('GET', `${connections}/linkedin/callback?code=abc`, { key: null });
    expect(noState.status).toBe(400);
    expect(noState.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'query.state' }] });

    doubles.google.authorization!.denyNextConsent();
    const { callback } = await connectThroughBrowser(t, 'google_business');
    expect(callback.status).toBe(400);
    expect(callback.body).toMatchObject({ error: 'oauth_denied', details: [{ path: 'query.error', message: 'access_denied' }] });
  });

  it('answers 400 oauth_code_rejected when the platform refuses the code, and 400 for an unknown platform', async () => {
    const { callback } = await connectThroughBrowser(t, 'linkedin', (redirect) => redirect.searchParams.set('code', 'AQT-forged-code'));
    expect(callback.status).toBe(400);
    expect(callback.body).toMatchObject({ error: 'oauth_code_rejected', details: [{ path: 'query.code', message: 'invalid_request' }] });

    const unknown = await t.call('POST', `${connections}/myspace/authorize`);
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'params.platform' }] });
  });

  it('answers a 4xx, never a 5xx, whatever a browser or an attacker puts in the callback query', { timeout: 60_000 }, async () => {
    const value = fc.oneof(fc.string({ maxLength: 50 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(''), fc.string({ minLength: 1_000, maxLength: 1_000 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('twitter', 'facebook', 'linkedin', 'pinterest'), fc.dictionary(fc.constantFrom('code', 'state', 'error', 'error_description', 'scope', '__proto__'), value), async (platform, query) => {
        const search = new URLSearchParams(query as Record<string, string>).toString();
        const response = await t.call('GET', `${connections}/${platform}/callback?${search}`, { key: null });
        expect(response.status, `${platform}?${search.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(response.body).toMatchObject({ error: expect.any(String), details: expect.any(Array) });
      }),
      { numRuns: 25 },
    );
  });

  it('answers 502, not 500, when the token endpoint cannot be reached, and the state stays spent', async () => {
    doubles.google.authorization!.failTokenRequests('network');
    const { callback, redirect } = await connectThroughBrowser(t, 'google_business');
    expect(callback.status).toBe(502);
    expect(callback.body.error).toBe('platform_unavailable');
    const again = await t.call('GET', `${redirect.pathname}${redirect.search}`, { key: null });
    expect(again.body.error).toBe('oauth_state_invalid');
  });

  it('connects Google Business Profile with PKCE and a refresh token, and LinkedIn with its year-long refresh token', async () => {
    const googleTrip = await connectThroughBrowser(t, 'google_business');
    expect(googleTrip.callback.status, JSON.stringify(googleTrip.callback.body)).toBe(200);
    expect(googleTrip.callback.body).toMatchObject({ account: '9988776655', refreshable: true, scopes: ['https://www.googleapis.com/auth/business.manage'] });
    const consent = doubles.google.authorization!.authorizationRequests.at(-1)!;
    expect(consent.code_challenge).toBeTruthy();

    const linkedinTrip = await connectThroughBrowser(t, 'linkedin');
    expect(linkedinTrip.callback.status, JSON.stringify(linkedinTrip.callback.body)).toBe(200);
    expect(linkedinTrip.callback.body).toMatchObject({ account: '2414183', refreshable: true, scopes: ['w_organization_social', 'r_organization_social'] });
    const refresh = (await t.app.vault.list()).find((s) => s.name === 'platforms/linkedin/refresh_token')!;
    expect(refresh.expiresAt!.getTime() - Date.now()).toBeGreaterThan(364 * 86_400_000);
    // LinkedIn is not sent a PKCE challenge: it takes one from native clients only.
    expect(doubles.linkedin.authorization!.authorizationRequests.at(-1)!.code_challenge).toBeUndefined();
  });

  it('connects Facebook: long-lived exchange, the Page token from /me/accounts, no refresh token, the secret never in a URL', async () => {
    const { callback } = await connectThroughBrowser(t, 'facebook');
    expect(callback.status, JSON.stringify(callback.body)).toBe(200);
    expect(callback.body).toMatchObject({ platform: 'facebook', account: pageId, refreshable: false });
    const days = (Date.parse(callback.body.expires_at) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(59);
    const login = doubles.graph.login!;
    expect(login.tokenRequests.slice(-2)).toEqual([
      { grant: 'code', secretInQuery: false, verdict: 'ok' },
      { grant: 'fb_exchange_token', secretInQuery: false, verdict: 'ok' },
    ]);
    const pageToken = await t.app.vault.get('platforms/facebook/access_token');
    expect(pageToken).toMatch(/^EAAG-page-/);
    expect(await t.app.vault.get('platforms/facebook/refresh_token')).toBeNull();
  });

  it('connects Instagram through Facebook Login with the token of the Page its account is linked to', async () => {
    const { started, callback } = await connectThroughBrowser(t, 'instagram');
    expect(new URL(started.body.authorization_url).searchParams.get('scope')).toContain('instagram_content_publish');
    expect(callback.status, JSON.stringify(callback.body)).toBe(200);
    expect(callback.body).toMatchObject({ platform: 'instagram', account: igUserId, refreshable: false });
  });

  it('lists the connections with status, expiry and scopes, never a token; the status route shows the stored expiry', async () => {
    // The read model follows the events a moment later: wait for everything asserted below, the Page's id included.
    const listed = await until('the connections listed', async () => {
      const answer = await t.call('GET', connections);
      const connected = answer.body.connections.filter((c: { status: string }) => c.status === 'connected').map((c: { platform: string }) => c.platform);
      const facebook = answer.body.connections.find((c: { platform: string }) => c.platform === 'facebook');
      return ['twitter', 'facebook', 'instagram', 'google_business', 'linkedin'].every((p) => connected.includes(p)) && facebook?.account === pageId ? answer : undefined;
    });
    const byPlatform = Object.fromEntries(listed.body.connections.map((c: { platform: string }) => [c.platform, c]));
    expect(byPlatform.twitter).toMatchObject({ status: 'connected', token_source: 'oauth', refreshable: true, problem: null });
    expect(byPlatform.facebook).toMatchObject({ status: 'connected', token_source: 'oauth', refreshable: false, account: pageId });
    const text = JSON.stringify(listed.body);
    for (const secret of [...doubles.x.authorization!.issued, ...doubles.graph.login!.issued]) expect(text).not.toContain(secret);

    const status = await t.call('GET', '/api/communication/status');
    const services = status.body.components.external_services.services as { name: string; token_expires_at: string | null }[];
    const stored = (await t.app.vault.list()).find((s) => s.name === 'platforms/twitter/access_token')!;
    expect(services.find((s) => s.name === 'twitter')!.token_expires_at).toBe(stored.expiresAt!.toISOString());
  });

  it('publishes with the connected tokens: X as Bearer, Facebook with the Page token', async () => {
    const text = `Ce soir : soirée crêpes au Vieux Moulin. Réf ${randomUUID().slice(0, 8)}`;
    const response = await t.call('POST', '/api/communication/publish', { body: { content: { body: text }, platforms: ['twitter', 'facebook'] } });
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    await until('both posts', async () => (doubles.x.posts.some((p) => p.text === text) && doubles.graph.posts.some((p) => p.text === text) ? true : undefined));
    const tweetCall = doubles.x.requests.find((r) => r.method === 'POST' && r.path === '/2/tweets' && (r.body as { text?: string }).text === text)!;
    expect(tweetCall.headers.authorization).toBe(`Bearer ${await t.app.vault.get('platforms/twitter/access_token')}`);
  });

  it('does not need PKCE to be guessed: the challenge sent is the S256 of the verifier the exchange proves', () => {
    // RFC 7636 appendix B.
    expect(codeChallengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});

describe('OAuth routes when platforms.json cannot connect a platform', () => {
  it('answers 409 oauth_not_configured naming what is missing', { timeout: 60_000 }, async () => {
    const { pgliteDatabase } = await import('../support/databases.js');
    const database = pgliteDatabase();
    const t = await startTestApp(database, {
      worker: false,
      platforms: {
        twitter: { client_id: 'x-client', api_key: 'k', api_secret: 's', access_token: 't', access_token_secret: 'ts' },
        linkedin: { organization_id: '2414183', access_token: 'AQV-config' },
      } as never,
    });
    try {
      const twitter = await t.call('POST', `${connections}/twitter/authorize`);
      expect(twitter.status).toBe(409);
      expect(twitter.body.error).toBe('oauth_not_configured');
      expect(twitter.body.message).toContain('api_key, api_secret, access_token_secret');
      const linkedin = await t.call('POST', `${connections}/linkedin/authorize`);
      expect(linkedin.status).toBe(409);
      expect(linkedin.body.message).toContain('linkedin.client_id');
      const listed = await t.call('GET', connections);
      expect(listed.body.connections.find((c: { platform: string }) => c.platform === 'linkedin')).toMatchObject({ status: 'connected', token_source: 'platforms.json', oauth: { available: false } });
    } finally {
      await t.close();
      await database.cleanup();
    }
  });
});
