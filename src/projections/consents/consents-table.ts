import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';

/**
 * The consents read model: one row per (recipient, channel), keyed by the consent stream id (a hash: push
 * subscriptions are too long for a b-tree key). `suppression_reason` is the most restrictive active reason;
 * `suppressions` lists them all ([{reason, source, at}], most restrictive first).
 */
export interface ConsentsTable {
  consents: {
    id: string;
    recipient: string;
    channel: string;
    /** null: never recorded. */
    granted: boolean | null;
    source: string | null;
    consent_at: Date | null;
    suppressed: boolean;
    suppression_reason: string | null;
    suppressions: unknown;
    revision: number;
    updated_at: Date;
    /** Set when the address was erased (GDPR): `recipient` then holds ERASED_RECIPIENT, and every message is blocked. */
    erased_at: Date | null;
  };
}

/** What the recipient column shows once the address was erased: the row's id (the hash) is all that is left. */
export const ERASED_RECIPIENT = '[erased]';

export const consentsMigrations: Record<string, Migration> = {
  '0130_consents_read_model': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('consents')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('granted', 'boolean')
        .addColumn('source', 'text')
        .addColumn('consent_at', 'timestamptz')
        .addColumn('suppressed', 'boolean', (c) => c.notNull())
        .addColumn('suppression_reason', 'text')
        .addColumn('suppressions', 'jsonb', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
  '0131_consents_erasure': {
    async up(db: SharedDatabase) {
      await db.schema.alterTable('consents').addColumn('erased_at', 'timestamptz').execute();
    },
  },
};
