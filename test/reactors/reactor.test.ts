import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKysely, migrateToLatest } from '../../src/infrastructure/database/kysely.js';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { checkpointMigrations, readCheckpoint } from '../../src/projections/checkpoints.js';
import { Reactor } from '../../src/reactors/reactor.js';
import { testDatabases } from '../support/databases.js';

const logger = createLogger('silent');

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(testDatabases())('reactor on $name', (database) => {
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, checkpointMigrations, sql.schema);
    const append = (category: string, n: number) =>
      Promise.all(
        Array.from({ length: n }, () =>
          store.append(`${category}-${randomUUID()}`, [{ id: randomUUID(), type: 'Something', data: {}, metadata: {} }], { expectedRevision: 'no_stream' }),
        ),
      );
    return { store, db, append };
  };

  it('hands each matching event to its handler in order and resumes after a restart', async () => {
    const { store, db, append } = await setup();
    const seen: RecordedEvent[] = [];
    const definition = { name: 'collect', filter: { categories: ['order'] }, handle: async (e: RecordedEvent) => void seen.push(e) };
    await append('order', 3);
    await append('other', 2);
    const first = new Reactor(store, db, definition, logger);
    await first.start();
    await until(() => seen.length === 3);
    await first.stop();

    await append('order', 2);
    const second = new Reactor(store, db, definition, logger);
    await second.start();
    await until(() => seen.length === 5);
    await second.stop();
    expect(new Set(seen.map((e) => e.id)).size).toBe(5);
    expect((await readCheckpoint(db, 'reactor:collect')).eventsApplied).toBe(5);
    await store.close();
  });

  it('retries an event whose handler failed, without skipping it', async () => {
    const { store, db, append } = await setup();
    let failures = 0;
    const handled: string[] = [];
    const reactor = new Reactor(
      store,
      db,
      {
        name: 'flaky',
        filter: { categories: ['job'] },
        handle: async (e) => {
          if (failures < 2) {
            failures++;
            throw new Error('provider down');
          }
          handled.push(e.id);
        },
      },
      logger,
      { retryDelayMs: 10 },
    );
    await append('job', 2);
    await reactor.start();
    await until(() => handled.length === 2);
    await reactor.stop();
    expect(failures).toBe(2);
    expect(new Set(handled).size).toBe(2);
    await store.close();
  });

  it('inOrderPerStream: streams handled at once, the events of each stream in the order recorded', async () => {
    const { store, db } = await setup();
    const streams = Array.from({ length: 4 }, () => `order-${randomUUID()}`);
    for (let revision = 0; revision < 5; revision++) {
      for (const stream of streams) {
        await store.append(stream, [{ id: randomUUID(), type: 'Step', data: { revision }, metadata: {} }], { expectedRevision: revision === 0 ? 'no_stream' : revision - 1 });
      }
    }
    const seen = new Map<string, number[]>();
    let running = 0;
    let mostAtOnce = 0;
    const reactor = new Reactor(
      store,
      db,
      {
        name: 'ordered',
        filter: { categories: ['order'] },
        handle: async (e) => {
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          // Later events of a stream finish sooner: only the per-stream order keeps them in sequence.
          await new Promise((r) => setTimeout(r, 10 - e.revision * 2));
          seen.set(e.streamId, [...(seen.get(e.streamId) ?? []), e.revision]);
          running--;
        },
      },
      logger,
      { concurrency: 8, inOrderPerStream: true, batchSize: 100 },
    );
    await reactor.start();
    await until(() => [...seen.values()].reduce((n, r) => n + r.length, 0) === 20);
    await reactor.stop();
    for (const stream of streams) expect(seen.get(stream)).toEqual([0, 1, 2, 3, 4]);
    expect(mostAtOnce).toBeGreaterThan(1);
    await store.close();
  });
});
