import { sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The audience read model: the CRM's customers as far as campaigns need them (addresses, names for the templates,
 * language), the CRM segments and who is in them. Unlike the other read models it is not folded from this service's
 * events but from the CRM's (crm.* on NATS, src/integration/crm): personal data then lives only in rows that can be
 * erased, never in an event log.
 *
 * - audience_customers: one row per CRM customer. An erased customer keeps its row with every personal field null and
 *   erased_at set, so that a late or replayed crm.customers.created does not bring the person back.
 * - email_hash / phone_hash: recipientHash of each address (the id of its consent stream without "consent-"), to join
 *   the consents read model without comparing addresses.
 * - crm_inbox: the id of every CRM event applied, written in the same transaction as its effect: a redelivery, or the
 *   same event published twice, changes nothing.
 */
export interface AudienceTables {
  audience_customers: {
    customer_id: string;
    email: string | null;
    phone: string | null;
    first_name: string | null;
    last_name: string | null;
    language: string | null;
    email_hash: string | null;
    phone_hash: string | null;
    /** occurred_at of the CRM event the row reflects: an older event arriving late does not overwrite a newer one. */
    crm_updated_at: Date;
    erased_at: Date | null;
    updated_at: Date;
  };
  audience_segments: {
    segment_id: string;
    name: string;
    updated_at: Date;
  };
  audience_segment_members: {
    segment_id: string;
    customer_id: string;
  };
  crm_inbox: {
    event_id: string;
    type: string;
    received_at: Date;
  };
}

export const audienceMigrations: Record<string, Migration> = {
  '0200_audience_read_model': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('audience_customers')
        .ifNotExists()
        .addColumn('customer_id', 'uuid', (c) => c.primaryKey())
        .addColumn('email', 'text')
        .addColumn('phone', 'text')
        .addColumn('first_name', 'text')
        .addColumn('last_name', 'text')
        .addColumn('language', 'text')
        .addColumn('email_hash', 'text')
        .addColumn('phone_hash', 'text')
        .addColumn('crm_updated_at', 'timestamptz', (c) => c.notNull())
        .addColumn('erased_at', 'timestamptz')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('audience_segments')
        .ifNotExists()
        .addColumn('segment_id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audience_segment_members')
        .ifNotExists()
        .addColumn('segment_id', 'text', (c) => c.notNull())
        .addColumn('customer_id', 'uuid', (c) => c.notNull())
        .addPrimaryKeyConstraint('audience_segment_members_pkey', ['segment_id', 'customer_id'])
        .execute();
      await db.schema.createIndex('audience_segment_members_customer').ifNotExists().on('audience_segment_members').column('customer_id').execute();
      await db.schema
        .createTable('crm_inbox')
        .ifNotExists()
        .addColumn('event_id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('received_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
};
