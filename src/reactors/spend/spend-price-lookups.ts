import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * Messages whose price is to be asked from their provider (Twilio, OVH), and when. A work list, not a read model:
 * the spend recorder adds to it, the price poller takes from it.
 */
export interface SpendPriceLookupsTable {
  spend_price_lookups: {
    notification_id: string;
    provider: string;
    provider_message_id: string;
    campaign_id: string | null;
    channel: string;
    attempts: number;
    due_at: Date;
    created_at: Generated<Date>;
  };
}

export type PriceLookup = Selectable<SpendPriceLookupsTable['spend_price_lookups']>;

export const spendPriceLookupMigrations: Record<string, Migration> = {
  '0202_spend_price_lookups': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('spend_price_lookups')
        .ifNotExists()
        .addColumn('notification_id', 'uuid', (c) => c.primaryKey())
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('provider_message_id', 'text', (c) => c.notNull())
        .addColumn('campaign_id', 'uuid')
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('due_at', 'timestamptz', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('spend_price_lookups_due').ifNotExists().on('spend_price_lookups').column('due_at').execute();
    },
  },
};

export class SpendPriceLookups {
  private readonly db: Kysely<SpendPriceLookupsTable>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<SpendPriceLookupsTable>;
  }

  /** Adds a message once: scheduling it again (a replayed event) changes nothing. */
  async schedule(lookup: Omit<PriceLookup, 'attempts' | 'created_at'>): Promise<void> {
    await this.db
      .insertInto('spend_price_lookups')
      .values({ ...lookup, attempts: 0 })
      .onConflict((oc) => oc.column('notification_id').doNothing())
      .execute();
  }

  /** The message reached its final status: its price is likely known now. */
  async hurry(notificationId: string, now: Date): Promise<void> {
    await this.db.updateTable('spend_price_lookups').set({ due_at: now }).where('notification_id', '=', notificationId).where('due_at', '>', now).execute();
  }

  /**
   * Takes up to `limit` due lookups and moves them `leaseMs` later, so that another poller does not take them while
   * this one asks; whoever handles one then reschedules or deletes it.
   */
  async claimDue(now: Date, limit: number, leaseMs: number): Promise<PriceLookup[]> {
    const leasedUntil = new Date(now.getTime() + leaseMs);
    const { rows } = await sql<PriceLookup>`
      UPDATE spend_price_lookups SET due_at = ${leasedUntil}
       WHERE notification_id IN (
         SELECT notification_id FROM spend_price_lookups WHERE due_at <= ${now} ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING *`.execute(this.db);
    return rows;
  }

  async retryAt(notificationId: string, attempts: number, dueAt: Date): Promise<void> {
    await this.db.updateTable('spend_price_lookups').set({ attempts, due_at: dueAt }).where('notification_id', '=', notificationId).execute();
  }

  async done(notificationId: string): Promise<void> {
    await this.db.deleteFrom('spend_price_lookups').where('notification_id', '=', notificationId).execute();
  }
}
