import { afterAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { notificationStreamId } from '../../../src/commands/notification-routes.js';
import { notificationDecider, notificationEvents, type NotificationCommand } from '../../../src/domain/notification.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { checkpointMigrations } from '../../../src/projections/checkpoints.js';
import { readNotificationHistory } from '../../../src/projections/notifications/notification-history.js';
import { notificationsProjection } from '../../../src/projections/notifications/notifications-projection.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { testDatabases } from '../../support/databases.js';

/**
 * A notification is inserted by its request and updated by later events: the update writes only what such an event
 * changes, so the template variables and the request's fields stay as the request stored them, whether the later
 * events come in the same batch or in another one.
 */
describe.each(testDatabases())('notifications read model on $name', (database) => {
  afterAll(async () => {
    await database.cleanup();
  });

  it.each([1, 100])('keeps the request fields and applies later events, in batches of %i', async (batchSize) => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql);
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...notificationsProjection.migrations }, sql.schema);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date('2026-05-04T09:00:00Z') };
    const notifications = new CommandHandler(store, notificationDecider, notificationEvents);
    const id = '1c0e3a52-7a5e-4b8e-9a1d-3f2b6c7d8e01';
    const run = (command: NotificationCommand) => notifications.handle(notificationStreamId(id), command, context);
    await run({ type: 'RequestNotification', notification_id: id, request: { template_id: 'promo', recipient: 'jeanne@example.fr', channel: 'email', data: { first_name: 'Jeanne', prix: 24.5 } }, now: '2026-05-04T09:00:00Z' });
    await run({ type: 'RecordNotificationSent', notification_id: id, provider: 'sendgrid', provider_message_id: 'sg-1', sent_at: '2026-05-04T09:00:01Z', now: '2026-05-04T09:00:01Z' });

    await rebuildProjection(store, db, notificationsProjection, batchSize);

    const row = await db.selectFrom('notifications').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      id,
      template_id: 'promo',
      recipient: 'jeanne@example.fr',
      channel: 'email',
      status: 'sent',
      data: { first_name: 'Jeanne', prix: 24.5 },
      provider: 'sendgrid',
      provider_message_id: 'sg-1',
      requested_at: new Date('2026-05-04T09:00:00Z'),
      sent_at: new Date('2026-05-04T09:00:01Z'),
      failure: null,
      revision: 1,
    });
    const stored = { revision: row.revision as number, recipient: row.recipient as string };
    expect(await readNotificationHistory(store, notificationStreamId(id), stored)).toEqual([
      {
        type: 'NotificationRequested',
        at: '2026-05-04T09:00:00.000Z',
        details: { template_id: 'promo', recipient: 'jeanne@example.fr', channel: 'email', campaign_id: null, requested_at: '2026-05-04T09:00:00Z' },
      },
      // The command clock of both commands was 09:00:00 (the context's).
      { type: 'NotificationSent', at: '2026-05-04T09:00:00.000Z', details: { provider: 'sendgrid', provider_message_id: 'sg-1', sent_at: '2026-05-04T09:00:01Z' } },
    ]);
    // The history stops where the row is: a step the status does not show yet is not shown either.
    expect((await readNotificationHistory(store, notificationStreamId(id), { ...stored, revision: 0 })).map((h) => h.type)).toEqual(['NotificationRequested']);
  });
});
