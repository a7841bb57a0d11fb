import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPgliteClient } from '../../src/infrastructure/database/pglite-client.js';
import { createPostgresClient, quoteIdent } from '../../src/infrastructure/database/postgres-client.js';
import type { SqlClient } from '../../src/infrastructure/database/sql-client.js';

export const databaseUrl = process.env.DATABASE_URL;
export const natsUrl = process.env.NATS_URL;

export interface TestDatabase {
  name: 'postgres' | 'pglite';
  /** A fresh, empty database (PostgreSQL: a new schema; PGlite: a new in-memory instance). */
  create(): Promise<SqlClient>;
  /** Drops what create() made. */
  cleanup(): Promise<void>;
}

/** The databases a suite should run against here: PGlite always, PostgreSQL when DATABASE_URL is set. */
export function testDatabases(): TestDatabase[] {
  const list: TestDatabase[] = [pgliteDatabase()];
  if (databaseUrl) list.push(postgresDatabase(databaseUrl));
  return list;
}

export function pgliteDatabase(): TestDatabase {
  const clients: SqlClient[] = [];
  return {
    name: 'pglite',
    async create() {
      const client = await createPgliteClient();
      clients.push(client);
      return client;
    },
    async cleanup() {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    },
  };
}

export function postgresDatabase(url: string): TestDatabase {
  const made: { client: SqlClient; schema: string }[] = [];
  return {
    name: 'postgres',
    async create() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const client = await createPostgresClient({ connectionString: url, schema });
      made.push({ client, schema });
      return client;
    },
    async cleanup() {
      const all = made.splice(0);
      await Promise.all(all.map((m) => m.client.close().catch(() => undefined)));
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        for (const { schema } of all) await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}
