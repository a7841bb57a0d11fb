import { afterAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../src/commands/command-handler.js';
import { notificationStreamId } from '../../src/commands/notification-routes.js';
import { consentDecider, consentEvents, consentStreamId } from '../../src/domain/consent.js';
import { notificationDecider, notificationEvents } from '../../src/domain/notification.js';
import { createKysely, migrateToLatest } from '../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import { checkpointMigrations } from '../../src/projections/checkpoints.js';
import { consentsProjection } from '../../src/projections/consents/consents-projection.js';
import { readNotificationHistory } from '../../src/projections/notifications/notification-history.js';
import { notificationsProjection } from '../../src/projections/notifications/notifications-projection.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { testDatabases } from '../support/databases.js';

/**
 * RecipientErased takes the address out of the consents and notifications read models, and out of the history the
 * status route shows, in the order the events were recorded, and a rebuild from the events erases it again.
 */
describe.each(testDatabases())('recipient erasure in the read models on $name', (database) => {
  afterAll(async () => {
    await database.cleanup();
  });

  it('erases the address of every notification sent to it before, keeps later and other ones, and stays erased after a rebuild', async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql);
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...consentsProjection.migrations, ...notificationsProjection.migrations }, sql.schema);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date('2026-05-04T09:00:00Z') };
    const notifications = new CommandHandler(store, notificationDecider, notificationEvents);
    const consents = new CommandHandler(store, consentDecider, consentEvents);
    const request = (id: string, recipient: string) =>
      notifications.handle(
        notificationStreamId(id),
        { type: 'RequestNotification', notification_id: id, request: { template_id: 'promo', recipient, channel: 'email', data: { customer: { first_name: 'Jeanne' } } }, now: '2026-05-04T09:00:00Z' },
        context,
      );
    const erased = '0b7b4b1e-1c1e-4a57-9d32-9b1f0c6c2a01';
    const other = '0b7b4b1e-1c1e-4a57-9d32-9b1f0c6c2a02';
    await request(erased, 'Jeanne@Example.fr');
    await request(other, 'paul@example.fr');
    await consents.handle(consentStreamId('jeanne@example.fr', 'email'), { type: 'RecordConsent', recipient: 'jeanne@example.fr', channel: 'email', granted: true, source: 'crm', now: '2026-05-04T09:00:00Z' }, context);
    await consents.handle(consentStreamId('jeanne@example.fr', 'email'), { type: 'EraseRecipient', recipient: 'jeanne@example.fr', channel: 'email', source: 'crm', now: '2026-05-04T10:00:00Z' }, context);

    const rows = async () => ({
      notifications: await db.selectFrom('notifications').select(['id', 'recipient', 'data']).orderBy('id').execute(),
      history: await Promise.all(
        (await db.selectFrom('notifications').select(['id', 'recipient', 'revision']).orderBy('id').execute()).map((row) =>
          readNotificationHistory(store, notificationStreamId(row.id), row),
        ),
      ),
      consents: await db.selectFrom('consents').select(['recipient', 'granted', 'suppressed', 'erased_at']).execute(),
    });
    // Small batches: the erasure arrives in a later batch than the notification, as it would live.
    for (const projection of [notificationsProjection, consentsProjection]) await rebuildProjection(store, db, projection, 1);
    const live = await rows();
    expect(live.notifications).toEqual([
      { id: erased, recipient: '[erased]', data: {} },
      { id: other, recipient: 'paul@example.fr', data: { customer: { first_name: 'Jeanne' } } },
    ]);
    expect(JSON.stringify(live.history)).not.toMatch(/jeanne/i);
    expect(JSON.stringify(live.history)).toContain('paul@example.fr');
    expect(live.consents).toEqual([{ recipient: '[erased]', granted: null, suppressed: true, erased_at: new Date('2026-05-04T10:00:00Z') }]);

    // All in one batch: the same.
    for (const projection of [notificationsProjection, consentsProjection]) await rebuildProjection(store, db, projection, 5_000);
    expect(await rows()).toEqual(live);
    await store.close();
  });
});
