import { randomUUID } from 'node:crypto';
import { sql as rawSql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest, type SharedDatabase } from '../../src/infrastructure/database/kysely.js';
import type { SqlClient } from '../../src/infrastructure/database/sql-client.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import type { EventStore } from '../../src/infrastructure/event-store/event-store.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { checkpointMigrations, readCheckpoint } from '../../src/projections/checkpoints.js';
import { AdvisoryLockLeases, followerLeasesFor, leaseKey, singleProcessLeases, type FollowerLeases } from '../../src/projections/follower-lease.js';
import type { Projection } from '../../src/projections/projection.js';
import { Projector } from '../../src/projections/projector.js';
import { databaseUrl, pgliteDatabase, postgresDatabase } from '../support/databases.js';

const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

/**
 * A projection that records which projector applied each event. The event id is the primary key, so an event applied
 * twice fails its batch instead of passing unnoticed.
 */
function recordingProjection(appliedBy: string): Projection {
  return {
    name: 'leased',
    filter: { categories: ['leased'] },
    migrations: {
      '1000_leased_events': {
        async up(db: SharedDatabase) {
          await db.schema.createTable('leased_events').ifNotExists().addColumn('event_id', 'text', (c) => c.primaryKey()).addColumn('applied_by', 'text', (c) => c.notNull()).execute();
        },
      },
    },
    async reset(trx) {
      await trx.deleteFrom('leased_events').execute();
    },
    async apply(events, trx) {
      await trx.insertInto('leased_events').values(events.map((e) => ({ event_id: e.id, applied_by: appliedBy }))).execute();
    },
  };
}

describe.skipIf(!databaseUrl)('follower leases on PostgreSQL', () => {
  const database = postgresDatabase(databaseUrl ?? '');
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...recordingProjection('').migrations }, sql.schema);
    cleanups.push(() => store.close());
    return { sql, store, db };
  };

  /** A projector as a separate process would run it: its own lease connection. */
  const projectorProcess = (s: { sql: SqlClient; store: EventStore; db: SharedDatabase }, name: string) => {
    const leases = followerLeasesFor(s.sql, { heartbeatMs: 500 });
    const projector = new Projector(s.store, s.db, recordingProjection(name), logger, { batchSize: 5, retryDelayMs: 20, leases, leaseRetryMs: 200 });
    cleanups.push(async () => {
      await projector.stop();
      await leases.close();
    });
    return { name, projector, leases };
  };

  const append = (store: EventStore, n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        store.append(`leased-${randomUUID()}`, [{ id: randomUUID(), type: 'Happened', data: {}, metadata: {} }], { expectedRevision: 'no_stream' }),
      ),
    );
  const appliedBy = async (db: SharedDatabase) => {
    const rows = await db.selectFrom('leased_events').select(['applied_by']).execute();
    const counts = new Map<string, number>();
    for (const row of rows) counts.set(row.applied_by, (counts.get(row.applied_by) ?? 0) + 1);
    return { total: rows.length, counts };
  };
  /** The backend holding the advisory lock of the `leased` checkpoint. */
  const lockHolderPid = async (s: { sql: SqlClient }) => {
    const { rows } = await s.sql.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and granted and ((classid::bigint << 32) | objid::bigint) = $1::bigint`,
      [leaseKey(s.sql.schema, 'leased')],
    );
    return rows[0]?.pid;
  };

  it('lets one of two projector processes follow; the other takes over when its connection is cut', async () => {
    const s = await setup();
    const a = projectorProcess(s, 'a');
    const b = projectorProcess(s, 'b');
    await Promise.all([a.projector.start(), b.projector.start()]);
    await append(s.store, 20);
    await until(async () => (await appliedBy(s.db)).total === 20);

    const [active, standby] = a.projector.state.running ? [a, b] : [b, a];
    expect(active.projector.state.running).toBe(true);
    expect(standby.projector.state.running).toBe(false);
    expect((await appliedBy(s.db)).counts).toEqual(new Map([[active.name, 20]]));

    // The active process's lease connection dies (network cut, backend killed): its lock goes with it.
    const pid = await lockHolderPid(s);
    expect(pid).toBeDefined();
    await s.sql.query('select pg_terminate_backend($1)', [pid]);
    await append(s.store, 20);
    const cut = Date.now();
    await until(async () => (await appliedBy(s.db)).total === 40);
    expect(Date.now() - cut).toBeLessThan(5_000);

    await until(() => standby.projector.state.running && !active.projector.state.running);
    const { counts } = await appliedBy(s.db);
    expect(counts.get(standby.name)).toBeGreaterThan(0);
    expect((counts.get(active.name) ?? 0) + (counts.get(standby.name) ?? 0)).toBe(40);
    expect((await readCheckpoint(s.db, 'leased')).eventsApplied).toBe(40);
    // The process that lost its lease stays a standby: it does not take the lease back.
    await append(s.store, 5);
    await until(async () => (await appliedBy(s.db)).total === 45);
    expect((await appliedBy(s.db)).counts.get(standby.name)).toBe(45 - (counts.get(active.name) ?? 0));
  });

  it('hands the projection to the standby when the active projector stops, with nothing applied twice', async () => {
    const s = await setup();
    const a = projectorProcess(s, 'a');
    await a.projector.start();
    await until(() => a.projector.state.running);
    const b = projectorProcess(s, 'b');
    await b.projector.start();
    await append(s.store, 15);
    await until(async () => (await appliedBy(s.db)).total === 15);
    expect(b.projector.state.running).toBe(false);
    // A standby reports the stored checkpoint (status, read positions), not a stale one of its own.
    await until(() => b.projector.state.checkpoint.eventsApplied === 15, 2_000);

    // Stopping mid-stream: events keep coming while the lease changes hands.
    const writing = (async () => {
      for (let i = 0; i < 10; i++) {
        await append(s.store, 3);
        await sleep(30);
      }
    })();
    await sleep(50);
    await a.projector.stop();
    await writing;
    await until(async () => (await appliedBy(s.db)).total === 45, 5_000);
    expect(b.projector.state.running).toBe(true);
    const { counts } = await appliedBy(s.db);
    expect((counts.get('a') ?? 0) + (counts.get('b') ?? 0)).toBe(45);
    expect((await readCheckpoint(s.db, 'leased')).eventsApplied).toBe(45);
  });

  it('grants a lease once across processes and once within a process, and frees it on release or close', async () => {
    const s = await setup();
    const first = followerLeasesFor(s.sql);
    const second = followerLeasesFor(s.sql);
    cleanups.push(() => first.close(), () => second.close());

    const held = await first.tryAcquire('x');
    expect(held).not.toBeNull();
    expect(await second.tryAcquire('x')).toBeNull();
    // Session locks are re-entrant in PostgreSQL; the same process must still not hand the name out twice.
    expect(await first.tryAcquire('x')).toBeNull();
    expect(await second.tryAcquire('y')).not.toBeNull();

    await held!.release();
    const taken = await second.tryAcquire('x');
    expect(taken).not.toBeNull();
    await second.close();
    expect(await first.tryAcquire('x')).not.toBeNull();
    expect(await first.tryAcquire('y')).not.toBeNull();
  });

  it('sends one query at a time on its connection when many followers ask at once', async () => {
    const s = await setup();
    let running = 0;
    let most = 0;
    const leases = new AdvisoryLockLeases(() => {
      const client = new pg.Client({ ...s.sql.pool.options });
      const query = client.query.bind(client) as (text: string, params?: unknown[]) => Promise<unknown>;
      // Counts the queries pg was handed and has not answered yet: pg deprecates handing it a second one.
      (client as unknown as { query: typeof query }).query = async (text, params) => {
        running++;
        most = Math.max(most, running);
        try {
          return await query(text, params);
        } finally {
          running--;
        }
      };
      return client;
    }, s.sql.schema);
    cleanups.push(() => leases.close());
    const granted = await Promise.all(Array.from({ length: 12 }, (_, i) => leases.tryAcquire(`follower-${i}`)));
    expect(granted.every((lease) => lease !== null)).toBe(true);
    await Promise.all(granted.map((lease) => lease!.release()));
    expect(most).toBe(1);
  });

  it('keeps leases of other schemas apart: each service instance has its own checkpoints', async () => {
    const one = await setup();
    const other = await setup();
    const a = followerLeasesFor(one.sql);
    const b = followerLeasesFor(other.sql);
    cleanups.push(() => a.close(), () => b.close());
    expect(await a.tryAcquire('campaigns')).not.toBeNull();
    expect(await b.tryAcquire('campaigns')).not.toBeNull();
  });

  it('reports a lease lost when its connection dies', async () => {
    const s = await setup();
    const leases: FollowerLeases = followerLeasesFor(s.sql);
    cleanups.push(() => leases.close());
    const lease = (await leases.tryAcquire('leased'))!;
    let lost = false;
    void lease.lost.then(() => (lost = true));
    await s.sql.query('select pg_terminate_backend($1)', [await lockHolderPid(s)]);
    await until(() => lost, 5_000);
    await lease.release();
    // A new connection is opened for the next request.
    expect(await leases.tryAcquire('leased')).not.toBeNull();
  });
});

describe('follower leases on PGlite', () => {
  const database = pgliteDatabase();
  afterAll(() => database.cleanup());

  it('needs none: PGlite serves one process, so every follower follows', async () => {
    const sql = await database.create();
    expect(followerLeasesFor(sql)).toBe(singleProcessLeases);
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...recordingProjection('').migrations }, sql.schema);
    const projector = new Projector(store, db, recordingProjection('only'), logger, { leases: followerLeasesFor(sql) });
    await projector.start();
    await store.append(`leased-${randomUUID()}`, [{ id: randomUUID(), type: 'Happened', data: {}, metadata: {} }], { expectedRevision: 'no_stream' });
    await until(async () => (await rawSql<{ n: string }>`select count(*) as n from leased_events`.execute(db)).rows[0]?.n === '1');
    expect(projector.state.running).toBe(true);
    await projector.stop();
    await store.close();
  });
});
