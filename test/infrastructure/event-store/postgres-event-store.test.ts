import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresClient, quoteIdent } from '../../../src/infrastructure/database/postgres-client.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import {
  type AppendResult,
  type EventData,
  type EventSubscription,
  type RecordedEvent,
} from '../../../src/infrastructure/event-store/event-store.js';
import {
  createPostgresEventStore,
  type PostgresEventStore,
} from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { databaseUrl, postgresDatabase, testDatabases } from '../../support/databases.js';
import { eventStoreContract, eventually, expectIncreasing, sleep } from './event-store-contract.js';

for (const database of testDatabases()) {
  eventStoreContract(`postgres adapter on ${database.name}`, async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql);
    return {
      store,
      async cleanup() {
        await store.close();
        await database.cleanup();
      },
    };
  });

  describe(`PostgresEventStore on ${database.name}`, () => {
    it('migrates idempotently', async () => {
      const sql = await database.create();
      try {
        const store = await createPostgresEventStore(sql);
        await store.migrate();
        await Promise.all([store.migrate(), store.migrate()]);
        await store.append(`campaign-${randomUUID()}`, [event()], { expectedRevision: 'no_stream' });
        await store.ping();
        await store.close();
      } finally {
        await database.cleanup();
      }
    });

    // Regression: positions once sorted by transaction_id's text form, so xid 1000 came before xid 999.
    it('orders by transaction id as a number, across a power of ten', async () => {
      const sql = await database.create();
      try {
        const store = await createPostgresEventStore(sql);
        const stream = `campaign-${randomUUID()}`;
        const xid = async () => BigInt((await sql.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]!.x);
        const boundary = 10n ** BigInt((await xid()).toString().length);
        if (boundary - (await xid()) > 5000n) return; // a long-lived server: too many transactions to burn
        const before = await store.append(stream, [event('Before')], { expectedRevision: 'no_stream' });
        while ((await xid()) < boundary); // every autocommit statement uses up one transaction id
        const after = await store.append(stream, [event('After')], { expectedRevision: 0 });
        expect(after.position.commit >= boundary && before.position.commit < boundary).toBe(true);

        const read = await eventually(async () => {
          const events = await store.readAll({ filter: { streams: [stream] } });
          expect(events).toHaveLength(2);
          return events;
        });
        expect(read.map((e) => e.type)).toEqual(['Before', 'After']);
        expect(await store.headPosition()).toEqual(after.position);
        await store.close();
      } finally {
        await database.cleanup();
      }
    });
  });
}

/**
 * Needs real concurrent connections, which PGlite (one connection) cannot have.
 * The late-commit tests live here, not in a file of their own: an open transaction holds back every fenced reader on
 * the server, and tests in one file run one after another.
 */
describe.skipIf(!databaseUrl)('PostgresEventStore on PostgreSQL, concurrent connections', () => {
  const database = postgresDatabase(databaseUrl ?? '');
  let sql: SqlClient;
  let store: PostgresEventStore;
  let schema: string;
  const extraClients: { end(): Promise<void> }[] = [];

  beforeAll(async () => {
    sql = await database.create();
    store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    schema = (await sql.query<{ schema: string }>('SELECT current_schema() AS schema')).rows[0]!.schema;
  });
  afterAll(async () => {
    await store?.close();
    await Promise.all(extraClients.map((c) => c.end().catch(() => undefined)));
    await database.cleanup();
  });

  /** A raw connection on the same schema, for a transaction the store does not control. */
  async function rawConnection(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: databaseUrl, options: `-c search_path=${quoteIdent(schema)}` });
    await client.connect();
    extraClients.push(client);
    return client;
  }

  it('a reader never moves past a transaction that commits late, and then gets all its events', async () => {
    const category = `late${randomUUID().slice(0, 8)}`;
    const filter = { categories: [category] };
    const early = await store.append(`${category}-early`, [event('Early')], { expectedRevision: 'no_stream' });

    // An append in a transaction left open: its events get lower global positions than the ones committed next.
    const held = await rawConnection();
    await held.query('BEGIN');
    const heldEvents = [event('Held'), event('Held')];
    await held.query(`SELECT * FROM es_append($1, 'no_stream', NULL, $2::jsonb)`, [
      `${category}-held`,
      JSON.stringify(heldEvents),
    ]);
    const subscription = store.subscribe({ filter, batchSize: 1 });
    const received = collect(subscription);

    let committedLater: AppendResult[] = [];
    try {
      committedLater = [
        await store.append(`${category}-later`, [event('Later')], { expectedRevision: 'no_stream' }),
        await store.append(`${category}-later`, [event('Later')], { expectedRevision: 0 }),
      ];
      // Committed and visible to a plain query: a reader ordering by global_position alone would take them now.
      const plain = await sql.query(`SELECT 1 FROM es_events WHERE stream_id = $1`, [`${category}-later`]);
      expect(plain.rowCount).toBe(2);

      await sleep(300);
      const fenced = await store.readAll({ filter });
      expect(fenced.map((e) => e.type)).toEqual(['Early']);
      expect(received.events.map((e) => e.type)).toEqual(['Early']);
      // The head is the last event committed: a follower waiting for it waits for the held transaction too.
      expect(await store.headPosition()).toEqual(committedLater[1]!.position);
    } finally {
      await held.query('COMMIT');
    }

    // A reader resuming from its checkpoint gets everything, the late transaction first (it started first).
    const resumed = await eventually(async () => {
      const events = await store.readAll({ after: early.position, filter });
      expect(events).toHaveLength(4);
      return events;
    });
    expect(resumed.map((e) => e.type)).toEqual(['Held', 'Held', 'Later', 'Later']);
    expect(resumed.slice(0, 2).map((e) => e.id)).toEqual(heldEvents.map((e) => e.id));
    expect(resumed.slice(2).map((e) => e.position)).toEqual(committedLater.map((r) => r.position));
    expect(resumed[0]!.position.prepare < resumed[2]!.position.prepare).toBe(true);
    expectIncreasing(resumed);

    await received.waitFor(5);
    expect(received.events.map((e) => e.type)).toEqual(['Early', 'Held', 'Held', 'Later', 'Later']);
    await subscription.close();
    await received.done;
  });

  it('a subscription of another store instance is woken by NOTIFY', async () => {
    const otherSql = await createPostgresClient({ connectionString: databaseUrl!, schema, maxConnections: 2 });
    extraClients.push({ end: () => otherSql.close() });
    // A poll interval far longer than the test: only the notification can deliver in time.
    const other = await createPostgresEventStore(otherSql, { pollIntervalMs: 60_000 });
    const stream = `notified-${randomUUID()}`;
    await store.append(stream, [event('History')], { expectedRevision: 'no_stream' });

    const subscription = other.subscribe({ filter: { streams: [stream] } });
    const received = collect(subscription);
    await received.waitFor(1);
    await sleep(300); // the LISTEN connection is opened lazily with the first subscription

    const started = Date.now();
    await store.append(stream, [event('Live')], { expectedRevision: 0 });
    await received.waitFor(2, 2000);
    expect(Date.now() - started).toBeLessThan(1000);

    await other.close();
    await received.done;
    expect(received.events.map((e) => e.type)).toEqual(['History', 'Live']);
  });

  it('16 concurrent writers on distinct streams all land; a concurrent reader sees each event exactly once', async () => {
    const category = `many${randomUUID().slice(0, 8)}`;
    // Two pools, so commits really interleave out of global_position order.
    const secondSql = await createPostgresClient({ connectionString: databaseUrl!, schema, maxConnections: 8 });
    extraClients.push({ end: () => secondSql.close() });
    const second = await createPostgresEventStore(secondSql);
    const subscription = store.subscribe({ filter: { categories: [category] }, batchSize: 7 });
    const received = collect(subscription);

    const writers = 16;
    const perWriter = 25;
    const appended = await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        const target = writer % 2 === 0 ? store : second;
        const stream = `${category}-${writer}`;
        const ids: string[] = [];
        for (let revision = 0; revision < perWriter; revision++) {
          const e = event('Written');
          ids.push(e.id);
          await target.append(stream, [e], { expectedRevision: revision === 0 ? 'no_stream' : revision - 1 });
        }
        return ids;
      }),
    );
    const total = writers * perWriter;
    await received.waitFor(total, 10_000);
    await sleep(200);
    await subscription.close();
    await second.close();
    await received.done;

    const seen = received.events.map((e) => e.id);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(new Set(seen)).toEqual(new Set(appended.flat()));
    expectIncreasing(received.events);
    for (let writer = 0; writer < writers; writer++) {
      const ofStream = received.events.filter((e) => e.streamId === `${category}-${writer}`);
      expect(ofStream.map((e) => e.revision)).toEqual(Array.from({ length: perWriter }, (_, i) => i));
    }
    // Eventually: a transaction of some other client on the server may hold the fence back for a moment.
    await eventually(async () => {
      const read = await store.readAll({ filter: { categories: [category] } });
      expect(read.map((e) => e.id)).toEqual(seen);
    });
  });
});

// --- helpers ---

function event(type = 'Happened'): EventData {
  return { id: randomUUID(), type, data: { at: Date.now() }, metadata: {} };
}

function collect(subscription: EventSubscription) {
  const collector = {
    events: [] as RecordedEvent[],
    done: Promise.resolve(),
    async waitFor(count: number, timeoutMs = 3000) {
      await eventually(async () => {
        expect(collector.events.length).toBeGreaterThanOrEqual(count);
      }, timeoutMs);
    },
  };
  collector.done = (async () => {
    for await (const batch of subscription) collector.events.push(...batch);
  })();
  return collector;
}
