import { Writable } from 'node:stream';
import { AxiosError, AxiosHeaders } from 'axios';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';

/** A logger writing to memory: the exact lines a log collector would receive. */
function capture(): { logger: ReturnType<typeof createLogger>; output: () => string } {
  const lines: string[] = [];
  const logger = createLogger('debug');
  // pino writes through its stream symbol: swap it for one that keeps the lines.
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const streamSymbol = Object.getOwnPropertySymbols(logger).find((symbol) => symbol.description === 'pino.stream')!;
  (logger as unknown as Record<symbol, unknown>)[streamSymbol] = stream;
  return { logger, output: () => lines.join('') };
}

const secrets = {
  accessToken: 'EAAB-access-token-value-1',
  refreshToken: 'refresh-token-value-2',
  apiKey: 'SG.api-key-value-3',
  password: 'smtp-password-value-4',
  privateKey: '-----BEGIN PRIVATE KEY-----value-5',
  secret: 'whsec_secret-value-6',
  token: 'device-token-value-7',
  bearer: 'Bearer header-token-value-8',
  cookie: 'session=cookie-value-9',
  xApiKey: 'x-api-key-value-10',
  hubSignature: 'sha256=hub-signature-value-11',
  twilioSignature: 'twilio-signature-value-12',
  authToken: 'twilio-auth-token-value-13',
  appSecret: 'facebook-app-secret-value-14',
};

describe('log redaction', () => {
  it('censors credential headers and secret-named fields at any depth', () => {
    const { logger, output } = capture();
    logger.info(
      {
        access_token: secrets.accessToken,
        req: { method: 'POST', url: '/x', headers: { authorization: secrets.bearer, cookie: secrets.cookie, 'x-api-key': secrets.xApiKey, 'x-hub-signature-256': secrets.hubSignature, 'x-twilio-signature': secrets.twilioSignature } },
        config: { email: { provider: 'sendgrid', api_key: secrets.apiKey, secondary: { provider: 'smtp', password: secrets.password } } },
        deeply: { nested: { in: { an: { array: [{ of: { providers: { private_key: secrets.privateKey } } }] } } } },
        oauth: { refresh_token: secrets.refreshToken, Token: secrets.token },
        webhook: { secret: secrets.secret },
        platforms: { facebook: { app_secret: secrets.appSecret } },
        twilio: { auth_token: secrets.authToken },
        kept: 'visible-value',
      },
      'a line with secrets',
    );
    const text = output();
    for (const [name, value] of Object.entries(secrets)) expect(text, name).not.toContain(value);
    expect(text).toContain('visible-value');
    expect(text).toContain('[redacted]');
    expect(JSON.parse(text).config.email.provider).toBe('sendgrid');
  });

  it('censors what an error carries, such as an axios error with the Authorization header', () => {
    const { logger, output } = capture();
    const config = { url: 'https://graph.facebook.com/v18.0/me', method: 'get', headers: new AxiosHeaders({ Authorization: secrets.bearer, Accept: 'application/json' }) };
    const error = new AxiosError('Request failed with status code 401', 'ERR_BAD_REQUEST', config as never);
    logger.error({ err: error, provider: { error: Object.assign(new Error('refused'), { api_key: secrets.apiKey }) } }, 'call failed');
    logger.warn(Object.assign(new Error('direct'), { password: secrets.password }));
    const text = output();
    for (const value of [secrets.bearer, secrets.apiKey, secrets.password]) expect(text).not.toContain(value);
    const first = JSON.parse(text.split('\n')[0]!);
    expect(first.err).toMatchObject({ type: 'AxiosError', message: 'Request failed with status code 401', code: 'ERR_BAD_REQUEST' });
    expect(first.err.config.headers.Accept).toBe('application/json');
    expect(JSON.parse(text.split('\n')[1]!).err.type).toBe('Error');
  });

  it('censors secrets given as child bindings, and survives cycles', () => {
    const { logger, output } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop', password: secrets.password };
    cyclic.self = cyclic;
    logger.child({ api_key: secrets.apiKey }).info({ cyclic }, 'child');
    const text = output();
    expect(text).not.toContain(secrets.apiKey);
    expect(text).not.toContain(secrets.password);
    expect(text).toContain('"name":"loop"');
  });

  it('leaves the logged objects untouched', () => {
    const { logger } = capture();
    const entry = { provider: { api_key: secrets.apiKey } };
    logger.info(entry, 'x');
    expect(entry.provider.api_key).toBe(secrets.apiKey);
  });
});
