import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { notificationStreamId } from '../../../src/commands/notification-routes.js';
import { notificationDecider, notificationEvents } from '../../../src/domain/notification.js';
import { createInProcessBus } from '../../../src/infrastructure/bus/in-process-bus.js';
import type { BusMessage } from '../../../src/infrastructure/bus/message-bus.js';
import type { EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { ProviderError, type NotificationProvider } from '../../../src/platforms/notifications/provider.js';
import { ProviderRouter } from '../../../src/platforms/notifications/provider-router.js';
import type { NotificationJob } from '../../../src/reactors/notifications/notification-dispatch.js';
import { NotificationWorker } from '../../../src/reactors/notifications/notification-worker.js';
import { pgliteDatabase } from '../../support/databases.js';

/** A pending e-mail notification in the store, as POST /notify leaves it. */
async function requestNotification(store: EventStore, id: string): Promise<void> {
  await new CommandHandler(store, notificationDecider, notificationEvents).handle(
    notificationStreamId(id),
    { type: 'RequestNotification', notification_id: id, request: { template_id: 't', recipient: 'a@example.fr', channel: 'email', data: {} }, now: new Date().toISOString() },
    { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date() },
    { creates: true },
  );
}

/** The job for it, on its `deliveryCount`-th delivery; how it was settled goes into `settled`. */
function job(id: string, deliveryCount: number, settled: string[]): BusMessage<NotificationJob> {
  return {
    id: 'job-1',
    subject: 'comm.jobs.notify.email',
    data: { notification_id: id },
    headers: {},
    deliveryCount,
    ack: async () => void settled.push('ack'),
    nak: async () => void settled.push('nak'),
    deadLetter: async () => void settled.push('dead'),
  };
}

/** What the worker does with a job that keeps coming back because the worker died before recording a result. */
describe('notification worker, a job back after its last attempt', () => {
  const database = pgliteDatabase();
  afterAll(() => database.cleanup());

  it('records the notification failed instead of leaving it pending', async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql);
    const bus = createInProcessBus();
    const sent: string[] = [];
    const recording: NotificationProvider = {
      name: 'recording',
      channel: 'email',
      send: async (m) => {
        sent.push(m.notificationId);
        return { provider: 'recording', providerMessageId: 'x' };
      },
    };
    const router = new ProviderRouter({ email: { primary: recording } });
    const worker = new NotificationWorker(store, bus, router, { render: async () => { throw new Error('not reached'); } }, createLogger('silent'), { maxDeliver: 3 });
    const id = randomUUID();
    await requestNotification(store, id);
    const settled: string[] = [];
    const message = job(id, 4, settled);
    await worker.handle(message);
    const events = await store.readStream(notificationStreamId(id));
    expect(events.map((e) => e.type)).toEqual(['NotificationRequested', 'NotificationFailed']);
    expect(events[1]!.data).toMatchObject({ error_class: 'transient', provider: 'worker' });
    expect(sent).toEqual([]);
    router.shutdown();
    await bus.close();
    await store.close();
  });
});

/** A provider that fails `failures` times (a retryable 503), then accepts. */
function recovering(failures: number): NotificationProvider & { calls: number } {
  const provider = {
    name: 'sendgrid',
    channel: 'email' as const,
    calls: 0,
    async send(m: { notificationId: string }) {
      provider.calls++;
      if (provider.calls <= failures) throw new ProviderError('sendgrid', 'transient', 'sendgrid: 503 Service Unavailable', { status: 503 });
      return { provider: 'sendgrid', providerMessageId: `msg-${m.notificationId}` };
    },
  };
  return provider;
}

/** While every provider of the channel has its circuit open, a job waits for it instead of spending an attempt. */
describe('notification worker, a provider whose circuit is open', () => {
  const database = pgliteDatabase();
  afterAll(() => database.cleanup());

  async function setUp(provider: NotificationProvider, resetTimeoutMs: number, circuitHoldMs: number) {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql);
    const bus = createInProcessBus();
    const router = new ProviderRouter({ email: { primary: provider } }, { breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs } });
    const renderer = {
      render: async (n: { recipient: string }) => ({ notificationId: 'n', channel: 'email' as const, recipient: n.recipient, email: { subject: 's', html: '<p>h</p>', text: 'h' } }),
    };
    const worker = new NotificationWorker(store, bus, router, renderer, createLogger('silent'), { circuitHoldMs });
    const id = randomUUID();
    await requestNotification(store, id);
    // Two failed sends open the circuit.
    for (let i = 0; i < 2; i++) await expect(router.send({ notificationId: 'other', channel: 'email', recipient: 'b@example.fr', email: { subject: 's', html: 'h', text: 'h' } })).rejects.toBeInstanceOf(ProviderError);
    expect(router.breakerStates().sendgrid).toBe('open');
    const settled: string[] = [];
    const message = job(id, 1, settled);
    const close = async () => {
      router.shutdown();
      await bus.close();
      await store.close();
    };
    return { store, router, worker, id, message, settled, close };
  }

  it('holds the job until the circuit lets a call through, and sends it on the same delivery', async () => {
    const provider = recovering(2);
    const t = await setUp(provider, 300, 10_000);
    const started = Date.now();
    await t.worker.handle(t.message);
    const events = await t.store.readStream(notificationStreamId(t.id));
    expect(events.map((e) => e.type)).toEqual(['NotificationRequested', 'NotificationSent']);
    expect(events[1]!.data).toMatchObject({ provider: 'sendgrid', provider_message_id: 'msg-n' });
    // One call after the two that opened the circuit: the wait itself called nobody.
    expect(provider.calls).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(t.settled).toEqual([]);
    await t.close();
  });

  it('counts the refusal as a failed attempt once the hold is over, without calling the provider', async () => {
    const provider = recovering(2);
    const t = await setUp(provider, 60_000, 200);
    const error = await t.worker.handle(t.message).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Thrown: the bus hands the job back after its backoff, one attempt spent.
    expect(error).toMatchObject({ errorClass: 'transient', details: { providerCode: 'circuit_open' } });
    expect(provider.calls).toBe(2);
    expect((await t.store.readStream(notificationStreamId(t.id))).map((e) => e.type)).toEqual(['NotificationRequested']);
    await t.close();
  });

  it('stops holding when the worker stops', async () => {
    const provider = recovering(2);
    const t = await setUp(provider, 60_000, 60_000);
    const handled = t.worker.handle(t.message).then(
      () => 'done',
      () => 'handed back',
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const stopped = Date.now();
    await t.worker.stop();
    expect(await handled).toBe('handed back');
    expect(Date.now() - stopped).toBeLessThan(2_000);
    await t.close();
  });
});
