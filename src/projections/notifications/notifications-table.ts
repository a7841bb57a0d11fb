import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

export interface NotificationsTable {
  notifications: {
    id: string;
    template_id: string;
    recipient: string;
    channel: string;
    status: string;
    campaign_id: string | null;
    data: unknown;
    provider: string | null;
    provider_message_id: string | null;
    requested_at: Date;
    sent_at: Date | null;
    delivered_at: Date | null;
    failure: unknown;
    open_count: number;
    click_count: number;
    first_opened_at: Date | null;
    first_clicked_at: Date | null;
    revision: number;
    updated_at: Date;
  };
}

export const notificationsMigrations: Record<string, Migration> = {
  '0110_notifications_read_model': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('notifications')
        .ifNotExists()
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('template_id', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('campaign_id', 'uuid')
        .addColumn('data', 'jsonb', (c) => c.notNull())
        .addColumn('provider', 'text')
        .addColumn('provider_message_id', 'text')
        .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
        .addColumn('sent_at', 'timestamptz')
        .addColumn('delivered_at', 'timestamptz')
        .addColumn('failure', 'jsonb')
        .addColumn('open_count', 'integer', (c) => c.notNull())
        .addColumn('click_count', 'integer', (c) => c.notNull())
        .addColumn('first_opened_at', 'timestamptz')
        .addColumn('first_clicked_at', 'timestamptz')
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notifications_requested').ifNotExists().on('notifications').columns(['requested_at', 'id']).execute();
      await db.schema.createIndex('notifications_status').ifNotExists().on('notifications').columns(['status', 'requested_at']).execute();
      await db.schema.createIndex('notifications_campaign').ifNotExists().on('notifications').columns(['campaign_id', 'requested_at']).execute();
      await db.schema.createIndex('notifications_provider_message').ifNotExists().on('notifications').columns(['provider', 'provider_message_id']).execute();
      await db.schema
        .createTable('notification_history')
        .ifNotExists()
        .addColumn('event_id', 'uuid', (c) => c.primaryKey())
        .addColumn('notification_id', 'uuid', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
        .addColumn('details', 'jsonb', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notification_history_by_notification').ifNotExists().on('notification_history').columns(['notification_id', 'revision']).execute();
    },
  },
  // The history is read from each notification's stream now (notification-history.ts): the copy goes.
  '0111_notification_history_from_the_stream': {
    async up(db: SharedDatabase) {
      await db.schema.dropTable('notification_history').ifExists().execute();
    },
  },
};
