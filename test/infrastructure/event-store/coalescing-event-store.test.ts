import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withCoalescedAccess } from '../../../src/infrastructure/event-store/coalescing-event-store.js';
import { WrongExpectedRevisionError, type EventData, type EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { testDatabases } from '../../support/databases.js';
import { eventStoreContract } from './event-store-contract.js';

const event = (type = 'Happened'): EventData => ({ id: randomUUID(), type, data: { n: 1 }, metadata: {} });

/** Counts the calls the coalescing layer makes to the store under it. */
function counting(store: EventStore) {
  const calls = { append: 0, appendMany: 0, readStream: 0, readStreams: 0 };
  const counted: EventStore = {
    ...store,
    append: (...args) => (calls.append++, store.append(...args)),
    appendMany: (...args) => (calls.appendMany++, store.appendMany(...args)),
    readStream: (...args) => (calls.readStream++, store.readStream(...args)),
    readStreams: (...args) => (calls.readStreams++, store.readStreams(...args)),
    readAll: (...args) => store.readAll(...args),
    subscribe: (...args) => store.subscribe(...args),
    headPosition: () => store.headPosition(),
    ping: () => store.ping(),
    close: () => store.close(),
  };
  return { counted, calls };
}

for (const database of testDatabases()) {
  // Whatever it gathers, the coalesced store keeps every promise of the port.
  eventStoreContract(`coalesced postgres adapter on ${database.name}`, async () => {
    const store = await createPostgresEventStore(await database.create());
    return {
      store: withCoalescedAccess(store),
      async cleanup() {
        await store.close();
        await database.cleanup();
      },
    };
  });

  describe(`withCoalescedAccess on ${database.name}`, () => {
    it('gathers concurrent appends into one appendMany and concurrent reads into one readStreams', async () => {
      const inner = await createPostgresEventStore(await database.create());
      try {
        const { counted, calls } = counting(inner);
        const store = withCoalescedAccess(counted);
        const streams = Array.from({ length: 50 }, () => `notification-${randomUUID()}`);
        const results = await Promise.all(streams.map((s) => store.append(s, [event()], { expectedRevision: 'no_stream' })));
        expect(results.every((r) => r.nextExpectedRevision === 0)).toBe(true);
        expect(calls).toMatchObject({ append: 0, appendMany: 1 });

        const read = await Promise.all(streams.map((s) => store.readStream(s)));
        expect(read.every((events, i) => events.length === 1 && events[0]!.streamId === streams[i])).toBe(true);
        expect(calls).toMatchObject({ readStream: 0, readStreams: 1 });
      } finally {
        await inner.close();
        await database.cleanup();
      }
    });

    it('fails only the append whose expectation is wrong; the others of its batch are written', async () => {
      const inner = await createPostgresEventStore(await database.create());
      try {
        const store = withCoalescedAccess(inner);
        const taken = `notification-${randomUUID()}`;
        await store.append(taken, [event()], { expectedRevision: 'no_stream' });
        const fine = Array.from({ length: 5 }, () => `notification-${randomUUID()}`);
        const outcomes = await Promise.allSettled([
          ...fine.map((s) => store.append(s, [event()], { expectedRevision: 'no_stream' })),
          store.append(taken, [event()], { expectedRevision: 'no_stream' }),
        ]);
        expect(outcomes.slice(0, 5).every((o) => o.status === 'fulfilled')).toBe(true);
        const failure = outcomes[5]!;
        expect(failure.status === 'rejected' && failure.reason instanceof WrongExpectedRevisionError).toBe(true);
        for (const s of fine) expect(await inner.readStream(s)).toHaveLength(1);
        expect(await inner.readStream(taken)).toHaveLength(1);
      } finally {
        await inner.close();
        await database.cleanup();
      }
    });
  });
}
