import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, type OutgoingMessage } from '../../../../src/platforms/notifications/provider.js';
import { createOvhProvider, hasStopMention, signOvhRequest, type OvhConfig } from '../../../../src/platforms/notifications/sms/ovh.js';
import { startOvhDouble, type OvhDouble } from '../../../doubles/ovh-double.js';

const applicationKey = 'ak-7Hq2LmNp';
const applicationSecret = 'as-SECRET-f4c8e1b9d2';
const consumerKey = 'ck-SECRET-9a7b3c5d1e';
const serviceName = 'sms-lv12345-1';

function sms(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { notificationId: 'ntf-7', channel: 'sms', recipient: '+33612345678', sms: 'Le Vieux Moulin : votre table pour 4 est confirmée samedi 20 h.', ...overrides };
}

async function sendError(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  const visible = JSON.stringify({ message: providerError.message, details: providerError.details, stack: providerError.stack, cause: providerError.cause });
  expect(visible).not.toContain(applicationSecret);
  expect(visible).not.toContain(consumerKey);
  return providerError;
}

describe('OVH SMS provider', () => {
  let ovh: OvhDouble;

  beforeEach(async () => {
    // OVH's clock is 20 minutes ahead of ours: only a timestamp read from /auth/time passes the 30 s window.
    ovh = await startOvhDouble({ applicationKey, applicationSecret, consumerKey, serviceName, clockOffsetSeconds: 1200 });
  });
  afterEach(async () => {
    await ovh.stop();
  });

  function config(overrides: Partial<OvhConfig> = {}): OvhConfig {
    return {
      provider: 'ovh',
      application_key: applicationKey,
      application_secret: applicationSecret,
      consumer_key: consumerKey,
      service_name: serviceName,
      from_number: 'VieuxMoulin',
      base_url: ovh.url,
      ...overrides,
    };
  }

  it('signs the job with OVH server time and returns the job id', async () => {
    const provider = createOvhProvider(config());
    const result = await provider.send(sms());
    expect(result).toEqual({ provider: 'ovh', providerMessageId: String(ovh.jobs[0]?.id) });

    const post = ovh.requests.find((r) => r.method === 'POST');
    expect(post?.verdict).toBe('ok');
    expect(post?.path).toBe(`/1.0/sms/${serviceName}/jobs`);
    expect(post?.headers['x-ovh-application']).toBe(applicationKey);
    expect(post?.headers['x-ovh-consumer']).toBe(consumerKey);
    expect(Number(post?.headers['x-ovh-timestamp'])).toBeGreaterThan(Math.floor(Date.now() / 1000) + 1100);
    expect(post?.body).toEqual({
      receivers: ['+33612345678'],
      message: 'Le Vieux Moulin : votre table pour 4 est confirmée samedi 20 h.',
      sender: 'VieuxMoulin',
      senderForResponse: false,
      noStopClause: false,
    });
  });

  it('computes the documented $1$ signature', () => {
    const signature = signOvhRequest({
      applicationSecret: 'AS',
      consumerKey: 'CK',
      method: 'post',
      url: 'https://eu.api.ovh.com/1.0/sms/sms-x-1/jobs',
      body: '{"a":1}',
      timestamp: 1700000000,
    });
    // echo -n 'AS+CK+POST+https://eu.api.ovh.com/1.0/sms/sms-x-1/jobs+{"a":1}+1700000000' | sha1sum
    expect(signature).toBe('$1$8ec8593a3defc9a7716387c7eb3dccf2ebc47256');
  });

  it('reads /auth/time once and reuses the clock delta', async () => {
    const provider = createOvhProvider(config());
    await Promise.all([provider.send(sms()), provider.send(sms({ notificationId: 'ntf-8' }))]);
    await provider.send(sms({ notificationId: 'ntf-9' }));
    expect(ovh.timeReads()).toBe(1);
    expect(ovh.jobs).toHaveLength(3);
  });

  it('re-reads OVH time and retries once when its clock moved (QUERY_TIME_OUT)', async () => {
    const provider = createOvhProvider(config());
    await provider.send(sms());
    ovh.setClockOffset(-600);
    const result = await provider.send(sms({ notificationId: 'ntf-8' }));
    expect(result.providerMessageId).toBe(String(ovh.jobs[1]?.id));
    expect(ovh.timeReads()).toBe(2);
    expect(ovh.requests.filter((r) => r.method === 'POST').map((r) => r.verdict)).toEqual(['ok', 'QUERY_TIME_OUT', 'ok']);
  });

  it('also re-syncs on a stale-timestamp refusal that has no errorCode', async () => {
    const provider = createOvhProvider(config());
    await provider.send(sms());
    ovh.fail({ status: 400, body: { class: 'Client::BadRequest', message: 'Query out of time' } });
    await provider.send(sms({ notificationId: 'ntf-8' }));
    expect(ovh.timeReads()).toBe(2);
    expect(ovh.jobs).toHaveLength(2);
  });

  it('keeps the STOP clause to OVH unless the text already has one', async () => {
    const provider = createOvhProvider(config());
    await provider.send(sms({ sms: 'Menu de la Saint-Valentin à 45 € ce vendredi. STOP au 36180' }));
    await provider.send(sms({ sms: 'Menu de la Saint-Valentin à 45 € ce vendredi.' }));
    expect(ovh.jobs.map((j) => j.noStopClause)).toEqual([true, false]);
    expect(hasStopMention('Répondez STOP pour ne plus recevoir')).toBe(true);
    expect(hasStopMention('Stoppez tout, venez dîner')).toBe(false);

    await createOvhProvider(config({ transactional_only: true })).send(sms());
    expect(ovh.jobs[2]?.noStopClause).toBe(true);
  });

  it('sends a transactional SMS without the STOP clause, and a marketing one without STOP with it', async () => {
    const provider = createOvhProvider(config());
    await provider.send(sms({ sms: 'Votre table est confirmée pour ce soir 20 h.', kind: 'transactional' }));
    await provider.send(sms({ sms: 'Menu de la Saint-Valentin à 45 € ce vendredi.', kind: 'marketing' }));
    expect(ovh.jobs.map((j) => j.noStopClause)).toEqual([true, false]);
  });

  it('accepts `sender` and the `endpoint` spelling of the base URL', async () => {
    const provider = createOvhProvider(config({ base_url: undefined, endpoint: `${ovh.url}/1.0`, from_number: undefined, sender: 'LVMoulin' }));
    await provider.send(sms());
    expect(ovh.jobs[0]?.sender).toBe('LVMoulin');
  });

  it('classifies a recipient in invalidReceivers as permanent', async () => {
    ovh.invalidReceivers.add('+33600000000');
    const error = await sendError(createOvhProvider(config()).send(sms({ recipient: '+33600000000' })));
    expect(error.errorClass).toBe('permanent');
    expect(error.details.providerCode).toBe('invalidReceivers');
  });

  it('reports a wrong application secret as auth after one re-sync (INVALID_SIGNATURE)', async () => {
    const error = await sendError(createOvhProvider(config({ application_secret: 'as-wrong' })).send(sms()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 400, providerCode: 'INVALID_SIGNATURE' });
    expect(ovh.requests.filter((r) => r.method === 'POST').map((r) => r.verdict)).toEqual(['INVALID_SIGNATURE', 'INVALID_SIGNATURE']);
    expect(ovh.timeReads()).toBe(2);
  });

  it('reports an invalid consumer key as auth, without retrying', async () => {
    const error = await sendError(createOvhProvider(config({ consumer_key: 'ck-revoked' })).send(sms()));
    expect(error.errorClass).toBe('auth');
    expect(error.details).toMatchObject({ status: 403, providerCode: 'INVALID_CREDENTIAL' });
    expect(ovh.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it.each([
    ['401 Client::Unauthorized', { status: 401, body: { class: 'Client::Unauthorized', message: 'You must login first' } }, 'auth'],
    ['403 NOT_GRANTED_CALL', { status: 403, body: { errorCode: 'NOT_GRANTED_CALL', httpCode: '403 Forbidden', message: 'This call has not been granted' } }, 'auth'],
    ['429', { status: 429, body: { message: 'Too many requests' }, headers: { 'Retry-After': '12' } }, 'rate_limited'],
    ['500', { status: 500, body: { class: 'Server::InternalServerError', message: 'Internal server error' } }, 'transient'],
    ['503', { status: 503, body: { class: 'Server::ServiceUnavailable', message: 'Service unavailable' } }, 'transient'],
    ['400 bad parameters', { status: 400, body: { class: 'Client::BadRequest', message: 'Invalid sender' } }, 'permanent'],
  ] as const)('classifies %s', async (_label, fault, errorClass) => {
    ovh.fail(fault);
    const error = await sendError(createOvhProvider(config()).send(sms()));
    expect(error.errorClass).toBe(errorClass);
    expect(error.details.status).toBe(fault.status);
    if (errorClass === 'rate_limited') expect(error.details.retryAfterMs).toBe(12_000);
  });

  it('gives up after timeoutMs as transient', async () => {
    const provider = createOvhProvider(config(), { timeoutMs: 300 });
    await provider.send(sms()); // clock read
    ovh.fail('hang');
    const started = Date.now();
    const error = await sendError(provider.send(sms()));
    expect(error.errorClass).toBe('transient');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('check() reads the SMS account with a signed GET', async () => {
    await expect(createOvhProvider(config()).check?.()).resolves.toBeUndefined();
    const get = ovh.requests.find((r) => r.path === `/1.0/sms/${serviceName}`);
    expect(get?.verdict).toBe('ok');
    const error = await sendError(createOvhProvider(config({ service_name: 'sms-unknown-9' })).check?.() ?? Promise.resolve());
    expect(error.errorClass).toBe('permanent');
    expect(error.details.status).toBe(404);
  });

  it('refuses a configuration without sender', () => {
    expect(() => createOvhProvider(config({ from_number: undefined }))).toThrow(/sender/);
  });
});
