import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { createFcmProvider, type FcmConfig } from '../../../../src/platforms/notifications/push/fcm.js';
import { fcmErrorBody, startFcmDouble, type FcmDouble } from '../../../doubles/fcm-double.js';

const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const keyBody = privateKeyPem.split('\n')[1] as string;
const projectId = 'le-vieux-moulin-app';
const clientEmail = 'notifier@le-vieux-moulin-app.iam.gserviceaccount.com';
const deviceToken = 'dXk3c2VjcmV0LWRldmljZQ:APA91bH-device-token';

function push(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    notificationId: 'ntf-fcm-1',
    channel: 'push',
    recipient: deviceToken,
    push: { title: 'Le Vieux Moulin', body: 'Votre commande à emporter est prête.', url: 'https://levieuxmoulin.fr/commandes/88', data: { order: '88' } },
    ...overrides,
  };
}

describe('FCM HTTP v1 provider', () => {
  let fcm: FcmDouble;

  beforeEach(async () => {
    fcm = await startFcmDouble({ projectId, clientEmail, publicKey: serviceAccount.publicKey });
  });
  afterEach(async () => {
    await fcm.stop();
  });

  function config(overrides: Partial<FcmConfig> = {}): FcmConfig {
    return { provider: 'fcm', project_id: projectId, client_email: clientEmail, private_key: privateKeyPem, token_uri: fcm.tokenUri, base_url: fcm.url, ...overrides };
  }

  async function sendError(promise: Promise<unknown>): Promise<ProviderError> {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    const providerError = error as ProviderError;
    const visible = JSON.stringify({ message: providerError.message, details: providerError.details, stack: providerError.stack, cause: providerError.cause });
    expect(visible).not.toContain(keyBody);
    for (const token of fcm.issuedTokens) expect(visible).not.toContain(token);
    return providerError;
  }

  it('exchanges a signed JWT for a token and sends the message', async () => {
    const result = await createFcmProvider(config()).send(push());
    expect(result).toEqual({ provider: 'fcm', providerMessageId: expect.stringMatching(new RegExp(`^projects/${projectId}/messages/`)) });

    const tokenRequest = fcm.requests.find((r) => r.kind === 'token');
    expect(tokenRequest?.verdict).toBe('ok');
    expect(tokenRequest?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const send = fcm.requests.find((r) => r.kind === 'send');
    expect(send?.verdict).toBe('ok');
    expect(send?.headers.authorization).toBe(`Bearer ${fcm.issuedTokens[0]}`);
    expect(fcm.messages[0]).toEqual({
      token: deviceToken,
      notification: { title: 'Le Vieux Moulin', body: 'Votre commande à emporter est prête.' },
      data: { order: '88', url: 'https://levieuxmoulin.fr/commandes/88' },
      webpush: { fcm_options: { link: 'https://levieuxmoulin.fr/commandes/88' } },
    });
  });

  it('caches the access token across sends, one exchange for concurrent sends', async () => {
    const provider = createFcmProvider(config());
    await Promise.all([provider.send(push()), provider.send(push({ notificationId: 'ntf-fcm-2' }))]);
    await provider.send(push({ notificationId: 'ntf-fcm-3' }));
    expect(fcm.issuedTokens).toHaveLength(1);
    expect(fcm.messages).toHaveLength(3);
  });

  it('fetches a new token shortly before the cached one expires', async () => {
    await fcm.stop();
    fcm = await startFcmDouble({ projectId, clientEmail, publicKey: serviceAccount.publicKey, tokenTtlSeconds: 61 });
    const provider = createFcmProvider(config());
    await provider.send(push());
    await provider.send(push());
    expect(fcm.issuedTokens).toHaveLength(1); // still > 60 s left
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await provider.send(push());
    expect(fcm.issuedTokens).toHaveLength(2);
  });

  it('accepts a private key whose newlines arrived escaped', async () => {
    const result = await createFcmProvider(config({ private_key: privateKeyPem.replace(/\n/g, '\\n') })).send(push());
    expect(result.providerMessageId).toMatch(/^projects\//);
  });

  it('reports a key the token endpoint does not accept as auth (invalid_grant)', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const error = await sendError(createFcmProvider(config({ private_key: other })).send(push()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 400, providerCode: 'invalid_grant' });
    expect(fcm.requests.find((r) => r.kind === 'token')?.verdict).toBe('Invalid JWT Signature.');
    expect(fcm.requests.some((r) => r.kind === 'send')).toBe(false);
  });

  it('drops a refused token and retries once with a fresh one', async () => {
    const provider = createFcmProvider(config());
    await provider.send(push());
    fcm.revokeTokens();
    const result = await provider.send(push());
    expect(result.providerMessageId).toMatch(/^projects\//);
    expect(fcm.issuedTokens).toHaveLength(2);
    expect(fcm.requests.filter((r) => r.kind === 'send').map((r) => r.verdict)).toEqual(['ok', 'unauthenticated', 'ok']);
  });

  it('reports a second 401 as auth', async () => {
    fcm.fail('send', { status: 401, body: fcmErrorBody(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.') }, 2);
    const error = await sendError(createFcmProvider(config()).send(push()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 401, providerCode: 'UNAUTHENTICATED' });
    expect(fcm.issuedTokens).toHaveLength(2);
  });

  it('reports an unregistered device token as suppressed', async () => {
    fcm.unregister(deviceToken);
    const error = await sendError(createFcmProvider(config()).send(push()));
    expect(error.errorClass).toBe('suppressed');
    expect(error.details).toMatchObject({ status: 404, providerCode: 'UNREGISTERED' });
  });

  it.each([
    ['INVALID_ARGUMENT', { status: 400, body: fcmErrorBody(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT') }, 'permanent', 'INVALID_ARGUMENT'],
    ['NOT_FOUND without FcmError', { status: 404, body: fcmErrorBody(404, 'NOT_FOUND', 'Requested entity was not found.') }, 'suppressed', 'NOT_FOUND'],
    ['SENDER_ID_MISMATCH', { status: 403, body: fcmErrorBody(403, 'PERMISSION_DENIED', 'SenderId mismatch', 'SENDER_ID_MISMATCH') }, 'permanent', 'SENDER_ID_MISMATCH'],
    ['QUOTA_EXCEEDED', { status: 429, body: fcmErrorBody(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded', 'QUOTA_EXCEEDED'), headers: { 'Retry-After': '60' } }, 'rate_limited', 'QUOTA_EXCEEDED'],
    ['a bare 429', { status: 429, body: {} }, 'rate_limited', undefined],
    ['THIRD_PARTY_AUTH_ERROR', { status: 401, body: fcmErrorBody(401, 'UNAUTHENTICATED', 'Auth error from APNS or Web Push Service', 'THIRD_PARTY_AUTH_ERROR') }, 'auth', 'THIRD_PARTY_AUTH_ERROR'],
    ['UNAVAILABLE', { status: 503, body: fcmErrorBody(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE') }, 'transient', 'UNAVAILABLE'],
    ['INTERNAL', { status: 500, body: fcmErrorBody(500, 'INTERNAL', 'Internal error encountered.', 'INTERNAL') }, 'transient', 'INTERNAL'],
    ['a bare 502', { status: 502, body: 'Bad Gateway' }, 'transient', undefined],
  ] as const)('classifies %s', async (label, fault, errorClass, code) => {
    fcm.fail('send', fault);
    const error = await sendError(createFcmProvider(config()).send(push()));
    expect(fcm.requests.filter((r) => r.kind === 'send')).toHaveLength(1); // THIRD_PARTY_AUTH_ERROR is not our token: no retry
    expect(error.errorClass).toBe(errorClass);
    expect(error.details.status).toBe(fault.status);
    expect(error.details.providerCode).toBe(code);
    if (label === 'QUOTA_EXCEEDED') expect(error.details.retryAfterMs).toBe(60_000);
  });

  it('reports a failing token endpoint as transient', async () => {
    fcm.fail('token', { status: 503, body: { error: 'temporarily_unavailable' } });
    const error = await sendError(createFcmProvider(config()).send(push()));
    expect(error.errorClass).toBe('transient');
  });

  it('gives up after timeoutMs as transient', async () => {
    const provider = createFcmProvider(config(), { timeoutMs: 300 });
    await provider.send(push());
    fcm.fail('send', 'hang');
    const started = Date.now();
    const error = await sendError(provider.send(push()));
    expect(error.errorClass).toBe('transient');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('check() obtains a token', async () => {
    await expect(createFcmProvider(config()).check?.()).resolves.toBeUndefined();
    expect(fcm.issuedTokens).toHaveLength(1);
  });

  it('refuses a private key that is not one, without echoing it', () => {
    try {
      createFcmProvider(config({ private_key: `-----BEGIN PRIVATE KEY-----\n${keyBody}\n-----END PRIVATE KEY-----` }));
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/private_key/);
      expect((error as Error).message).not.toContain(keyBody);
    }
  });
});
