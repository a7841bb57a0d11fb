import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { WebhookEventType, WebhookSubscriptionsTable } from './webhook-subscriptions.js';

/**
 * The delivery log: one row per (registration, event), which is also the sender's queue. A pending row is due when
 * next_attempt_at has passed; a sender claims it by pushing next_attempt_at forward (a lease), so a crashed sender's
 * claims come back on their own.
 */

export const webhookDeliveryStatuses = ['pending', 'delivered', 'failed', 'canceled'] as const;
export type WebhookDeliveryStatus = (typeof webhookDeliveryStatuses)[number];

/** Stored error texts are cut to this length. */
export const MAX_DELIVERY_ERROR_LENGTH = 500;

export interface WebhookDeliveriesTable {
  webhook_deliveries: {
    id: string;
    subscription_id: string;
    event_id: string;
    event_type: string;
    /** The exact JSON sent (and signed), so that every attempt sends the same bytes. */
    body: string;
    status: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
    /** Null once the delivery is final. */
    next_attempt_at: Date | null;
    first_attempt_at: Date | null;
    last_attempt_at: Date | null;
    created_at: Date;
    delivered_at: Date | null;
  };
}

export type WebhookDeliveryRow = WebhookDeliveriesTable['webhook_deliveries'];

export const webhookDeliveryMigrations: Record<string, Migration> = {
  '0161_webhook_deliveries': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('webhook_deliveries')
        .ifNotExists()
        .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
        .addColumn('subscription_id', 'uuid', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('next_attempt_at', 'timestamptz')
        .addColumn('first_attempt_at', 'timestamptz')
        .addColumn('last_attempt_at', 'timestamptz')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('delivered_at', 'timestamptz')
        .addUniqueConstraint('webhook_deliveries_once', ['subscription_id', 'event_id'])
        .execute();
      await db.schema.createIndex('webhook_deliveries_due').ifNotExists().on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('webhook_deliveries_log').ifNotExists().on('webhook_deliveries').columns(['subscription_id', 'created_at', 'id']).execute();
    },
  },
};

export interface QueuedEvent {
  eventId: string;
  eventType: WebhookEventType;
  body: string;
  /** When the event was recorded: registrations made after it do not receive it. */
  occurredAt: Date;
  /** When the first attempt is due. */
  dueAt: Date;
}

export type AttemptOutcome =
  | { status: 'delivered'; at: Date; statusCode: number }
  | { status: 'pending'; at: Date; statusCode: number | null; error: string; nextAttemptAt: Date }
  | { status: 'failed'; at: Date; statusCode: number | null; error: string };

type Database = WebhookDeliveriesTable & WebhookSubscriptionsTable;

export class WebhookDeliveries {
  private readonly db: Kysely<Database>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<Database>;
  }

  /**
   * One row per active registration that asked for this event type. Queuing the same event again inserts nothing
   * (the fan-out is at-least-once). Returns how many rows were added.
   */
  async queue(event: QueuedEvent): Promise<number> {
    const inserted = await this.db
      .insertInto('webhook_deliveries')
      .columns(['subscription_id', 'event_id', 'event_type', 'body', 'status', 'next_attempt_at'])
      .expression((eb) =>
        eb
          .selectFrom('webhook_subscriptions')
          // Casts: in INSERT … SELECT, PostgreSQL does not infer a parameter's type from the target column.
          .select([
            'id',
            sql<string>`cast(${event.eventId} as uuid)`.as('event_id'),
            sql<string>`cast(${event.eventType} as text)`.as('event_type'),
            sql<string>`cast(${event.body} as text)`.as('body'),
            sql<string>`cast('pending' as text)`.as('status'),
            sql<Date>`cast(${event.dueAt} as timestamptz)`.as('next_attempt_at'),
          ])
          .where('deleted_at', 'is', null)
          .where('created_at', '<=', event.occurredAt)
          .where(sql<boolean>`${event.eventType} = any(event_types)`),
      )
      .onConflict((oc) => oc.columns(['subscription_id', 'event_id']).doNothing())
      // RETURNING rather than the affected-row count, which the PGlite adapter does not report.
      .returning('id')
      .execute();
    return inserted.length;
  }

  /**
   * Claims up to `limit` due deliveries until `leaseUntil`. SKIP LOCKED lets several senders share the queue without
   * waiting on each other; the whole claim is one statement, so it needs no transaction (and suits PGlite).
   */
  async claimDue(now: Date, limit: number, leaseUntil: Date): Promise<WebhookDeliveryRow[]> {
    return this.db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: leaseUntil })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', now)
          .orderBy('next_attempt_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .where('status', '=', 'pending')
      .returningAll()
      .execute();
  }

  /** Records one attempt; a delivery canceled meanwhile stays canceled. */
  async record(id: string, outcome: AttemptOutcome): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        status: outcome.status,
        attempts: eb('attempts', '+', 1),
        last_status_code: outcome.statusCode,
        last_error: outcome.status === 'delivered' ? null : outcome.error.slice(0, MAX_DELIVERY_ERROR_LENGTH),
        next_attempt_at: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
        first_attempt_at: eb.fn.coalesce('first_attempt_at', eb.val(outcome.at)),
        last_attempt_at: outcome.at,
        delivered_at: outcome.status === 'delivered' ? outcome.at : null,
      }))
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  /** A delivery whose registration is gone: nothing will be sent. */
  async cancel(id: string): Promise<void> {
    await this.db.updateTable('webhook_deliveries').set({ status: 'canceled', next_attempt_at: null }).where('id', '=', id).where('status', '=', 'pending').execute();
  }

  async cancelPendingOf(subscriptionId: string): Promise<void> {
    await this.db
      .updateTable('webhook_deliveries')
      .set({ status: 'canceled', next_attempt_at: null })
      .where('subscription_id', '=', subscriptionId)
      .where('status', '=', 'pending')
      .execute();
  }

  /** A page of one registration's log, newest first, after the (created_at, id) key of the previous page. */
  async page(subscriptionId: string, query: { status?: WebhookDeliveryStatus; after?: { at: Date; id: string }; limit: number }): Promise<WebhookDeliveryRow[]> {
    let select = this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('subscription_id', '=', subscriptionId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit);
    if (query.status) select = select.where('status', '=', query.status);
    const after = query.after;
    if (after) {
      select = select.where((eb) => eb.or([eb('created_at', '<', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)])]));
    }
    return select.execute();
  }
}
