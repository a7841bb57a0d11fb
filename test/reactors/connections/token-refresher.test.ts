import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { oauthClientsFromConfig, type OAuthClient } from '../../../src/platforms/social/oauth/oauth-config.js';
import { TokenRefresher } from '../../../src/reactors/connections/token-refresher.js';
import { startGraphApiDouble, type GraphApiDouble } from '../../doubles/graph-api-double.js';
import { testDatabases } from '../../support/databases.js';
import { connectThroughBrowser, oauthClients, oauthPlatformsJson, publicUrl, startOAuthDoubles } from '../../support/oauth-doubles.js';
import { igUserId, pageId, type PlatformDoubles } from '../../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';
import { startReceiver } from '../../webhooks/webhook-receiver.js';

/**
 * The refresher against the platforms' real token endpoints (their doubles): refreshed before expiry, X's rotating
 * refresh token followed, a grant the platform refuses (invalid_grant) marked needs reconnect once with an alert and a
 * webhook, and a network error or a 5xx leaving the connection exactly as it was. The margin is a day here, so X's and
 * Google's tokens (2 h, 1 h) are due at every round and LinkedIn's (60 days) are not.
 */

const connections = '/api/communication/connections';

async function eventsOf(t: RunningApp, platform: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
  return (await t.app.store.readStream(`connection-${platform}`)).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
}

/**
 * The connection as GET /connections shows it once it has the wanted status: the read model follows the events a
 * moment later (and, on PostgreSQL, an event is visible to it only once earlier transactions have committed).
 */
async function connectionOnceIn(t: RunningApp, platform: string, status: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listed = await t.call('GET', connections);
    expect(listed.status).toBe(200);
    const connection = listed.body.connections.find((c: { platform: string }) => c.platform === platform);
    if (connection?.status === status || Date.now() > deadline) return connection;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(testDatabases())('token refresher on $name', (database) => {
  let doubles: PlatformDoubles;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let t: RunningApp;

  beforeAll(async () => {
    doubles = await startOAuthDoubles();
    receiver = await startReceiver();
    t = await startTestApp(database, {
      platforms: oauthPlatformsJson(doubles, ['twitter', 'google_business', 'linkedin']),
      env: { COMM_PUBLIC_URL: publicUrl, COMM_TOKEN_REFRESH_MARGIN_SECONDS: '86400', COMM_TOKEN_REFRESH_INTERVAL_MS: '3600000' },
      scheduler: { pollIntervalMs: 50 },
    });
    const registered = await t.call('POST', '/api/communication/webhooks', { body: { url: `${receiver.url}/alerts`, event_types: ['connection_needs_reconnect', 'connection_expiring'] } });
    expect(registered.status).toBe(201);
    for (const platform of ['twitter', 'google_business', 'linkedin'] as const) {
      const { callback } = await connectThroughBrowser(t, platform);
      expect(callback.status, JSON.stringify(callback.body)).toBe(200);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await doubles?.close();
    await database.cleanup();
  });

  it('refreshes the tokens due, follows X replacing its refresh token, and leaves LinkedIn (60 days left) alone', async () => {
    const before = { access: await t.app.vault.get('platforms/twitter/access_token'), refresh: await t.app.vault.get('platforms/twitter/refresh_token') };
    const googleRefresh = await t.app.vault.get('platforms/google_business/refresh_token');
    const linkedinAccess = await t.app.vault.get('platforms/linkedin/access_token');

    const round = await t.app.tokenRefresher!.tick();
    expect(round).toMatchObject({ refreshed: ['twitter', 'google_business'], refused: [], failed: [], skipped: false });

    const x = doubles.x.authorization!;
    expect(x.tokenRequests.at(-1)).toEqual({ grantType: 'refresh_token', clientAuthentication: 'basic', verdict: 'ok' });
    const [newAccess, newRefresh] = x.issued.slice(-2);
    expect(await t.app.vault.get('platforms/twitter/access_token')).toBe(newAccess);
    expect(await t.app.vault.get('platforms/twitter/refresh_token')).toBe(newRefresh);
    expect(newAccess).not.toBe(before.access);
    expect(newRefresh).not.toBe(before.refresh);
    // Google keeps its refresh token; the new access token is stored alone.
    expect(await t.app.vault.get('platforms/google_business/refresh_token')).toBe(googleRefresh);
    expect(await t.app.vault.get('platforms/google_business/access_token')).toBe(doubles.google.authorization!.issued.at(-1));
    expect(await t.app.vault.get('platforms/linkedin/access_token')).toBe(linkedinAccess);

    expect((await eventsOf(t, 'twitter')).map((e) => e.type)).toEqual(['PlatformConnected', 'PlatformTokenRefreshed']);
    const refreshed = (await eventsOf(t, 'twitter'))[1]!.data;
    expect(JSON.stringify(refreshed)).not.toContain(newAccess);

    // The connector posts with the refreshed token at once.
    const text = `Nouvelle carte des desserts au Vieux Moulin. Réf ${randomUUID().slice(0, 8)}`;
    expect((await t.call('POST', '/api/communication/publish', { body: { content: { body: text }, platforms: ['twitter'] } })).status).toBe(202);
    const deadline = Date.now() + 15_000;
    while (!doubles.x.posts.some((post) => post.text === text) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const posted = doubles.x.requests.find((r) => r.method === 'POST' && r.path === '/2/tweets' && (r.body as { text?: string } | undefined)?.text === text);
    expect(posted?.headers.authorization).toBe(`Bearer ${newAccess}`);
  });

  it('leaves the connection as it is on a network error and on a 5xx, and refreshes at the next round', async () => {
    const x = doubles.x.authorization!;
    const stored = await t.app.vault.get('platforms/twitter/refresh_token');
    const events = (await eventsOf(t, 'twitter')).length;
    x.failTokenRequests('network');
    doubles.google.authorization!.failTokenRequests('server_error');

    const blip = await t.app.tokenRefresher!.tick();
    expect(blip).toMatchObject({ refreshed: [], refused: [], failed: ['twitter', 'google_business'] });
    expect(await t.app.vault.get('platforms/twitter/refresh_token')).toBe(stored);
    expect(await eventsOf(t, 'twitter')).toHaveLength(events);
    expect(await connectionOnceIn(t, 'twitter', 'connected')).toMatchObject({ status: 'connected', problem: null });

    const next = await t.app.tokenRefresher!.tick();
    expect(next.refreshed).toEqual(['twitter', 'google_business']);
  });

  it('marks the connection needs reconnect once when the platform refuses the refresh token, with an alert and a webhook', async () => {
    doubles.google.authorization!.revokeAll();
    const round = await t.app.tokenRefresher!.tick();
    expect(round).toMatchObject({ refused: ['google_business'], refreshed: ['twitter'] });

    const events = await eventsOf(t, 'google_business');
    const lost = events.filter((e) => e.type === 'PlatformConnectionNeedsReconnect');
    expect(lost).toHaveLength(1);
    expect(lost[0]!.data).toMatchObject({ platform: 'google_business', account: '9988776655', reason: 'refresh_refused' });
    expect(lost[0]!.data.message).toContain('invalid_grant');

    const [hook] = await receiver.waitFor(1);
    expect(hook!.headers['x-webhook-event']).toBe('connection_needs_reconnect');
    expect(JSON.parse(hook!.body)).toMatchObject({ event_type: 'connection_needs_reconnect', data: { platform: 'google_business', reason: 'refresh_refused' } });

    // The next rounds neither ask Google again nor alert again.
    const requests = doubles.google.authorization!.tokenRequests.length;
    const again = await t.app.tokenRefresher!.tick();
    expect(again.refused).toEqual([]);
    expect(doubles.google.authorization!.tokenRequests).toHaveLength(requests);
    expect((await eventsOf(t, 'google_business')).filter((e) => e.type === 'PlatformConnectionNeedsReconnect')).toHaveLength(1);
    expect(await connectionOnceIn(t, 'google_business', 'needs_reconnect')).toMatchObject({ status: 'needs_reconnect', problem: { reason: 'refresh_refused' } });
  });

  it('takes X refusing a refresh token ("Value passed for the token was invalid") as a dead grant too, and a reconnect revives it', async () => {
    doubles.x.authorization!.revokeAll();
    expect((await t.app.tokenRefresher!.tick()).refused).toEqual(['twitter']);
    expect(await connectionOnceIn(t, 'twitter', 'needs_reconnect')).toMatchObject({ status: 'needs_reconnect' });

    const { callback } = await connectThroughBrowser(t, 'twitter');
    expect(callback.status).toBe(200);
    expect(await connectionOnceIn(t, 'twitter', 'connected')).toMatchObject({ status: 'connected', problem: null, token_source: 'oauth' });
    expect((await t.app.tokenRefresher!.tick()).refreshed).toEqual(['twitter']);
  });
});

describe.each(testDatabases())('expiry of tokens that cannot be refreshed (Facebook) on $name', (database) => {
  let graph: GraphApiDouble;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let t: RunningApp;
  let clients: Partial<Record<string, OAuthClient>>;

  beforeAll(async () => {
    // A long-lived token with 3 days left, as after 57 days without reconnecting.
    graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [], oauth: { ...oauthClients.meta, longLivedSeconds: 3 * 86_400 } });
    receiver = await startReceiver();
    const platforms = oauthPlatformsJson({ graph }, ['facebook']);
    clients = Object.fromEntries(Object.entries(oauthClientsFromConfig(platforms, publicUrl)).map(([platform, setup]) => [platform, setup.client]));
    t = await startTestApp(database, { platforms, env: { COMM_PUBLIC_URL: publicUrl, COMM_TOKEN_REFRESH_INTERVAL_MS: '3600000' } });
    await t.call('POST', '/api/communication/webhooks', { body: { url: `${receiver.url}/alerts`, event_types: ['connection_needs_reconnect', 'connection_expiring'] } });
    const { callback } = await connectThroughBrowser(t, 'facebook');
    expect(callback.status, JSON.stringify(callback.body)).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
    await graph?.close();
    await database.cleanup();
  });

  it('alerts once, 7 days ahead, with a webhook, and shows the connection as expiring', async () => {
    const first = await t.app.tokenRefresher!.tick();
    expect(first).toMatchObject({ warned: ['facebook'], refreshed: [], refused: [] });
    const second = await t.app.tokenRefresher!.tick();
    expect(second.warned).toEqual([]);
    const warnings = (await eventsOf(t, 'facebook')).filter((e) => e.type === 'PlatformTokenExpiring');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.data).toMatchObject({ platform: 'facebook', account: pageId, days_left: 2 });

    const [hook] = await receiver.waitFor(1);
    expect(JSON.parse(hook!.body)).toMatchObject({ event_type: 'connection_expiring', data: { platform: 'facebook', days_left: 2 } });
    expect(await connectionOnceIn(t, 'facebook', 'expiring')).toMatchObject({ status: 'expiring', refreshable: false });
  });

  it('marks the connection needs reconnect once the token has expired', async () => {
    const later = new TokenRefresher(t.app.store, t.app.vault, clients, () => pageId, createLogger('silent'), { now: () => new Date(Date.now() + 4 * 86_400_000) });
    expect((await later.tick()).expired).toEqual(['facebook']);
    expect((await later.tick()).expired).toEqual([]);
    const lost = (await eventsOf(t, 'facebook')).filter((e) => e.type === 'PlatformConnectionNeedsReconnect');
    expect(lost.map((e) => e.data.reason)).toEqual(['token_expired']);
    await receiver.waitFor(2);
    expect(JSON.parse(receiver.received[1]!.body)).toMatchObject({ event_type: 'connection_needs_reconnect', data: { platform: 'facebook', reason: 'token_expired' } });
  });
});
