import pg from 'pg';
import { asExecutor, runInTransaction, type SqlClient, type SqlExecutor } from './sql-client.js';

// int8 (bigint) as JS string by default; positions and revisions are parsed explicitly where read.
export interface PostgresClientOptions {
  connectionString: string;
  /** Schema for every table of this client (tests use one schema per suite). */
  schema?: string;
  maxConnections?: number;
}

export async function createPostgresClient(options: PostgresClientOptions): Promise<SqlClient> {
  const schema = options.schema ?? 'public';
  if (schema !== 'public') {
    const admin = new pg.Client({ connectionString: options.connectionString });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    options: `-c search_path=${schema}`,
  });
  // An idle client that loses its connection (server restart, pg_terminate_backend) must not crash the process.
  pool.on('error', () => undefined);
  const listeners = new Set<pg.Client>();

  const client: SqlClient = {
    kind: 'postgres',
    schema,
    pool,
    query: (text, params) => asExecutor(pool).query(text, params),
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const connection = await pool.connect();
      try {
        return await runInTransaction(connection, fn);
      } finally {
        connection.release();
      }
    },
    async listen(channel, onNotify) {
      const listener = new pg.Client({ connectionString: options.connectionString });
      listener.on('error', () => undefined);
      await listener.connect();
      listeners.add(listener);
      listener.on('notification', (message) => {
        if (message.channel === channel) onNotify(message.payload ?? '');
      });
      await listener.query(`LISTEN ${quoteIdent(channel)}`);
      return async () => {
        listeners.delete(listener);
        await listener.end().catch(() => undefined);
      };
    },
    async close() {
      await Promise.all([...listeners].map((l) => l.end().catch(() => undefined)));
      listeners.clear();
      await pool.end();
    },
  };
  return client;
}

export function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}
