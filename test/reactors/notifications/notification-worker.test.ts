import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { notificationStreamId } from '../../../src/commands/notification-routes.js';
import { notificationDecider, notificationEvents } from '../../../src/domain/notification.js';
import { createInProcessBus } from '../../../src/infrastructure/bus/in-process-bus.js';
import type { BusMessage } from '../../../src/infrastructure/bus/message-bus.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import type { NotificationProvider } from '../../../src/platforms/notifications/provider.js';
import { ProviderRouter } from '../../../src/platforms/notifications/provider-router.js';
import type { NotificationJob } from '../../../src/reactors/notifications/notification-dispatch.js';
import { NotificationWorker } from '../../../src/reactors/notifications/notification-worker.js';
import { pgliteDatabase } from '../../support/databases.js';

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
    const handler = new CommandHandler(store, notificationDecider, notificationEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date() };
    await handler.handle(
      notificationStreamId(id),
      { type: 'RequestNotification', notification_id: id, request: { template_id: 't', recipient: 'a@example.fr', channel: 'email', data: {} }, now: new Date().toISOString() },
      context,
      { creates: true },
    );
    const settled: string[] = [];
    const message: BusMessage<NotificationJob> = {
      id: 'job-1',
      subject: 'comm.jobs.notify.email',
      data: { notification_id: id },
      headers: {},
      deliveryCount: 4,
      ack: async () => void settled.push('ack'),
      nak: async () => void settled.push('nak'),
      deadLetter: async () => void settled.push('dead'),
    };
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
