import { sql } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../database/kysely.js';

/** The vault's rows: ciphertexts only. metadata is in clear and must never hold a secret. */
export interface SecretsTable {
  secrets: {
    name: string;
    key_id: string;
    iv: Uint8Array;
    ciphertext: Uint8Array;
    auth_tag: Uint8Array;
    updated_at: Date;
    expires_at: Date | null;
    metadata: Record<string, unknown>;
  };
}

export const secretsMigrations: Record<string, Migration> = {
  // Before the read models: the vault is infrastructure that other modules may come to need in their migrations.
  '0020_secrets': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('secrets')
        .ifNotExists()
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('iv', 'bytea', (c) => c.notNull())
        .addColumn('ciphertext', 'bytea', (c) => c.notNull())
        .addColumn('auth_tag', 'bytea', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('expires_at', 'timestamptz')
        .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .execute();
    },
  },
};
