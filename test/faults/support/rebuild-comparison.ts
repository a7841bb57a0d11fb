import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { createPostgresClient, quoteIdent } from '../../../src/infrastructure/database/postgres-client.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { comparePositions, formatPosition } from '../../../src/infrastructure/event-store/event-store.js';
import { checkpointMigrations, readAllCheckpoints } from '../../../src/projections/checkpoints.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { projections } from '../../../src/projections/registry.js';

/**
 * Rebuilds every read model from the events into a schema of its own (src/projections/rebuild.ts, the code behind
 * `npm run projections:rebuild`) and compares it, row for row, with what the live projector built in `public`.
 */

export interface TableComparison {
  table: string;
  live: number;
  rebuilt: number;
  /** Rows of the live table that the rebuild does not have, and the reverse (EXCEPT ALL, so repeats count). */
  onlyLive: number;
  onlyRebuilt: number;
}

export interface CheckpointComparison {
  projection: string;
  live: string;
  rebuilt: string;
}

export interface RebuildComparison {
  tables: TableComparison[];
  /** Projections whose live checkpoint never reached the rebuild's (the projector fell behind or stopped). */
  lagging: CheckpointComparison[];
  events: number;
}

export interface RebuildComparisonOptions {
  /** Columns the projection does not own, by table (the scheduler's dispatched_at mark). */
  ignore?: Record<string, string[]>;
  /** How long the live projector may take to reach the rebuild's checkpoints. */
  catchUpMs?: number;
}

export async function compareWithRebuild(databaseUrl: string, options: RebuildComparisonOptions = {}): Promise<RebuildComparison> {
  const schema = `rebuild_${randomBytes(4).toString('hex')}`;
  const live = await createPostgresClient({ connectionString: databaseUrl, maxConnections: 2 });
  let rebuilt: SqlClient | undefined;
  try {
    rebuilt = await createPostgresClient({ connectionString: databaseUrl, schema, maxConnections: 2 });
    const store = await createPostgresEventStore(live);
    const rebuiltDb = createKysely(rebuilt);
    await migrateToLatest(rebuiltDb, { ...checkpointMigrations, ...Object.assign({}, ...projections.map((p) => p.migrations)) }, schema);
    let events = 0;
    try {
      for (const projection of projections) events += (await rebuildProjection(store, rebuiltDb, projection)).events;
    } finally {
      await store.close();
    }

    const target = await readAllCheckpoints(rebuiltDb);
    const liveDb = createKysely(live);
    const deadline = Date.now() + (options.catchUpMs ?? 60_000);
    let lagging: CheckpointComparison[];
    for (;;) {
      const current = await readAllCheckpoints(liveDb);
      lagging = projections.flatMap((p) => {
        const wanted = target.get(p.name)?.position ?? null;
        const reached = current.get(p.name)?.position ?? null;
        const behind = wanted !== null && (reached === null || comparePositions(reached, wanted) < 0);
        return behind ? [{ projection: p.name, live: reached ? formatPosition(reached) : 'none', rebuilt: formatPosition(wanted) }] : [];
      });
      if (lagging.length === 0 || Date.now() > deadline) break;
      await sleep(250);
    }

    const tables = await live.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'
         AND table_name NOT IN ('projection_checkpoints', 'kysely_migration', 'kysely_migration_lock') ORDER BY table_name`,
      [schema],
    );
    const comparisons: TableComparison[] = [];
    for (const { table_name: table } of tables.rows) {
      const columns = await live.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema, table],
      );
      const ignored = new Set(options.ignore?.[table] ?? []);
      const list = columns.rows.map((c) => c.column_name).filter((c) => !ignored.has(c)).map(quoteIdent).join(', ');
      const liveTable = `public.${quoteIdent(table)}`;
      const rebuiltTable = `${quoteIdent(schema)}.${quoteIdent(table)}`;
      const count = async (query: string) => Number((await live.query<{ n: string }>(`SELECT count(*) AS n FROM (${query}) d`)).rows[0]!.n);
      comparisons.push({
        table,
        live: await count(`SELECT 1 FROM ${liveTable}`),
        rebuilt: await count(`SELECT 1 FROM ${rebuiltTable}`),
        onlyLive: await count(`SELECT ${list} FROM ${liveTable} EXCEPT ALL SELECT ${list} FROM ${rebuiltTable}`),
        onlyRebuilt: await count(`SELECT ${list} FROM ${rebuiltTable} EXCEPT ALL SELECT ${list} FROM ${liveTable}`),
      });
    }
    return { tables: comparisons, lagging, events };
  } finally {
    await rebuilt?.close().catch(() => undefined);
    await live.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => undefined);
    await live.close().catch(() => undefined);
  }
}
