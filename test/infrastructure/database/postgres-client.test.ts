import { afterAll, describe, expect, it } from 'vitest';
import { databaseUrl, postgresDatabase } from '../../support/databases.js';

/** What happens to the service's connections when PostgreSQL drops them (restart, failover, pg_terminate_backend). */
describe.skipIf(!databaseUrl)('PostgreSQL client when the server drops its connections', () => {
  const database = postgresDatabase(databaseUrl ?? '');
  afterAll(() => database.cleanup());

  const terminate = async (query: (text: string) => Promise<unknown>, filter: string) =>
    query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${filter}`);

  it('fails the query of a connection in use, without crashing the process, and serves the next one', async () => {
    const sql = await database.create();
    const other = await database.create();
    // A transaction holds its client out of the pool: the case where a lost connection used to crash the process.
    const running = sql.transaction((tx) => tx.query('SELECT pg_sleep(5)')).then(
      () => null,
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await terminate((text) => other.query(text), `query LIKE 'SELECT pg_sleep(5)%'`);
    expect(await running).toBeInstanceOf(Error);
    expect((await sql.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    await sql.close();
    await other.close();
  });

  it('opens a LISTEN session again after it was dropped, and notifications come back', async () => {
    const sql = await database.create();
    const other = await database.create();
    const received: string[] = [];
    const stop = await sql.listen('comm_test_channel', (payload) => received.push(payload));
    await terminate((text) => other.query(text), `query LIKE 'LISTEN%'`);
    const deadline = Date.now() + 10_000;
    while (!received.includes('after') && Date.now() < deadline) {
      await other.query(`NOTIFY comm_test_channel, 'after'`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(received).toContain('after');
    await stop();
    await sql.close();
    await other.close();
  });
});
