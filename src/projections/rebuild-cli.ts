import { loadEnv } from '../infrastructure/config/env.js';
import { createKysely, migrateToLatest } from '../infrastructure/database/kysely.js';
import { openEventStore, openSqlClient } from '../infrastructure/storage.js';
import { checkpointMigrations } from './checkpoints.js';
import { rebuildProjection } from './rebuild.js';
import { projections } from './registry.js';

/**
 * npm run projections:rebuild [name ...] — empties the named read models (all by default) and replays the events.
 * Safe while the service runs: its projectors notice the moved checkpoint and follow on from the rebuilt state.
 */
async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !projections.some((p) => p.name === n));
  if (unknown.length > 0) {
    throw new Error(`Unknown projection ${unknown.join(', ')}; known: ${projections.map((p) => p.name).join(', ')}`);
  }
  const env = loadEnv();
  const sql = await openSqlClient(env);
  const { store } = await openEventStore(env, sql);
  const db = createKysely(sql);
  try {
    await migrateToLatest(db, { ...checkpointMigrations, ...Object.assign({}, ...projections.map((p) => p.migrations)) }, sql.schema);
    for (const projection of projections.filter((p) => names.length === 0 || names.includes(p.name))) {
      const result = await rebuildProjection(store, db, projection);
      const rate = result.durationMs > 0 ? Math.round((result.events / result.durationMs) * 1000) : result.events;
      process.stdout.write(`${result.projection}: ${result.events} events in ${Math.round(result.durationMs)} ms (${rate} events/s)\n`);
    }
  } finally {
    await store.close();
    await sql.close().catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`Rebuild failed: ${(error as Error).message}\n`);
  process.exit(1);
});
