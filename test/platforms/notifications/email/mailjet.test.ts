import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../src/infrastructure/config/env.js';
import { createMailjetProvider, parseMailjetJson } from '../../../../src/platforms/notifications/email/mailjet.js';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { startMailjetDouble, type MailjetDouble } from '../../../doubles/mailjet-double.js';

/** Mailjet connector against a local double of the Send API v3.1 (test/doubles/mailjet-double.ts). */

const API_KEY = 'mj-public-0123456789abcdef';
const API_SECRET = 'mj-secret-fedcba9876543210-never-logged';

function message(overrides: Partial<OutgoingMessage> = {}, email: Partial<NonNullable<OutgoingMessage['email']>> = {}): OutgoingMessage {
  return {
    notificationId: 'ntf_01HZX9MJ',
    channel: 'email',
    recipient: 'paul.durand@example.fr',
    email: {
      subject: 'Votre table du samedi 14 est confirmée',
      text: 'Bonjour Paul, nous vous attendons samedi à 20 h.',
      html: '<p>Bonjour Paul, nous vous attendons <b>samedi à 20 h</b>.</p>',
      headers: {
        'List-Unsubscribe': '<https://levieuxmoulin.fr/u/tok_paul>',
        'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      },
      ...email,
    },
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  for (const secret of [API_SECRET, Buffer.from(`${API_KEY}:${API_SECRET}`).toString('base64')]) {
    expect(providerError.message).not.toContain(secret);
    expect(JSON.stringify(providerError.details)).not.toContain(secret);
  }
  expect((providerError as { cause?: unknown }).cause).toBeUndefined();
  return providerError;
}

describe('Mailjet provider against the Send API v3.1 double', () => {
  let mailjet: MailjetDouble;
  const config = () => ({
    provider: 'mailjet' as const,
    api_key: API_KEY,
    api_secret: API_SECRET,
    from_email: 'restaurant@levieuxmoulin.fr',
    from_name: 'Le Vieux Moulin',
    base_url: mailjet.url,
  });

  beforeAll(async () => {
    mailjet = await startMailjetDouble({ apiKey: API_KEY, apiSecret: API_SECRET });
  });
  afterAll(async () => {
    await mailjet?.stop();
  });
  beforeEach(() => {
    mailjet.requests.length = 0;
    mailjet.sent.length = 0;
  });

  it('sends the message as v3.1 Messages with basic auth and returns Mailjet’s MessageID, all 64 bits of it', async () => {
    const result = await createMailjetProvider(config()).send(message());

    expect(mailjet.requests).toHaveLength(1);
    const request = mailjet.requests[0];
    expect(request).toMatchObject({ method: 'POST', path: '/v3.1/send', authorized: true });
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(request?.body).toEqual({
      Messages: [
        {
          From: { Email: 'restaurant@levieuxmoulin.fr', Name: 'Le Vieux Moulin' },
          To: [{ Email: 'paul.durand@example.fr' }],
          Subject: 'Votre table du samedi 14 est confirmée',
          TextPart: 'Bonjour Paul, nous vous attendons samedi à 20 h.',
          HTMLPart: '<p>Bonjour Paul, nous vous attendons <b>samedi à 20 h</b>.</p>',
          CustomID: 'ntf_01HZX9MJ',
          Headers: {
            'List-Unsubscribe': '<https://levieuxmoulin.fr/u/tok_paul>',
            'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          },
        },
      ],
    });

    expect(mailjet.sent).toHaveLength(1);
    const accepted = mailjet.sent[0];
    expect(BigInt(accepted?.messageId ?? '0')).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER));
    expect(accepted?.customId).toBe('ntf_01HZX9MJ');
    expect(result).toEqual({ provider: 'mailjet', providerMessageId: accepted?.messageId });
  });

  it('leaves out an empty part and absent headers', async () => {
    await createMailjetProvider(config()).send(message({}, { text: '', headers: undefined }));
    const sent = (mailjet.requests[0]?.body as { Messages: Record<string, unknown>[] }).Messages[0];
    expect(sent).not.toHaveProperty('TextPart');
    expect(sent).not.toHaveProperty('Headers');
    expect(sent?.HTMLPart).toContain('samedi à 20 h');
  });

  it('wrong credentials → 401 → auth', async () => {
    const provider = createMailjetProvider({ ...config(), api_secret: 'not-the-secret' });
    const error = await failure(provider.send(message()));
    expect(mailjet.requests[0]?.authorized).toBe(false);
    expect(error.errorClass).toBe('auth');
    expect(error.details.status).toBe(401);
    expect(error.message).toContain('API key authentication/authorization failure');
    expect(error.message).not.toContain('not-the-secret');
    expect(mailjet.sent).toHaveLength(0);
  });

  it('a message Mailjet refuses (invalid address) → permanent, with its error code and message', async () => {
    const error = await failure(createMailjetProvider(config()).send(message({ recipient: 'paul.durand@' })));
    expect(error.errorClass).toBe('permanent');
    expect(error.details).toMatchObject({ status: 400, providerCode: 'mj-0013' });
    expect(error.message).toContain('"paul.durand@" is an invalid email address.');
    expect(error.message).toContain('To[0].Email');
    expect(mailjet.sent).toHaveLength(0);
  });

  it('a message-level error is classified by its StatusCode (403 sender not authorized → auth)', async () => {
    mailjet.fail({
      status: 400,
      body: {
        Messages: [
          {
            Status: 'error',
            Errors: [
              { ErrorIdentifier: 'e1', ErrorCode: 'send-0008', StatusCode: 403, ErrorMessage: '"restaurant@levieuxmoulin.fr" is not an authorized sender.', ErrorRelatedTo: ['From.Email'] },
            ],
          },
        ],
      },
    });
    const error = await failure(createMailjetProvider(config()).send(message()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 403, providerCode: 'send-0008' });
  });

  it('429 → rate_limited, with Retry-After when Mailjet gives one', async () => {
    mailjet.fail({ status: 429, headers: { 'Retry-After': '12' } });
    const error = await failure(createMailjetProvider(config()).send(message()));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ status: 429, retryAfterMs: 12_000 });
  });

  it('500 → transient, and the next attempt goes through', async () => {
    mailjet.fail({ status: 500, times: 1 });
    const provider = createMailjetProvider(config());
    const error = await failure(provider.send(message()));
    expect(error.errorClass).toBe('transient');
    expect(error.details.status).toBe(500);

    const result = await provider.send(message());
    expect(result.providerMessageId).toBe(mailjet.sent[0]?.messageId);
    expect(mailjet.requests).toHaveLength(2);
  });

  it('503 twice → transient twice', async () => {
    mailjet.fail({ status: 503, times: 2 });
    const provider = createMailjetProvider(config());
    expect((await failure(provider.send(message()))).errorClass).toBe('transient');
    expect((await failure(provider.send(message()))).errorClass).toBe('transient');
    await expect(provider.send(message())).resolves.toMatchObject({ provider: 'mailjet' });
  });

  it('a Mailjet that does not answer in time → transient', async () => {
    mailjet.fail({ delayMs: 5_000 });
    const started = Date.now();
    const error = await failure(createMailjetProvider(config(), { timeoutMs: 300 }).send(message()));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error.errorClass).toBe('transient');
    expect(error.message).toContain('did not answer within 300 ms');
  });

  it('a slow but timely Mailjet is fine', async () => {
    mailjet.fail({ delayMs: 100 });
    await expect(createMailjetProvider(config(), { timeoutMs: 2_000 }).send(message())).resolves.toMatchObject({ provider: 'mailjet' });
  });

  it('check() is an authenticated GET that maps bad credentials to auth', async () => {
    await createMailjetProvider(config()).check?.();
    expect(mailjet.requests[0]).toMatchObject({ method: 'GET', path: '/v3/REST/myprofile', authorized: true });

    const error = await failure(createMailjetProvider({ ...config(), api_key: 'wrong' }).check?.() ?? Promise.resolve());
    expect(error.errorClass).toBe('auth');
  });

  it('an unreachable Mailjet → transient', async () => {
    const gone = await startMailjetDouble();
    await gone.stop();
    const error = await failure(createMailjetProvider({ ...config(), base_url: gone.url }).send(message()));
    expect(error.errorClass).toBe('transient');
  });

  it('rejects a configuration without api_secret', () => {
    const { api_secret: _omitted, ...incomplete } = config();
    expect(() => createMailjetProvider(incomplete as never)).toThrow(ConfigError);
    expect(() => createMailjetProvider(incomplete as never)).toThrow(/api_secret/);
  });
});

describe('the Mailjet double itself', () => {
  let mailjet: MailjetDouble;
  beforeAll(async () => {
    mailjet = await startMailjetDouble();
  });
  afterAll(async () => {
    await mailjet?.stop();
  });
  const auth = () => `Basic ${Buffer.from(`${mailjet.apiKey}:${mailjet.apiSecret}`).toString('base64')}`;

  it('answers malformed JSON with Mailjet’s top-level mj-0002 error', async () => {
    const response = await fetch(`${mailjet.url}/v3.1/send`, { method: 'POST', headers: { authorization: auth(), 'content-type': 'application/json' }, body: '{"Messages": [' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ ErrorCode: 'mj-0002', StatusCode: 400 });
  });

  it('refuses a message without content (send-0003) and a missing To (mj-0005)', async () => {
    const response = await fetch(`${mailjet.url}/v3.1/send`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ Messages: [{ From: { Email: 'restaurant@levieuxmoulin.fr' }, Subject: 'x' }] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { Messages: { Status: string; Errors: { ErrorCode: string }[] }[] };
    expect(body.Messages[0]?.Status).toBe('error');
    expect(body.Messages[0]?.Errors.map((e) => e.ErrorCode).sort()).toEqual(['mj-0005', 'send-0003']);
  });

  it('writes MessageID as raw JSON digits, which the connector keeps exact', async () => {
    const response = await fetch(`${mailjet.url}/v3.1/send`, {
      method: 'POST',
      headers: { authorization: auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ Messages: [{ From: { Email: 'restaurant@levieuxmoulin.fr' }, To: [{ Email: 'a@example.fr' }], TextPart: 'x' }] }),
    });
    const text = await response.text();
    const id = mailjet.sent.at(-1)?.messageId ?? '';
    expect(text).toContain(`"MessageID":${id}`);
    expect(String((JSON.parse(text) as { Messages: { To: { MessageID: number }[] }[] }).Messages[0]?.To[0]?.MessageID)).not.toBe(id);
    expect(parseMailjetJson(text)?.Messages?.[0]?.To?.[0]?.MessageID).toBe(id);
  });
});
