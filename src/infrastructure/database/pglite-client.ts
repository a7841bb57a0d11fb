import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';
import { asExecutor, runInTransaction, type SqlClient, type SqlExecutor } from './sql-client.js';

/**
 * Embedded PostgreSQL (PGlite, WebAssembly) for a machine with nothing installed.
 * PGlite has a single connection, so a "connection" here is an exclusive lease on it:
 * a transaction holds the lease from BEGIN to COMMIT and nobody else's statement can interleave.
 */
export interface PgliteClientOptions {
  /** Directory for the data files; undefined keeps everything in memory. */
  dataDir?: string;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    return release;
  }
}

interface LeasedConnection {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number; command: string; fields: unknown[] }>;
  release(): void;
}

export async function createPgliteClient(options: PgliteClientOptions = {}): Promise<SqlClient> {
  // Same value shapes as node-postgres: int8, numeric and xid8 as strings, so callers parse them one way.
  const asText = (value: string) => value;
  const parsers = { 20: asText, 1700: asText, 5069: asText };
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const db = options.dataDir ? await PGlite.create(options.dataDir, { parsers }) : await PGlite.create({ parsers });
  const mutex = new Mutex();

  const run = async (text: string, params?: unknown[]) => {
    const result = params && params.length > 0 ? await db.query(text, params) : await db.exec(text).then((r) => r.at(-1)!);
    return {
      rows: result.rows as Record<string, unknown>[],
      rowCount: result.rows.length > 0 ? result.rows.length : (result.affectedRows ?? 0),
      command: '',
      fields: result.fields as unknown[],
    };
  };

  const connect = async (): Promise<LeasedConnection> => {
    const release = await mutex.lock();
    let released = false;
    return {
      query: (text, params) => run(text, params),
      release: () => {
        if (!released) {
          released = true;
          release();
        }
      },
    };
  };

  // The subset of pg.Pool that Kysely's PostgresDialect and this module use.
  const pool = {
    connect,
    async query(text: string, params?: unknown[]) {
      const connection = await connect();
      try {
        return await connection.query(text, params);
      } finally {
        connection.release();
      }
    },
    async end() {
      await db.close();
    },
    on() {
      return pool;
    },
  } as unknown as Pool;

  const client: SqlClient = {
    kind: 'pglite',
    schema: 'public',
    pool,
    query: (text, params) => asExecutor(pool).query(text, params),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const connection = (await connect()) as unknown as PoolClient;
      try {
        return await runInTransaction(connection, fn);
      } finally {
        connection.release();
      }
    },
    async listen(channel, onNotify) {
      // Under the lease, so LISTEN never lands inside another caller's transaction (a rollback would undo it).
      const release = await mutex.lock();
      try {
        return await db.listen(channel, onNotify);
      } finally {
        release();
      }
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
  return client;
}
