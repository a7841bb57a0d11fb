import type { Pool, PoolClient, QueryResultRow } from 'pg';

/**
 * One way to talk SQL to either a PostgreSQL server (pg.Pool) or embedded PGlite.
 * Both sides expose the same pg.Pool-shaped `pool`, which Kysely's PostgresDialect also uses,
 * so the event store and the read models share one connection source.
 */

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

export interface SqlExecutor {
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: unknown[]): Promise<SqlResult<R>>;
}

export type Notification = { channel: string; payload: string };

export interface SqlClient extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** The schema every table lives in. */
  readonly schema: string;
  /** pg.Pool-compatible pool, for Kysely's PostgresDialect. */
  readonly pool: Pool;
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** LISTEN on a channel; returns the function that stops listening. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export async function runInTransaction<T>(client: PoolClient, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(asExecutor(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export function asExecutor(client: Pick<PoolClient, 'query'>): SqlExecutor {
  return {
    async query<R extends QueryResultRow>(text: string, params?: unknown[]) {
      const result = await client.query<R>(text, params as unknown[]);
      return { rows: result.rows, rowCount: result.rowCount ?? 0 };
    },
  };
}
