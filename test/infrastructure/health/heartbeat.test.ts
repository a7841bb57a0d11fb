import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { Heartbeat } from '../../../src/infrastructure/health/heartbeat.js';
import { ServiceHealthBoard, type ExternalService } from '../../../src/infrastructure/health/service-health-board.js';
import { ServiceHealthRecorder } from '../../../src/infrastructure/health/service-health-recorder.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { ProviderError } from '../../../src/platforms/notifications/provider.js';
import { pgliteDatabase } from '../../support/databases.js';

const logger = createLogger('silent');

/** A service whose check answers as the test says. */
function fakeService(name: string, kind: ExternalService['kind'] = 'provider') {
  const service = {
    name,
    kind,
    account: null,
    failure: null as Error | null,
    hang: false,
    calls: 0,
    breaker: () => 'closed' as const,
    async check() {
      service.calls += 1;
      if (service.hang) await new Promise(() => undefined);
      if (service.failure) throw service.failure;
    },
  };
  return service;
}

describe('heartbeat', () => {
  const database = pgliteDatabase();
  let store: EventStore;
  beforeAll(async () => {
    store = await createPostgresEventStore(await database.create());
  });
  afterAll(async () => {
    await store.close();
    await database.cleanup();
  });

  const typesOf = async (service: string) => (await store.readStream(`service-health-${service}`)).map((e) => e.type);

  it('appends one alert when a service starts failing and one when it answers again', async () => {
    const sendgrid = fakeService('sendgrid');
    const board = new ServiceHealthBoard([sendgrid]);
    const heartbeat = new Heartbeat(board, new ServiceHealthRecorder(store, logger), logger);

    await heartbeat.runOnce();
    expect(await typesOf('sendgrid')).toEqual([]);
    expect(board.snapshot()[0]?.heartbeat).toMatchObject({ ok: true, errorClass: null });

    sendgrid.failure = new ProviderError('sendgrid', 'auth', 'SendGrid refused the API key (401)', { status: 401 });
    await heartbeat.runOnce();
    await heartbeat.runOnce();
    expect(board.snapshot()[0]?.heartbeat).toMatchObject({ ok: false, errorClass: 'auth', message: 'SendGrid refused the API key (401)' });
    const [alert] = await store.readStream('service-health-sendgrid');
    expect(alert).toMatchObject({ type: 'ExternalServiceUnhealthy', data: { service: 'sendgrid', kind: 'provider', error_class: 'auth' } });
    expect(alert?.metadata).toMatchObject({ actor: 'heartbeat', schema_version: 1 });

    sendgrid.failure = null;
    await heartbeat.runOnce();
    await heartbeat.runOnce();
    expect(await typesOf('sendgrid')).toEqual(['ExternalServiceUnhealthy', 'ExternalServiceRecovered']);
  });

  it('does not raise the alert again after a restart during the same outage', async () => {
    const twilio = fakeService('twilio');
    twilio.failure = new ProviderError('twilio', 'transient', 'HTTP 503');
    await new Heartbeat(new ServiceHealthBoard([twilio]), new ServiceHealthRecorder(store, logger), logger).runOnce();
    await new Heartbeat(new ServiceHealthBoard([twilio]), new ServiceHealthRecorder(store, logger), logger).runOnce();
    expect(await typesOf('twilio')).toEqual(['ExternalServiceUnhealthy']);
  });

  it('counts a check that does not answer in time as failed, and skips services without a check', async () => {
    const ovh = fakeService('ovh');
    ovh.hang = true;
    const webpush = { name: 'webpush', kind: 'provider' as const, account: null, breaker: () => 'closed' as const };
    const board = new ServiceHealthBoard([ovh, webpush]);
    await new Heartbeat(board, new ServiceHealthRecorder(store, logger), logger, { timeoutMs: 50 }).runOnce();
    expect(board.snapshot()).toMatchObject([
      { name: 'ovh', checkable: true, heartbeat: { ok: false, errorClass: 'timeout' } },
      { name: 'webpush', checkable: false, heartbeat: null },
    ]);
  });

  it('tries again at the next round when the alert could not be recorded', async () => {
    const mailjet = fakeService('mailjet');
    mailjet.failure = new Error('socket hang up');
    let accept = false;
    const seen: boolean[] = [];
    const crossings = { checked: async (_s: unknown, result: { ok: boolean }) => (seen.push(result.ok), accept) };
    const heartbeat = new Heartbeat(new ServiceHealthBoard([mailjet]), crossings, logger);
    await heartbeat.runOnce();
    accept = true;
    await heartbeat.runOnce();
    await heartbeat.runOnce();
    expect(seen).toEqual([false, false]);
  });

  it('checks every interval once started, and no more once stopped', async () => {
    const fcm = fakeService('fcm');
    const heartbeat = new Heartbeat(new ServiceHealthBoard([fcm]), new ServiceHealthRecorder(store, logger), logger, { intervalMs: 20 });
    heartbeat.start();
    await expect.poll(() => fcm.calls).toBeGreaterThanOrEqual(3);
    heartbeat.stop();
    const calls = fcm.calls;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(fcm.calls).toBeLessThanOrEqual(calls + 1);
  });

  it('records breaker transitions in the service\'s stream', async () => {
    const recorder = new ServiceHealthRecorder(store, logger);
    recorder.breakerChanged({ name: 'facebook', kind: 'platform' }, '1234567890', 'open');
    recorder.breakerChanged({ name: 'facebook', kind: 'platform' }, '1234567890', 'half_open');
    await recorder.flush();
    const events = await store.readStream('service-health-facebook');
    expect(events.map((e) => [e.type, (e.data as { state: string }).state])).toEqual([
      ['CircuitBreakerStateChanged', 'open'],
      ['CircuitBreakerStateChanged', 'half_open'],
    ]);
    expect(events[0]?.data).toMatchObject({ account: '1234567890', kind: 'platform' });
  });
});
