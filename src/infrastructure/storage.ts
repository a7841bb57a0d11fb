import { join } from 'node:path';
import type { Env } from './config/env.js';
import { createPgliteClient } from './database/pglite-client.js';
import { createPostgresClient } from './database/postgres-client.js';
import type { SqlClient } from './database/sql-client.js';
import type { EventStore } from './event-store/event-store.js';
import { createKurrentDbEventStore } from './event-store/kurrentdb-event-store.js';
import { createPostgresEventStore } from './event-store/postgres-event-store.js';

export type EventStoreKind = 'kurrentdb' | 'postgres' | 'pglite';

/**
 * Where data lives: PostgreSQL when DATABASE_URL is set, else embedded PGlite under COMM_DATA_DIR/pglite.
 * Events go to KurrentDB when EVENTSTORE_URL is set, else to the same PostgreSQL/PGlite database as the read models.
 */
export async function openSqlClient(env: Pick<Env, 'DATABASE_URL' | 'COMM_DATA_DIR'>): Promise<SqlClient> {
  if (env.DATABASE_URL) return createPostgresClient({ connectionString: env.DATABASE_URL, maxConnections: 20 });
  return createPgliteClient({ dataDir: join(env.COMM_DATA_DIR, 'pglite') });
}

export async function openEventStore(env: Pick<Env, 'EVENTSTORE_URL'>, sql: SqlClient): Promise<{ store: EventStore; kind: EventStoreKind }> {
  if (env.EVENTSTORE_URL) return { store: await createKurrentDbEventStore(env.EVENTSTORE_URL), kind: 'kurrentdb' };
  return { store: await createPostgresEventStore(sql), kind: sql.kind };
}
