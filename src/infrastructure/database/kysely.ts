import { Kysely, PostgresDialect } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import type { SqlClient } from './sql-client.js';

/** Kysely over the same pool as the SqlClient (pg.Pool, or the PGlite lease pool). */
export function createKysely(sql: SqlClient): SharedDatabase {
  return new Kysely({ dialect: new PostgresDialect({ pool: sql.pool }) });
}

/**
 * Runs the read-side migrations (read models, API keys, idempotency records, checkpoints).
 * Names sort in the order they must run; each module contributes its own.
 */
export async function migrateToLatest(db: SharedDatabase, migrations: Record<string, Migration>, schema: string): Promise<void> {
  // The schema is named so that Kysely's bookkeeping tables in another schema of the same database are not mistaken for ours.
  // Unordered: a module's new migration may sort before ones a deployed database already ran (0020_secrets came after
  // 0170); each migration is about its own tables, so the order between modules does not matter.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: schema, allowUnorderedMigrations: true });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`Migration ${failed?.migrationName ?? '(unknown)'} failed: ${(error as Error).message}`);
  }
}

/**
 * The read-side database holds tables of several modules (read models, checkpoints, keys, idempotency records).
 * Code that spans modules takes it untyped; each module narrows it to its own tables.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SharedDatabase = Kysely<any>;
