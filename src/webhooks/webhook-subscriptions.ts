import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { Keyring } from '../infrastructure/secrets/keyring.js';
import { maskWebhookSecret, sealWebhookSecret, unsealWebhookSecret } from './webhook-secrets.js';

/**
 * Webhook registrations. They are configuration, not domain facts, so they live in a table rather than in the event
 * store. A deleted registration is kept (deleted_at) so that its delivery log still names it.
 */

export const webhookEventTypes = [
  'publication_success',
  'publication_failure',
  'engagement',
  'connection_needs_reconnect',
  'connection_expiring',
  'campaign.threshold_reached',
  'campaign.underperforming',
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

export interface WebhookSubscriptionsTable {
  webhook_subscriptions: {
    id: string;
    url: string;
    event_types: string[];
    description: string | null;
    /** Sealed by webhook-secrets.ts: never read it without unsealing there. */
    secret: string;
    created_at: Date;
    deleted_at: Date | null;
  };
}

export const webhookSubscriptionMigrations: Record<string, Migration> = {
  '0160_webhook_subscriptions': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('webhook_subscriptions')
        .ifNotExists()
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('event_types', sql`text[]`, (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('deleted_at', 'timestamptz')
        .execute();
    },
  },
};

/** A registration as the API shows it: the secret only masked. */
export interface WebhookSubscription {
  id: string;
  url: string;
  event_types: WebhookEventType[];
  description: string | null;
  masked_secret: string;
  created_at: Date;
}

export interface NewWebhookSubscription {
  id: string;
  url: string;
  event_types: WebhookEventType[];
  description: string | null;
  secret: string;
}

type Row = WebhookSubscriptionsTable['webhook_subscriptions'];

export class WebhookSubscriptions {
  private readonly db: Kysely<WebhookSubscriptionsTable>;

  /** `keyring`: the token vault's, which encrypts the secrets; absent only in tests of the delivery mechanics. */
  constructor(
    db: SharedDatabase,
    private readonly keyring?: Keyring,
  ) {
    this.db = db as Kysely<WebhookSubscriptionsTable>;
  }

  async create(input: NewWebhookSubscription): Promise<WebhookSubscription> {
    const row = await this.db
      .insertInto('webhook_subscriptions')
      // The database's clock, as the event store's: a registration receives the events recorded after it.
      .values({ ...input, secret: sealWebhookSecret(input.secret, input.id, this.keyring), created_at: sql<Date>`now()`, deleted_at: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSubscription(row, this.keyring);
  }

  /** Active registrations, oldest first (there are few: it is configuration). */
  async list(): Promise<WebhookSubscription[]> {
    const rows = await this.db.selectFrom('webhook_subscriptions').selectAll().where('deleted_at', 'is', null).orderBy('created_at').orderBy('id').execute();
    return rows.map((row) => toSubscription(row, this.keyring));
  }

  async get(id: string): Promise<WebhookSubscription | null> {
    const row = await this.active(id);
    return row ? toSubscription(row, this.keyring) : null;
  }

  /** Where and with what to sign deliveries of an active registration; null once it is deleted. */
  async target(id: string): Promise<{ url: string; secret: string } | null> {
    const row = await this.active(id);
    return row ? { url: row.url, secret: unsealWebhookSecret(row.secret, row.id, this.keyring) } : null;
  }

  /** Returns false when there was no active registration with this id. */
  async delete(id: string, at: Date): Promise<boolean> {
    // RETURNING rather than the affected-row count, which the PGlite adapter does not report.
    const deleted = await this.db
      .updateTable('webhook_subscriptions')
      .set({ deleted_at: at })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return deleted !== undefined;
  }

  private active(id: string): Promise<Row | undefined> {
    return this.db.selectFrom('webhook_subscriptions').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  }
}

function toSubscription(row: Row, keyring: Keyring | undefined): WebhookSubscription {
  return {
    id: row.id,
    url: row.url,
    event_types: row.event_types as WebhookEventType[],
    description: row.description,
    masked_secret: maskWebhookSecret(unsealWebhookSecret(row.secret, row.id, keyring)),
    created_at: row.created_at,
  };
}
