import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createPostgresClient } from '../../../src/infrastructure/database/postgres-client.js';
import type { SqlClient } from '../../../src/infrastructure/database/sql-client.js';
import type { EventData, EventFilter, EventStore, RecordedEvent } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { databaseUrl, testDatabases, type TestDatabase } from '../../support/databases.js';
import { eventually, expectIncreasing, sleep } from './event-store-contract.js';

// The shared end of the log (LogTail) behind PostgreSQL subscriptions: what each subscription gets must be exactly what
// a read of the log with its filter gives, whatever the tail kept, trimmed or restarted meanwhile.

function event(type: string): EventData {
  return { id: randomUUID(), type, data: { value: randomUUID(), nested: { list: [1, 2] } }, metadata: { correlation_id: randomUUID() } };
}

/** Counts the window reads of the log a store makes (its subscriptions' queries). */
function countingWindowReads(sql: SqlClient): { sql: SqlClient; reads: () => number } {
  let reads = 0;
  const counted = new Proxy(sql, {
    get(target, property, receiver) {
      if (property === 'query') {
        return (text: string, params?: unknown[]) => {
          if (text.includes('WITH w AS MATERIALIZED')) reads++;
          return target.query(text, params);
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { sql: counted, reads: () => reads };
}

/** Follows a subscription into an array until stopped; `delayMs` per batch makes a slow follower. */
function follow(store: EventStore, options: Parameters<EventStore['subscribe']>[0], delayMs = 0) {
  const received: RecordedEvent[] = [];
  const subscription = store.subscribe(options);
  const done = (async () => {
    for await (const batch of subscription) {
      received.push(...batch);
      if (delayMs > 0) await sleep(delayMs);
    }
  })();
  return {
    received,
    async stop() {
      await subscription.close();
      await done;
    },
  };
}

for (const database of testDatabases()) {
  describe(`shared log tail on ${database.name}`, () => {
    const databases: TestDatabase[] = [];
    afterEach(async () => {
      await Promise.all(databases.splice(0).map((d) => d.cleanup()));
    });

    it.each([
      ['waits for the slowest', undefined],
      ['waits for nobody', 0],
    ])('gives every subscription exactly its events in order, fast or slow, while the tail is trimmed and restarted (%s)', async (_, tailHoldMs) => {
      databases.push(database);
      const sql = await database.create();
      // A tiny tail: slow followers fall out of it and read the log themselves, then come back.
      const store = await createPostgresEventStore(sql, { tailEvents: 40, tailHoldMs });
      const category = `tail${randomUUID().slice(0, 8)}`;
      const start = await store.append(`${category}-start`, [event('Start')], { expectedRevision: 'no_stream' });
      const filters: EventFilter[] = [
        {},
        { categories: [category] },
        { eventTypes: ['Rare'] },
        { categories: [category], eventTypes: ['Common', 'Rare'] },
        { streams: [`${category}-0`, `${category}-3`] },
      ];
      const followers = filters.flatMap((filter, index) => [
        follow(store, { after: start.position, filter, batchSize: 7 }),
        follow(store, { after: start.position, filter, batchSize: 50 }, index % 2 === 0 ? 15 : 2),
      ]);
      // Appenders on several streams at once, with a rare type now and then.
      await Promise.all(
        Array.from({ length: 6 }, async (_, writer) => {
          let revision: number | 'no_stream' = 'no_stream';
          for (let i = 0; i < 25; i++) {
            const batch = Array.from({ length: 1 + (i % 4) }, (_, k) => event((i + k) % 9 === 0 ? 'Rare' : 'Common'));
            const result = await store.append(`${category}-${writer}`, batch, { expectedRevision: revision });
            revision = result.nextExpectedRevision;
            if (i % 5 === 0) await sleep(10);
          }
        }),
      );
      for (const [index, filter] of filters.entries()) {
        const expected = await store.readAll({ after: start.position, filter });
        for (const follower of followers.slice(index * 2, index * 2 + 2)) {
          await eventually(async () => expect(follower.received.length).toBeGreaterThanOrEqual(expected.length), 20_000);
          expect(follower.received.map((e) => e.id)).toEqual(expected.map((e) => e.id));
          expectIncreasing(follower.received);
        }
      }
      await Promise.all(followers.map((f) => f.stop()));
      await store.close();
    });

    it('reads the log once for many subscriptions at the head, not once each', async () => {
      databases.push(database);
      const counted = countingWindowReads(await database.create());
      const store = await createPostgresEventStore(counted.sql);
      const category = `tail${randomUUID().slice(0, 8)}`;
      const start = await store.append(`${category}-start`, [event('Start')], { expectedRevision: 'no_stream' });
      const followers = Array.from({ length: 8 }, (_, i) => follow(store, { after: start.position, filter: i % 2 === 0 ? { categories: [category] } : { eventTypes: ['Common'] } }));
      await sleep(100);
      const before = counted.reads();
      const appends = 20;
      for (let i = 0; i < appends; i++) {
        await store.append(`${category}-${i}`, [event('Common')], { expectedRevision: 'no_stream' });
        await sleep(60);
      }
      await eventually(async () => followers.forEach((f) => expect(f.received).toHaveLength(appends)), 10_000);
      // Each follower alone reads at least once per append spaced this far apart: 8 × 20 reads without sharing.
      expect(counted.reads() - before).toBeLessThan(3 * appends);
      await Promise.all(followers.map((f) => f.stop()));
      await store.close();
    });

    it('keeps a slow follower in the tail: the followers with nothing to do wait for it instead of leaving it to read the log', async () => {
      databases.push(database);
      const counted = countingWindowReads(await database.create());
      const store = await createPostgresEventStore(counted.sql, { tailEvents: 40 });
      const category = `tail${randomUUID().slice(0, 8)}`;
      const start = await store.append(`${category}-start`, [event('Start')], { expectedRevision: 'no_stream' });
      // Appended before anyone follows: the whole burst is there at once, as when a batch of notifications comes in.
      for (let i = 0; i < 30; i++) {
        await store.append(`${category}-${i}`, Array.from({ length: 10 }, () => event('Common')), { expectedRevision: 'no_stream' });
      }
      const before = counted.reads();
      const busy = follow(store, { after: start.position, filter: { categories: [category] }, batchSize: 20 }, 10);
      const idle = Array.from({ length: 3 }, () => follow(store, { after: start.position, filter: { eventTypes: ['Rare'] }, batchSize: 20 }));
      await eventually(async () => expect(busy.received).toHaveLength(300), 20_000);
      expect(busy.received.map((e) => e.id)).toEqual((await store.readAll({ after: start.position, filter: { categories: [category] } })).map((e) => e.id));
      // Without waiting, the idle followers take the tail to the end of the log at once and the busy one reads the
      // 300 events itself, a read per batch or so: a dozen filtered reads.
      expect(counted.reads() - before).toBeLessThan(3);
      await Promise.all([busy, ...idle].map((f) => f.stop()));
      await store.close();
    });

    it('does not make a leading follower wait for a slower one', async () => {
      databases.push(database);
      const store = await createPostgresEventStore(await database.create(), { tailEvents: 40 });
      const category = `tail${randomUUID().slice(0, 8)}`;
      const start = await store.append(`${category}-start`, [event('Start')], { expectedRevision: 'no_stream' });
      for (let i = 0; i < 30; i++) {
        await store.append(`${category}-${i}`, Array.from({ length: 10 }, () => event('Common')), { expectedRevision: 'no_stream' });
      }
      // 5 events per 100 ms: six seconds for the 300 events.
      const slow = follow(store, { after: start.position, filter: { categories: [category] }, batchSize: 5 }, 100);
      const leader = follow(store, { after: start.position, filter: { categories: [category] }, batchSize: 20, leads: true });
      await eventually(async () => expect(leader.received).toHaveLength(300), 2_500);
      expect(slow.received.length).toBeLessThan(300);
      await Promise.all([slow.stop(), leader.stop()]);
      await store.close();
    });

    it('lets the others go on when a follower stops moving', async () => {
      databases.push(database);
      const store = await createPostgresEventStore(await database.create(), { tailEvents: 40, tailHoldMs: 200 });
      const category = `tail${randomUUID().slice(0, 8)}`;
      const start = await store.append(`${category}-start`, [event('Start')], { expectedRevision: 'no_stream' });
      for (let i = 0; i < 20; i++) {
        await store.append(`${category}-${i}`, Array.from({ length: 10 }, () => event('Common')), { expectedRevision: 'no_stream' });
      }
      // Stuck on its first batch (a projection failing on an event, say): it holds the tail only for tailHoldMs.
      const stuck = store.subscribe({ after: start.position, filter: { categories: [category] }, batchSize: 5 });
      const iterator = stuck[Symbol.asyncIterator]();
      await iterator.next();
      const other = follow(store, { after: start.position, filter: { categories: [category] }, batchSize: 20 });
      await eventually(async () => expect(other.received).toHaveLength(200), 10_000);
      await Promise.all([other.stop(), stuck.close()]);
      await store.close();
    });

    it('hands out events that no subscription can change under the others', async () => {
      databases.push(database);
      const store = await createPostgresEventStore(await database.create());
      const stream = `tail${randomUUID().slice(0, 8)}-1`;
      const start = await store.append(stream, [event('Start')], { expectedRevision: 'no_stream' });
      const one = follow(store, { after: start.position });
      const other = follow(store, { after: start.position });
      await store.append(stream, [event('Common')], { expectedRevision: 0 });
      await eventually(async () => expect([one.received.length, other.received.length]).toEqual([1, 1]));
      const shared = one.received[0]!;
      expect(other.received[0]).toBe(shared);
      expect(() => {
        (shared.data as { value: string }).value = 'changed';
      }).toThrow(TypeError);
      expect(() => {
        (shared.data as { nested: { list: number[] } }).nested.list.push(3);
      }).toThrow(TypeError);
      await Promise.all([one.stop(), other.stop()]);
      await store.close();
    });
  });
}

describe.runIf(databaseUrl)('shared log tail across processes', () => {
  it("sees another process's appends, by its NOTIFY or by polling without one", async () => {
    const schema = `t_tail_${randomUUID().slice(0, 8)}`;
    const reader = await createPostgresClient({ connectionString: databaseUrl!, schema });
    const writer = await createPostgresClient({ connectionString: databaseUrl!, schema });
    try {
      const readerStore = await createPostgresEventStore(reader, { pollIntervalMs: 100 });
      const writerStore = await createPostgresEventStore(writer);
      const stream = `tail${randomUUID().slice(0, 8)}-1`;
      const start = await writerStore.append(stream, [event('Start')], { expectedRevision: 'no_stream' });
      const followers = [follow(readerStore, { after: start.position }), follow(readerStore, { after: start.position, filter: { eventTypes: ['Common'] } })];
      await writerStore.append(stream, [event('Common')], { expectedRevision: 0 });
      await eventually(async () => followers.forEach((f) => expect(f.received).toHaveLength(1)), 5_000);
      // Written without the store (so without its NOTIFY): only the poll can find it.
      await writer.query(
        `INSERT INTO es_events (event_id, stream_id, stream_revision, category, type, data, metadata) VALUES ($1, $2, 2, 'tail', 'Common', '{}', '{}')`,
        [randomUUID(), stream],
      );
      await eventually(async () => followers.forEach((f) => expect(f.received).toHaveLength(2)), 5_000);
      await Promise.all(followers.map((f) => f.stop()));
      await Promise.all([readerStore.close(), writerStore.close()]);
    } finally {
      await reader.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await Promise.all([reader.close(), writer.close()]);
    }
  });
});
