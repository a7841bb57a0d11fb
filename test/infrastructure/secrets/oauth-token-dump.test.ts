import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../../src/domain/publication-events.js';
import { quoteIdent } from '../../../src/infrastructure/database/postgres-client.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { startMailjetDouble, type MailjetDouble } from '../../doubles/mailjet-double.js';
import { testDatabases } from '../../support/databases.js';
import { connectThroughBrowser, oauthClients, oauthPlatformsJson, publicUrl, startOAuthDoubles } from '../../support/oauth-doubles.js';
import type { PlatformDoubles } from '../../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * Issue 5, done when: after a full OAuth connection of every platform, a refresh, a refused refresh, posts on every
 * platform and a notification sent, a dump of the database (every table: the event store, the read models, the vault,
 * the OAuth states), the logs (at trace level) and the events contain none of the tokens and codes the platforms
 * issued, nor the client secrets, nor the states. The vault holds ciphertext only.
 */

const platforms: Platform[] = ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin'];

/** A logger with the service's own redaction, writing every line (trace level) to memory. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const logger = createLogger('trace');
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const streamSymbol = Object.getOwnPropertySymbols(logger).find((symbol) => symbol.description === 'pino.stream')!;
  (logger as unknown as Record<symbol, unknown>)[streamSymbol] = stream;
  return { logger, text: () => lines.join('') };
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(testDatabases())('no plaintext token after OAuth connections, refreshes, posts and sends on $name', (database) => {
  let doubles: PlatformDoubles;
  let mailjet: MailjetDouble;
  let t: RunningApp;
  const logs = capturingLogger();
  const states: string[] = [];

  beforeAll(async () => {
    doubles = await startOAuthDoubles();
    mailjet = await startMailjetDouble();
    t = await startTestApp(database, {
      logger: logs.logger,
      platforms: oauthPlatformsJson(doubles),
      notifications: {
        email: { provider: 'mailjet', api_key: mailjet.apiKey, api_secret: mailjet.apiSecret, from_email: 'restaurant@levieuxmoulin.fr', from_name: 'Le Vieux Moulin', base_url: mailjet.url } as never,
      },
      templates: { reservation_confirmation: { subject: 'Bienvenue {{first_name}}', body_html: '<p>Bonjour {{first_name}}, votre table vous attend.</p>' } },
      scheduler: { pollIntervalMs: 50 },
      env: { COMM_PUBLIC_URL: publicUrl, COMM_TOKEN_REFRESH_MARGIN_SECONDS: '86400', COMM_TOKEN_REFRESH_INTERVAL_MS: '3600000' },
    });

    // A connection of every platform, as an administrator's browser makes it; one code refused on the way.
    for (const platform of platforms) {
      const { started, callback } = await connectThroughBrowser(t, platform);
      states.push(new URL(started.body.authorization_url).searchParams.get('state')!);
      expect(callback.status, `${platform}: ${JSON.stringify(callback.body)}`).toBe(200);
    }
    const forged = await connectThroughBrowser(t, 'linkedin', (redirect) => redirect.searchParams.set('code', `${redirect.searchParams.get('code')}-altered`));
    expect(forged.callback.status).toBe(400);

    // Refreshes (X, Google), then one the platform refuses: the error path logs too.
    expect((await t.app.tokenRefresher!.tick()).refreshed).toEqual(['twitter', 'google_business']);
    doubles.google.authorization!.revokeAll();
    expect((await t.app.tokenRefresher!.tick()).refused).toEqual(['google_business']);

    // Posts on the platforms still connected, with the tokens the connection and the refresh stored.
    const text = `Ce week-end brunch au bord de la Gironde. Réf ${randomUUID().slice(0, 8)}`;
    const published = await t.call('POST', '/api/communication/publish', {
      body: { content: { body: text, media_urls: ['https://cdn.levieuxmoulin.fr/brunch.jpg'] }, platforms: ['facebook', 'instagram'] },
    });
    expect(published.status, JSON.stringify(published.body)).toBe(202);
    for (const [platform, body] of [['twitter', `${text} sur X`], ['linkedin', `${text} sur LinkedIn`]]) {
      expect((await t.call('POST', '/api/communication/publish', { body: { content: { body }, platforms: [platform] } })).status).toBe(202);
    }
    const ref = text.slice(-12);
    await until('the posts', () =>
      doubles.graph.posts.filter((p) => p.text.includes(ref)).length === 2 && doubles.linkedin.posts.some((p) => p.commentary.includes(ref)) && doubles.x.posts.some((p) => p.text.includes(ref))
        ? true
        : undefined,
    );
    // Google refused the refresh: its post waits as an authorization failure (logged, recorded) until someone reconnects.
    const waiting = await t.call('POST', '/api/communication/publish', { body: { content: { body: `${text} sur Google` }, platforms: ['google_business'] } });
    expect(waiting.status).toBe(202);

    const sent = await t.call('POST', '/api/communication/notify', {
      body: { template_id: 'reservation_confirmation', channel: 'email', recipient: 'marie@example.fr', data: { first_name: 'Marie' } },
    });
    expect(sent.status).toBe(202);
    await until('the e-mail', () => (mailjet.sent.length > 0 ? true : undefined));
    await until('the publishing settled', async () => {
      const events = await t.app.store.readStream(`publication-${waiting.body.publication_id}`);
      return events.some((e) => e.type === 'PlatformPublishFailed') ? true : undefined;
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await mailjet?.stop();
    await doubles?.close();
    await database.cleanup();
  });

  /** Everything a platform or provider issued us, and what authenticates us to them. */
  function secrets(): Map<string, string> {
    const all = new Map<string, string>();
    const add = (label: string, values: readonly string[]) => values.forEach((value, index) => all.set(`${label} #${index}`, value));
    add('meta', doubles.graph.login!.issued);
    add('x', doubles.x.authorization!.issued);
    add('google', doubles.google.authorization!.issued);
    add('linkedin', doubles.linkedin.authorization!.issued);
    add('client secret', [oauthClients.meta.appSecret, oauthClients.x.clientSecret, oauthClients.google.clientSecret, oauthClients.linkedin.clientSecret, mailjet.apiSecret]);
    add('state', states);
    return all;
  }

  it('has issued what it is looking for: codes, access and refresh tokens of every platform', () => {
    // Meta, for Facebook and Instagram: a code, a short-lived and a long-lived user token, a token per Page.
    expect(doubles.graph.login!.issued).toHaveLength(2 * 5);
    // X: code, access and refresh tokens, then a new pair at each of the two rounds; Google: one refresh, which keeps
    // its refresh token, before the second round is refused.
    expect(doubles.x.authorization!.issued).toHaveLength(7);
    expect(doubles.google.authorization!.issued).toHaveLength(4);
    // LinkedIn: a connection, and the code of the attempt whose code was altered.
    expect(doubles.linkedin.authorization!.issued).toHaveLength(4);
    expect(states).toHaveLength(5);
  });

  it('keeps no plaintext token in any table: event store, read models, vault, OAuth states', async () => {
    // The read model follows the events a moment later: wait for the refused refresh to reach it.
    await until('the read model', async () => {
      const listed = await t.call('GET', '/api/communication/connections');
      return listed.body.connections.some((c: { platform: string; status: string }) => c.platform === 'google_business' && c.status === 'needs_reconnect') ? true : undefined;
    });
    const { sql } = t.app;
    const tables = await sql.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name", [sql.schema]);
    const names = tables.rows.map((row) => row.table_name);
    expect(names).toEqual(expect.arrayContaining(['es_events', 'secrets', 'oauth_states', 'platform_connections', 'publications', 'notifications']));
    let dump = '';
    for (const table of names) {
      const rows = await sql.query<{ row: string }>(`SELECT t::text AS row FROM ${quoteIdent(sql.schema)}.${quoteIdent(table)} AS t`);
      dump += rows.rows.map((row) => `${table}: ${row.row}\n`).join('');
    }
    // The dump is the real one: the vault rows, the connection events and the read model are in it.
    expect(dump).toContain('secrets: (platforms/twitter/refresh_token');
    expect(dump).toMatch(/es_events: .*PlatformConnected/);
    expect(dump).toMatch(/es_events: .*PlatformTokenRefreshed/);
    expect(dump).toMatch(/platform_connections: \(google_business,9988776655,needs_reconnect/);
    for (const [label, value] of secrets()) {
      expect(dump, label).not.toContain(value);
      expect(dump, `${label} (hex)`).not.toContain(Buffer.from(value).toString('hex'));
    }
  });

  it('logs no plaintext token, at any level, while it logged the connections, the refreshes and the refusal', () => {
    const text = logs.text();
    expect(text).toContain('platform connected');
    expect(text).toContain('access token refreshed');
    expect(text).toContain('the platform refused the refresh token');
    expect(text).toContain('authorization code refused');
    for (const [label, value] of secrets()) expect(text, label).not.toContain(value);
  });

  it('records no plaintext token in the events, the vault holding the values encrypted', async () => {
    const events = (await t.app.store.readAll()).map((event) => ({ stream: event.streamId, type: event.type, data: event.data, metadata: event.metadata }));
    const text = JSON.stringify(events);
    expect(text).toContain('PlatformConnectionNeedsReconnect');
    for (const [label, value] of secrets()) expect(text, label).not.toContain(value);
    // What the connectors read is there, decrypted only by the vault.
    expect(await t.app.vault.get('platforms/twitter/access_token')).toBe(doubles.x.authorization!.issued.at(-2));
  });
});
