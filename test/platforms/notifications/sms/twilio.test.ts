import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { createTwilioProvider, type TwilioConfig } from '../../../../src/platforms/notifications/sms/twilio.js';
import { startPrism, type PrismMock } from '../../../support/prism.js';

const accountSid = 'AC0123456789abcdef0123456789abcdef';
const authToken = 'tw-secret-3f9c1d2e7a8b';
const basicAuth = Buffer.from(`${accountSid}:${authToken}`).toString('base64');

function config(overrides: Partial<TwilioConfig> = {}): TwilioConfig {
  return { provider: 'twilio', account_sid: accountSid, auth_token: authToken, from_number: '+33757000000', ...overrides };
}

function sms(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { notificationId: 'ntf-42', channel: 'sms', recipient: '+33612345678', sms: 'Votre table est réservée ce soir à 20 h. À tout à l’heure !', ...overrides };
}

async function sendError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  // No credential in anything a log line could show.
  const visible = JSON.stringify({ message: providerError.message, details: providerError.details, stack: providerError.stack, cause: providerError.cause });
  expect(visible).not.toContain(authToken);
  expect(visible).not.toContain(basicAuth);
  return providerError;
}

describe('Twilio provider against the Twilio OpenAPI contract (Prism)', () => {
  let prism: PrismMock;

  beforeAll(async () => {
    prism = await startPrism('twilio-api-v2010.openapi.json');
  }, 90_000);
  afterAll(async () => {
    await prism?.stop();
  });

  it('sends a message the contract accepts and returns the Message sid', async () => {
    const provider = createTwilioProvider(config({ base_url: prism.url, status_callback_url: 'https://hooks.levieuxmoulin.fr/twilio/status' }), { timeoutMs: 15_000 });
    const result = await provider.send(sms());
    expect(result.provider).toBe('twilio');
    expect(result.providerMessageId).toMatch(/^(SM|MM)[0-9a-fA-F]{32}$/);
  });

  it('passes the account check (GET Accounts/{sid}.json)', async () => {
    const provider = createTwilioProvider(config({ base_url: prism.url }), { timeoutMs: 15_000 });
    await expect(provider.check?.()).resolves.toBeUndefined();
  });

  it('is really validated: requests that break the contract are refused (so the 201s above mean something)', async () => {
    // Raw requests: the provider cannot produce these (To is always set, StatusCallback is a checked URL).
    const post = (form: Record<string, string>, headers: Record<string, string> = { Authorization: `Basic ${basicAuth}` }) =>
      fetch(`${prism.url}/2010-04-01/Accounts/${accountSid}/Messages.json`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });
    const noTo = await post({ From: '+33757000000', Body: 'no To' });
    expect(noTo.status).toBe(422);
    expect(JSON.stringify(await noTo.json())).toMatch(/To/);
    const badCallback = await post({ To: '+33612345678', From: '+33757000000', Body: 'x', StatusCallback: 'not a uri' });
    expect(badCallback.status).toBe(422);
    expect(JSON.stringify(await badCallback.json())).toMatch(/StatusCallback/);
    const noAuth = await post({ To: '+33612345678', From: '+33757000000', Body: 'x' }, {});
    expect(noAuth.status).toBe(401);
  });
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

describe('Twilio provider answers (local server)', () => {
  let server: Server;
  let baseUrl: string;
  const recorded: Recorded[] = [];
  const replies: Reply[] = [];
  const hanging = new Set<ServerResponse>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        recorded.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        const reply = replies.shift() ?? { status: 201, body: { sid: 'SM00000000000000000000000000000001', status: 'queued', price: null, price_unit: null } };
        if (reply === 'hang') {
          hanging.add(res);
          return;
        }
        res.writeHead(reply.status, { 'Content-Type': 'application/json', ...(reply.headers ?? {}) }).end(JSON.stringify(reply.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    recorded.length = 0;
    replies.length = 0;
  });

  const twilioError = (status: number, code: number, message: string): Reply => ({
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  });

  it('posts the form Twilio documents, with basic auth and a StatusCallback carrying our notification id', async () => {
    replies.push({ status: 201, body: { sid: 'SM11111111111111111111111111111111', status: 'queued', price: '-0.07500', price_unit: 'eur' } });
    const provider = createTwilioProvider(config({ base_url: baseUrl, status_callback_url: 'https://hooks.levieuxmoulin.fr/twilio/status?src=sms' }));
    const result = await provider.send(sms());
    expect(result).toEqual({ provider: 'twilio', providerMessageId: 'SM11111111111111111111111111111111', cost: { amount: 0.075, currency: 'EUR' } });

    const [request] = recorded;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`/2010-04-01/Accounts/${accountSid}/Messages.json`);
    expect(request?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request?.headers.authorization).toBe(`Basic ${basicAuth}`);
    const form = new URLSearchParams(request?.body);
    expect(Object.fromEntries(form)).toEqual({
      To: '+33612345678',
      From: '+33757000000',
      Body: 'Votre table est réservée ce soir à 20 h. À tout à l’heure !',
      StatusCallback: 'https://hooks.levieuxmoulin.fr/twilio/status?src=sms&notification_id=ntf-42',
    });
  });

  it('omits StatusCallback when none is configured, and cost when Twilio has no price yet', async () => {
    const result = await createTwilioProvider(config({ base_url: baseUrl })).send(sms());
    expect(result).toEqual({ provider: 'twilio', providerMessageId: 'SM00000000000000000000000000000001' });
    expect(new URLSearchParams(recorded[0]?.body).has('StatusCallback')).toBe(false);
  });

  it.each([
    ['21610 (recipient sent STOP)', twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'), 'suppressed', 21610],
    ['21211 (invalid To)', twilioError(400, 21211, "The 'To' number +3361234 is not a valid phone number."), 'permanent', 21211],
    ['21614 (not a mobile number)', twilioError(400, 21614, "'To' number is not a valid mobile number"), 'permanent', 21614],
    ['20429 (too many requests)', twilioError(429, 20429, 'Too Many Requests'), 'rate_limited', 20429],
    ['20003 / 401 (authentication)', twilioError(401, 20003, 'Authenticate'), 'auth', 20003],
    ['500', twilioError(500, 20500, 'Internal Server Error'), 'transient', 20500],
    ['503 without a body', { status: 503 }, 'transient', undefined],
    ['another 4xx (21408 region not enabled)', twilioError(400, 21408, 'Permission to send an SMS has not been enabled for the region'), 'permanent', 21408],
  ] as const)('classifies %s', async (_label, reply, errorClass, code) => {
    replies.push(reply);
    const error = await sendError(createTwilioProvider(config({ base_url: baseUrl })).send(sms()));
    expect(error.errorClass).toBe(errorClass);
    expect(error.provider).toBe('twilio');
    expect(error.details.providerCode).toBe(code);
    expect(error.details.status).toBe(reply === 'hang' ? undefined : reply.status);
  });

  it('reads Retry-After on a plain 429', async () => {
    replies.push({ status: 429, body: { message: 'slow down' }, headers: { 'Retry-After': '7' } });
    const error = await sendError(createTwilioProvider(config({ base_url: baseUrl })).send(sms()));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.details.retryAfterMs).toBe(7000);
  });

  it('gives up after timeoutMs as transient', async () => {
    replies.push('hang');
    const started = Date.now();
    const error = await sendError(createTwilioProvider(config({ base_url: baseUrl }), { timeoutMs: 300 }).send(sms()));
    expect(error.errorClass).toBe('transient');
    expect(error.message).toMatch(/300 ms/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('maps a refused connection to transient', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await sendError(createTwilioProvider(config({ base_url: `http://127.0.0.1:${port}` })).send(sms()));
    expect(error.errorClass).toBe('transient');
    expect(error.details.providerCode).toBe('ECONNREFUSED');
  });

  it('refuses a message without SMS text as permanent, without calling Twilio', async () => {
    const error = await sendError(createTwilioProvider(config({ base_url: baseUrl })).send(sms({ sms: undefined })));
    expect(error.errorClass).toBe('permanent');
    expect(recorded).toHaveLength(0);
  });

  it('check() reports refused credentials as auth', async () => {
    replies.push(twilioError(401, 20003, 'Authenticate'));
    const provider = createTwilioProvider(config({ base_url: baseUrl }));
    const error = await sendError(provider.check?.() ?? Promise.resolve());
    expect(error.errorClass).toBe('auth');
    expect(recorded[0]?.method).toBe('GET');
    expect(recorded[0]?.url).toBe(`/2010-04-01/Accounts/${accountSid}.json`);
  });

  it('rejects a bad configuration without echoing secrets', () => {
    expect(() => createTwilioProvider(config({ account_sid: 'nope' }))).toThrow(/account_sid/);
    try {
      createTwilioProvider({ ...config(), base_url: `not a url ${authToken}` });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/base_url/);
      expect((error as Error).message).not.toContain(authToken);
    }
  });
});
