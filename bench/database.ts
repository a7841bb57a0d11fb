import pg from 'pg';

/** Drops and recreates a database next to the one in baseUrl; returns its URL. */
export async function freshDatabase(baseUrl: string, name: string): Promise<string> {
  await adminQuery(baseUrl, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, `CREATE DATABASE ${name}`]);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops a bench's database once its figures are taken, unless BENCH_KEEP_DATABASES=1 (to look into it afterwards).
 * Left in place, its autovacuum and checkpoints would run during the next bench and be billed to it.
 */
export async function dropBenchDatabase(baseUrl: string, name: string): Promise<void> {
  if (process.env.BENCH_KEEP_DATABASES === '1') return;
  await adminQuery(baseUrl, [`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  // Its dirty pages written now rather than during the next bench (needs the pg_checkpoint role or a superuser).
  await adminQuery(baseUrl, ['CHECKPOINT']).catch(() => undefined);
}

async function adminQuery(baseUrl: string, statements: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    for (const statement of statements) await admin.query(statement);
  } finally {
    await admin.end();
  }
}
