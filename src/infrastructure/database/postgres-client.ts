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
    // No JIT: every query here is short, and without planner statistics (a young table, autovacuum off) the planner's
    // estimates pass the JIT threshold and compiling costs tens of milliseconds more than the query itself.
    options: `-c search_path=${schema} -c jit=off`,
  });
  // A client that loses its connection (server restart, pg_terminate_backend) must not crash the process: idle ones
  // report it on the pool; checked-out ones on themselves (pg-pool detaches its listener while a client is lent), and
  // their query fails, which is what the caller handles.
  pool.on('error', () => undefined);
  pool.on('connect', (connection) => connection.on('error', () => undefined));
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
      let stopped = false;
      let current: pg.Client | null = null;
      const reopenLater = (): void => {
        if (!stopped) setTimeout(() => void open().catch(reopenLater), 1_000).unref();
      };
      // A LISTEN session that loses its connection is opened again (with a pause), so notifications come back after a
      // database restart; meanwhile the subscribers' polling still delivers.
      const open = async (): Promise<void> => {
        const listener = new pg.Client({ connectionString: options.connectionString });
        listener.on('error', () => undefined);
        listener.on('end', () => {
          listeners.delete(listener);
          if (current !== listener) return;
          current = null;
          reopenLater();
        });
        listener.on('notification', (message) => {
          if (message.channel === channel) onNotify(message.payload ?? '');
        });
        try {
          await listener.connect();
          await listener.query(`LISTEN ${quoteIdent(channel)}`);
        } catch (error) {
          await listener.end().catch(() => undefined);
          throw error;
        }
        if (stopped) {
          await listener.end().catch(() => undefined);
          return;
        }
        current = listener;
        listeners.add(listener);
        // A notification may have been missed while reconnecting: wake the subscribers once.
        onNotify('');
      };
      await open();
      return async () => {
        stopped = true;
        const listener = current;
        if (!listener) return;
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
