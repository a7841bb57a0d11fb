import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantIsDead, OAuthRefusal, OAuthUnavailable, requestToken, type TokenRequest } from '../../../../src/platforms/social/oauth/token-endpoint.js';

/** A token endpoint that answers what the test sets, recording each request. */
async function startEndpoint() {
  let next: { status: number; body: string; contentType?: string } = { status: 200, body: '{}' };
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(next.status, { 'Content-Type': next.contentType ?? 'application/json' }).end(next.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    received,
    answer(status: number, body: unknown, contentType?: string) {
      next = { status, body: typeof body === 'string' ? body : JSON.stringify(body), contentType };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('the token endpoint client', () => {
  let endpoint: Awaited<ReturnType<typeof startEndpoint>>;
  const refreshToken = 'rt-secret-value-8c1d2e';
  const request = (overrides: Partial<TokenRequest> = {}): TokenRequest => ({
    platform: 'twitter',
    url: endpoint.url,
    credentials: { clientId: 'client id', clientSecret: 'client:secret', authentication: 'basic' },
    form: { grant_type: 'refresh_token', refresh_token: refreshToken },
    ...overrides,
  });
  beforeAll(async () => {
    endpoint = await startEndpoint();
  });
  afterAll(async () => {
    await endpoint.close();
  });

  it('posts a form, authenticates with HTTP Basic (each part form-encoded) and reads the token set', async () => {
    endpoint.answer(200, { token_type: 'bearer', access_token: 'at-1', expires_in: '7200', refresh_token: 'rt-2', scope: 'tweet.read offline.access' });
    const tokens = await requestToken(request());
    expect(tokens).toEqual({ accessToken: 'at-1', expiresIn: 7200, refreshToken: 'rt-2', refreshTokenExpiresIn: null, scopes: ['tweet.read', 'offline.access'] });
    const sent = endpoint.received.at(-1)!;
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sent.headers.authorization).toBe(`Basic ${Buffer.from('client%20id:client%3Asecret').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(sent.body))).toEqual({ grant_type: 'refresh_token', refresh_token: refreshToken });
  });

  it('sends the client in the body when asked, or client_id alone for a public client; splits comma-separated scopes', async () => {
    endpoint.answer(200, { access_token: 'AQV', expires_in: 5_184_000, refresh_token: 'AQX', refresh_token_expires_in: 31_536_000, scope: 'r_organization_social,w_organization_social' });
    const tokens = await requestToken(request({ platform: 'linkedin', credentials: { clientId: 'li', clientSecret: 'li-secret', authentication: 'body' } }));
    expect(tokens).toMatchObject({ refreshTokenExpiresIn: 31_536_000, scopes: ['r_organization_social', 'w_organization_social'] });
    expect(new URLSearchParams(endpoint.received.at(-1)!.body).get('client_secret')).toBe('li-secret');
    await requestToken(request({ credentials: { clientId: 'public', clientSecret: null, authentication: 'basic' } }));
    const publicSent = endpoint.received.at(-1)!;
    expect(publicSent.headers.authorization).toBeUndefined();
    expect(new URLSearchParams(publicSent.body).get('client_id')).toBe('public');
  });

  it('takes invalid_grant as a dead grant, with the platform text and never the token it echoes', async () => {
    endpoint.answer(400, { error: 'invalid_grant', error_description: `Token ${refreshToken} has been expired or revoked.` });
    const refusal = await requestToken(request({ platform: 'google_business' })).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(OAuthRefusal);
    expect(refusal).toMatchObject({ code: 'invalid_grant', status: 400 });
    expect(grantIsDead(refusal as OAuthRefusal)).toBe(true);
    expect((refusal as Error).message).not.toContain(refreshToken);
    expect((refusal as Error).message).toContain('[redacted]');
  });

  it("takes X's invalid_request about the token as a dead grant, but not another invalid_request", async () => {
    endpoint.answer(400, { error: 'invalid_request', error_description: 'Value passed for the token was invalid.' });
    expect(grantIsDead((await requestToken(request()).catch((error: unknown) => error)) as OAuthRefusal)).toBe(true);
    endpoint.answer(400, { error: 'invalid_request', error_description: 'Missing required parameter [grant_type].' });
    expect(grantIsDead((await requestToken(request()).catch((error: unknown) => error)) as OAuthRefusal)).toBe(false);
    endpoint.answer(401, { error: 'invalid_client' });
    expect(grantIsDead((await requestToken(request({ platform: 'linkedin' })).catch((error: unknown) => error)) as OAuthRefusal)).toBe(false);
  });

  it("reads Meta's Graph error bodies", async () => {
    endpoint.answer(400, { error: { message: 'This authorization code has been used.', type: 'OAuthException', code: 100, error_subcode: 36009, fbtrace_id: 'x' } });
    const refusal = (await requestToken(request({ platform: 'facebook' })).catch((error: unknown) => error)) as OAuthRefusal;
    expect(refusal).toMatchObject({ code: '100/36009', description: 'This authorization code has been used.' });
    expect(grantIsDead(refusal)).toBe(false);
  });

  it('says unavailable, not refused, for a 5xx, a 429, an answer without a token and no answer at all', async () => {
    for (const [status, body] of [
      [503, { error: 'temporarily_unavailable' }],
      [429, 'Too Many Requests'],
      [200, '<html>maintenance</html>'],
    ] as const) {
      endpoint.answer(status, body, typeof body === 'string' ? 'text/html' : undefined);
      expect(await requestToken(request()).catch((error: unknown) => error), String(status)).toBeInstanceOf(OAuthUnavailable);
    }
    const closed = await startEndpoint();
    await closed.close();
    const unreachable = await requestToken(request({ url: closed.url })).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(OAuthUnavailable);
    expect((unreachable as Error).message).toContain('ECONNREFUSED');
    expect((unreachable as Error).message).not.toContain(refreshToken);
  });
});
