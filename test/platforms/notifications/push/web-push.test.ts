import { randomBytes } from 'node:crypto';
import webPush from 'web-push';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { createWebPushProvider, type WebPushConfig } from '../../../../src/platforms/notifications/push/web-push.js';
import { createSubscriberKeys, decryptAes128gcm, startPushServiceDouble, type PushServiceDouble } from '../../../doubles/push-service-double.js';

const vapid = webPush.generateVAPIDKeys();
const subscriber = createSubscriberKeys(randomBytes(16));

function config(overrides: Partial<WebPushConfig> = {}): WebPushConfig {
  return { provider: 'webpush', vapid_public_key: vapid.publicKey, vapid_private_key: vapid.privateKey, subject: 'mailto:contact@levieuxmoulin.fr', ...overrides };
}

function subscription(endpoint: string, keys: { p256dh: string; auth: string } = { p256dh: subscriber.p256dh, auth: subscriber.auth }): string {
  return JSON.stringify({ endpoint, expirationTime: null, keys });
}

function push(recipient: string, overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    notificationId: 'ntf-push-1',
    channel: 'push',
    recipient,
    push: { title: 'Le Vieux Moulin', body: 'Une table vient de se libérer ce soir à 20 h 30.', url: 'https://levieuxmoulin.fr/reserver', data: { booking: 'b-17' } },
    ...overrides,
  };
}

async function sendError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  const visible = JSON.stringify({ message: providerError.message, details: providerError.details, stack: providerError.stack, cause: providerError.cause });
  expect(visible).not.toContain(vapid.privateKey);
  expect(visible).not.toContain(subscriber.auth);
  return providerError;
}

describe('Web Push provider', () => {
  let service: PushServiceDouble;
  const provider = () => createWebPushProvider(config(), { allowInsecureEndpoints: true, timeoutMs: 2000 });

  beforeAll(async () => {
    service = await startPushServiceDouble({ vapidPublicKey: vapid.publicKey });
  });
  afterAll(async () => {
    await service.stop();
  });
  beforeEach(() => {
    service.requests.length = 0;
  });

  it('delivers a VAPID-signed, aes128gcm-encrypted payload the subscriber can open', async () => {
    const endpoint = service.endpoint();
    const result = await provider().send(push(subscription(endpoint)));
    expect(result.provider).toBe('webpush');
    expect(result.providerMessageId).toMatch(new RegExp(`^${service.url}/messages/[0-9a-f-]{36}$`));

    const [request] = service.requests;
    expect(request?.verdict).toBe('ok');
    expect(request?.headers['content-encoding']).toBe('aes128gcm');
    expect(request?.headers.ttl).toBe('86400');
    expect(request?.headers.urgency).toBe('normal');
    expect(request?.headers.authorization).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
    expect(request?.jwtClaims).toMatchObject({ aud: service.url, sub: 'mailto:contact@levieuxmoulin.fr' });
    expect(JSON.parse(decryptAes128gcm(request?.body as Buffer, subscriber))).toEqual({
      title: 'Le Vieux Moulin',
      body: 'Une table vient de se libérer ce soir à 20 h 30.',
      url: 'https://levieuxmoulin.fr/reserver',
      data: { booking: 'b-17' },
    });
  });

  it('uses a synthetic id when the push service gives no Location', async () => {
    service.fail({ status: 202 });
    const result = await provider().send(push(subscription(service.endpoint())));
    expect(result.providerMessageId).toBe('webpush:ntf-push-1');
  });

  it('reports an expired subscription (410) as suppressed', async () => {
    const endpoint = service.endpoint();
    service.gone(endpoint);
    const error = await sendError(provider().send(push(subscription(endpoint))));
    expect(error.errorClass).toBe('suppressed');
    expect(error.details.status).toBe(410);
    expect(error.message).toMatch(/remove/);
  });

  it.each([
    ['404', { status: 404, body: 'not found' }, 'suppressed'],
    ['413', { status: 413, body: 'payload too large' }, 'permanent'],
    ['429 with Retry-After', { status: 429, body: 'slow down', headers: { 'Retry-After': '30' } }, 'rate_limited'],
    ['500', { status: 500 }, 'transient'],
    ['503 with Retry-After', { status: 503, headers: { 'Retry-After': '5' } }, 'transient'],
    ['400', { status: 400, body: 'bad request' }, 'permanent'],
  ] as const)('classifies %s', async (_label, fault, errorClass) => {
    service.fail(fault);
    const error = await sendError(provider().send(push(subscription(service.endpoint()))));
    expect(error.errorClass).toBe(errorClass);
    expect(error.details.status).toBe(fault.status);
    if (_label === '429 with Retry-After') expect(error.details.retryAfterMs).toBe(30_000);
    if (_label === '503 with Retry-After') expect(error.details.retryAfterMs).toBe(5_000);
  });

  it('reports VAPID keys the push service does not know as auth', async () => {
    const other = webPush.generateVAPIDKeys();
    const error = await sendError(
      createWebPushProvider(config({ vapid_public_key: other.publicKey, vapid_private_key: other.privateKey }), { allowInsecureEndpoints: true }).send(push(subscription(service.endpoint()))),
    );
    expect(error.errorClass).toBe('auth');
    expect(error.details.status).toBe(403);
    expect(service.requests[0]?.verdict).toMatch(/does not match/);
  });

  it.each([
    ['not JSON', 'not-a-subscription'],
    ['no keys', JSON.stringify({ endpoint: 'https://push.example/abc' })],
    ['no endpoint', JSON.stringify({ keys: { p256dh: 'x', auth: 'y' } })],
    ['keys that are not a P-256 point', JSON.stringify({ endpoint: 'https://push.example/abc', keys: { p256dh: 'AAAA', auth: 'AAAA' } })],
  ])('refuses a malformed subscription (%s) as permanent without calling anyone', async (_label, recipient) => {
    const error = await sendError(provider().send(push(recipient)));
    expect(error.errorClass).toBe('permanent');
    expect(service.requests).toHaveLength(0);
  });

  it('refuses plain-http endpoints unless told otherwise', async () => {
    const error = await sendError(createWebPushProvider(config()).send(push(subscription(service.endpoint()))));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toMatch(/https/);
    expect(service.requests).toHaveLength(0);
  });

  it('gives up after timeoutMs as transient', async () => {
    service.fail('hang');
    const started = Date.now();
    const error = await sendError(createWebPushProvider(config(), { allowInsecureEndpoints: true, timeoutMs: 300 }).send(push(subscription(service.endpoint()))));
    expect(error.errorClass).toBe('transient');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses invalid VAPID keys at creation, without echoing them', () => {
    try {
      createWebPushProvider(config({ vapid_private_key: 'c2VjcmV0LWJ1dC13cm9uZw' }));
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/VAPID/);
      expect((error as Error).message).not.toContain('c2VjcmV0LWJ1dC13cm9uZw');
    }
    expect(() => createWebPushProvider(config({ subject: 'contact@levieuxmoulin.fr' }))).toThrow(/subject/);
  });
});
