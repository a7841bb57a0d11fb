import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../../support/databases.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const allowed = 'https://crm.levieuxmoulin.fr';

describe('security headers and CORS', () => {
  const database = pgliteDatabase();
  let plain: RunningApp;
  let withCors: RunningApp;
  beforeAll(async () => {
    plain = await startTestApp(database, { projector: false, worker: false });
    withCors = await startTestApp(database, { projector: false, worker: false, env: { COMM_CORS_ORIGINS: `${allowed},http://localhost:5173` } });
  });
  afterAll(async () => {
    await plain.close();
    await withCors.close();
    await database.cleanup();
  });

  it('sends the security headers on answers and refusals alike', async () => {
    for (const response of [await plain.call('GET', '/api/communication/campaigns'), await plain.call('GET', '/api/communication/campaigns', { key: null })]) {
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(response.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  it('keeps /docs loadable: the Swagger UI uses only its own scripts, which the CSP allows', async () => {
    for (const entry of ['/docs', '/docs/']) {
      const page = await plain.call('GET', entry, { key: null });
      expect(page.status).toBe(200);
      const csp = page.headers.get('content-security-policy')!;
      expect(csp).toMatch(/script-src 'self'(;|$)/);
      // Over plain HTTP, upgrade-insecure-requests would send the page's own requests to an https:// that is not there.
      expect(csp).not.toContain('upgrade-insecure-requests');
      const html = String(page.body);
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      const assets = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
      expect(assets.length).toBeGreaterThan(3);
      for (const src of assets) {
        expect(src, 'only same-origin resources').not.toMatch(/^(https?:)?\/\//);
        const asset = await plain.call('GET', new URL(src, `${plain.url}${entry}`).pathname, { key: null });
        expect(asset.status, src).toBe(200);
      }
    }
  });

  it('sends no CORS header when no origin is configured', async () => {
    const response = await plain.call('GET', '/api/communication/campaigns', { headers: { origin: allowed } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('allows a configured origin, with a preflight answered without a key', async () => {
    const preflight = await withCors.call('OPTIONS', '/api/communication/campaigns/0b8f3a52-9e0a-4f43-9a55-2d0c8f5c1e11', {
      key: null,
      headers: { origin: allowed, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type, if-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();

    const response = await withCors.call('GET', '/api/communication/campaigns', { headers: { origin: allowed } });
    expect(response.headers.get('access-control-allow-origin')).toBe(allowed);
    expect(response.headers.get('access-control-expose-headers')).toContain('location');
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('refuses other origins: no Access-Control-Allow-Origin, so the browser keeps the answer from the page', async () => {
    for (const origin of ['https://evil.example', 'https://crm.levieuxmoulin.fr.evil.example', 'http://crm.levieuxmoulin.fr']) {
      const preflight = await withCors.call('OPTIONS', '/api/communication/campaigns', { key: null, headers: { origin, 'access-control-request-method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin'), origin).toBeNull();
      const response = await withCors.call('GET', '/api/communication/campaigns', { headers: { origin } });
      expect(response.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });
});
