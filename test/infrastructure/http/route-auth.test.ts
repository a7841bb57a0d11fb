import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * Every route of the full app must refuse a request without an API key, except the ones a third party calls with its
 * own proof (a provider's signature, the token in an unsubscribe link), the health probes and the API docs.
 */
const publicRoutes: { pattern: RegExp; why: string }[] = [
  { pattern: /^\/health\/(live|ready)$/, why: 'probes of the orchestrator' },
  { pattern: /^\/docs(\/.*)?$/, why: 'the API contract, no data' },
  { pattern: /^\/api\/communication\/webhooks\/inbound\/:provider$/, why: 'delivery reports, verified by the provider signature' },
  { pattern: /^\/api\/communication\/webhooks\/inbound\/facebook$/, why: 'Facebook page webhook, verified by X-Hub-Signature-256' },
  { pattern: /^\/api\/communication\/unsubscribe\/:token$/, why: 'unsubscribe link, verified by its signed token' },
  {
    pattern: /^\/api\/communication\/connections\/:platform\/callback$/,
    why: "OAuth redirect of the administrator's browser, which carries no key: authenticated by the single-use state the admin route issued",
  },
  { pattern: /^\/api\/communication\/promotions$/, why: 'the website’s feed of active promotions: published content only' },
];

const inboundWebhookSecrets = {
  email: {
    provider: 'mailjet',
    api_key: 'mailjet-key',
    api_secret: 'mailjet-secret',
    from_email: 'restaurant@levieuxmoulin.fr',
    webhook_username: 'mailjet-hook',
    webhook_password: 'mailjet-hook-password',
    secondary: {
      provider: 'sendgrid',
      api_key: 'SG.key',
      from_email: 'restaurant@levieuxmoulin.fr',
      webhook_verification_key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    },
  },
  sms: {
    provider: 'twilio',
    account_sid: `AC${'0'.repeat(32)}`,
    auth_token: 'twilio-auth-token',
    from_number: '+33600000000',
    secondary: { provider: 'ovh', application_key: 'ak', application_secret: 'as', consumer_key: 'ck', service_name: 'sms-1', from_number: '+33600000000', callback_token: 'ovh-callback-token' },
  },
} as never;

interface Route {
  method: string;
  path: string;
}

/** Full paths and methods from fastify's route tree, where each line adds its segment to its parent's path. */
function routesFromTree(tree: string): Route[] {
  const routes: Route[] = [];
  const pathAtDepth: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (depth > 0 ? pathAtDepth[depth - 1]! : '') + match[2]!;
    pathAtDepth[depth] = path;
    pathAtDepth.length = depth + 1;
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

function sampleUrl(path: string): string {
  return path
    .replace(/:provider\b/g, 'sendgrid')
    .replace(/:\w+/g, '00000000-0000-4000-8000-000000000000')
    .replace(/\*$/, 'anything');
}

describe('every route needs an API key unless declared public', () => {
  const database = pgliteDatabase();
  let t: RunningApp;
  beforeAll(async () => {
    // Every request here fails authentication on purpose: keep the failed-authentication limit out of the way.
    t = await startTestApp(database, {
      projector: false,
      worker: false,
      env: { COMM_AUTH_FAILURE_LIMIT: '100000', COMM_AUTH_FAILURE_ALERT_THRESHOLD: '100000' },
      // Every inbound webhook configured, so that each checks a signature instead of answering "not configured".
      notifications: inboundWebhookSecrets,
      // app_id too: Facebook can then be connected through OAuth, so its callback checks a state.
      platforms: { facebook: { page_id: '1234567890', app_id: '1234567890123456', app_secret: 'facebook-app-secret', access_token: 'page-token', api_version: 'v18.0', webhook_verify_token: 'verify-me' } } as never,
    });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('reads the route tree', () => {
    expect(
      routesFromTree(['├── /a (GET)', '│   └── /:id (GET, HEAD)', '│       └── /x (POST)', '├── /docs (GET)', '│   └── / (GET)', '│       └── * (GET)', '└── /b (GET)'].join('\n')),
    ).toEqual([
      { method: 'GET', path: '/a' },
      { method: 'GET', path: '/a/:id' },
      { method: 'HEAD', path: '/a/:id' },
      { method: 'POST', path: '/a/:id/x' },
      { method: 'GET', path: '/docs' },
      { method: 'GET', path: '/docs/' },
      { method: 'GET', path: '/docs/*' },
      { method: 'GET', path: '/b' },
    ]);
  });

  it('answers 401 without a key on every route that is not public', async () => {
    const routes = routesFromTree(t.app.server.printRoutes({ commonPrefix: false }));
    // The parser must have seen the whole API, not a fragment of it.
    expect(routes.length).toBeGreaterThan(40);
    expect(routes).toContainEqual({ method: 'DELETE', path: '/api/communication/api-keys/:id' });

    const open: string[] = [];
    const publicSeen = new Set<RegExp>();
    for (const route of routes) {
      const exception = publicRoutes.find((p) => p.pattern.test(route.path));
      if (exception) {
        publicSeen.add(exception.pattern);
        continue;
      }
      const response = await t.call(route.method, sampleUrl(route.path), { key: null, body: ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined });
      const challenged = response.status === 401 && /^Bearer/.test(response.headers.get('www-authenticate') ?? '');
      if (!challenged) open.push(`${route.method} ${route.path} answered ${response.status}`);
    }
    expect(open, 'routes reachable without an API key').toEqual([]);
    // Every exception still names a route: a stale one would hide nothing but mislead the reader.
    expect(publicRoutes.filter((p) => !publicSeen.has(p.pattern)).map((p) => p.why)).toEqual([]);
  });

  it('refuses an OAuth callback whose state it did not issue, and the admin route that starts one without a key', async () => {
    for (const query of ['?code=stolen-code&state=guessed-state', '?code=stolen-code', '?error=access_denied&state=guessed-state']) {
      const response = await t.call('GET', `/api/communication/connections/facebook/callback${query}`, { key: null });
      expect(response.status, query).toBe(400);
      expect(response.body.details[0].path, query).toBe('query.state');
    }
    const start = await t.call('POST', '/api/communication/connections/facebook/authorize', { key: null });
    expect(start.status).toBe(401);
  });

  it('keeps refusing inbound webhooks that carry no valid signature', async () => {
    const unsigned = ['sendgrid', 'mailjet', 'twilio', 'ovh', 'facebook'].map((provider) => `/api/communication/webhooks/inbound/${provider}`);
    for (const path of unsigned) {
      const response = await t.call('POST', path, { key: null, body: [{ event: 'delivered' }], headers: { 'x-hub-signature-256': 'sha256=00', authorization: 'Basic bWo6d3Jvbmc=' } });
      expect([401, 403], `${path} answered ${response.status} ${JSON.stringify(response.body)}`).toContain(response.status);
    }
  });
});
