import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventIdConflictError,
  WrongExpectedRevisionError,
  comparePositions,
  type EventData,
  type EventStore,
  type EventSubscription,
  type Position,
  type RecordedEvent,
} from '../../../src/infrastructure/event-store/event-store.js';

/**
 * The behaviour every EventStore adapter must have. Adapter-agnostic: it uses only the port, never assumes an empty
 * store (streams and categories are random per test), and tolerates a store whose global reads lag a little behind
 * writes (the PostgreSQL adapter fences reads on running transactions): global reads are retried until they settle.
 */
/** What an adapter can promise beyond the common contract. */
export interface EventStoreCapabilities {
  /**
   * Event ids are unique across the whole store. KurrentDB indexes ids per stream only, so it cannot refuse an id
   * that another stream already holds; the tests of that rule are skipped for it.
   */
  globallyUniqueEventIds: boolean;
  /** appendMany writes all or nothing (one transaction). KurrentDB appends one stream after the other. */
  atomicAppendMany?: boolean;
}

export function eventStoreContract(
  name: string,
  setup: () => Promise<{ store: EventStore; cleanup(): Promise<void> }>,
  capabilities: EventStoreCapabilities = { globallyUniqueEventIds: true },
): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ store, cleanup } = await setup());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    describe('append and readStream', () => {
      it('numbers revisions from 0 and returns the next expected revision', async () => {
        const stream = streamId();
        const first = await store.append(stream, [event('Created')], { expectedRevision: 'no_stream' });
        expect(first.nextExpectedRevision).toBe(0);
        const second = await store.append(stream, [event('Renamed'), event('Renamed')], { expectedRevision: 0 });
        expect(second.nextExpectedRevision).toBe(2);
        expect(comparePositions(second.position, first.position)).toBe(1);

        const events = await store.readStream(stream);
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2]);
        expect(events.map((e) => e.type)).toEqual(['Created', 'Renamed', 'Renamed']);
        expect(events.every((e) => e.streamId === stream)).toBe(true);
        expect(events[2]!.position).toEqual(second.position);
      });

      it('round-trips data and metadata: nested JSON, unicode, numbers, nulls', async () => {
        const stream = streamId();
        const data = {
          title: 'Menu d’été — crème brûlée 🍮, 日本語, Ελληνικά',
          nested: { list: [1, 2.5, -3, { deep: [true, false, null] }], empty: {}, none: null },
          quote: 'he said "bonjour"\n\t\\',
        };
        const metadata = {
          correlation_id: randomUUID(),
          causation_id: randomUUID(),
          actor: 'chef@vieux-moulin.fr',
          timestamp: '2025-06-01T12:00:00.000Z',
          schema_version: 2,
          extra: { tags: ['été', '🍷'] },
        };
        const appended: EventData = { id: randomUUID(), type: 'MenuPublished', data, metadata };
        await store.append(stream, [appended], { expectedRevision: 'any' });

        const [recorded] = await store.readStream(stream);
        expect(recorded!.id).toBe(appended.id);
        expect(recorded!.data).toEqual(data);
        expect(recorded!.metadata).toEqual(metadata);
        expect(recorded!.createdAt).toBeInstanceOf(Date);
        expect(Math.abs(recorded!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
      });

      it('returns an empty array for a stream that does not exist', async () => {
        expect(await store.readStream(streamId())).toEqual([]);
      });

      it('reads from a revision and at most maxCount events', async () => {
        const stream = streamId();
        await store.append(stream, events(6), { expectedRevision: 'no_stream' });
        const fromTwo = await store.readStream(stream, { fromRevision: 2 });
        expect(fromTwo.map((e) => e.revision)).toEqual([2, 3, 4, 5]);
        const window = await store.readStream(stream, { fromRevision: 1, maxCount: 3 });
        expect(window.map((e) => e.revision)).toEqual([1, 2, 3]);
        expect(await store.readStream(stream, { fromRevision: 6 })).toEqual([]);
      });

      it('rejects an append of no events', async () => {
        const stream = streamId();
        await expect(store.append(stream, [], { expectedRevision: 'any' })).rejects.toThrow();
        expect(await store.readStream(stream)).toEqual([]);
      });
    });

    describe('expected revision', () => {
      it("'any' creates a stream and appends to an existing one", async () => {
        const stream = streamId();
        expect((await store.append(stream, [event()], { expectedRevision: 'any' })).nextExpectedRevision).toBe(0);
        expect((await store.append(stream, [event()], { expectedRevision: 'any' })).nextExpectedRevision).toBe(1);
      });

      it("'no_stream' succeeds on a new stream and fails on an existing one with its revision", async () => {
        const stream = streamId();
        await store.append(stream, events(2), { expectedRevision: 'no_stream' });
        await expectWrongRevision(store.append(stream, [event()], { expectedRevision: 'no_stream' }), stream, 'no_stream', 1);
      });

      it("'stream_exists' fails on a missing stream and succeeds on an existing one", async () => {
        const stream = streamId();
        await expectWrongRevision(
          store.append(stream, [event()], { expectedRevision: 'stream_exists' }),
          stream,
          'stream_exists',
          'no_stream',
        );
        expect(await store.readStream(stream)).toEqual([]);
        await store.append(stream, [event()], { expectedRevision: 'any' });
        const result = await store.append(stream, [event()], { expectedRevision: 'stream_exists' });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('an exact revision succeeds when it is the last revision and fails otherwise', async () => {
        const stream = streamId();
        await expectWrongRevision(store.append(stream, [event()], { expectedRevision: 0 }), stream, 0, 'no_stream');
        await store.append(stream, events(3), { expectedRevision: 'no_stream' });
        await expectWrongRevision(store.append(stream, [event()], { expectedRevision: 1 }), stream, 1, 2);
        await expectWrongRevision(store.append(stream, [event()], { expectedRevision: 3 }), stream, 3, 2);
        const result = await store.append(stream, [event()], { expectedRevision: 2 });
        expect(result.nextExpectedRevision).toBe(3);
        expect((await store.readStream(stream)).length).toBe(4);
      });

      it("two concurrent 'no_stream' appends to one stream: exactly one wins", async () => {
        const stream = streamId();
        const outcomes = await Promise.allSettled([
          store.append(stream, [event('A')], { expectedRevision: 'no_stream' }),
          store.append(stream, [event('B')], { expectedRevision: 'no_stream' }),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const failure = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect(failure.reason).toBeInstanceOf(WrongExpectedRevisionError);
        expect((failure.reason as WrongExpectedRevisionError).actual).toBe(0);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it('concurrent writers with the same exact revision: exactly one wins per revision', async () => {
        const stream = streamId();
        await store.append(stream, [event()], { expectedRevision: 'no_stream' });
        const writers = 6;
        for (let revision = 0; revision < 4; revision++) {
          const outcomes = await Promise.allSettled(
            Array.from({ length: writers }, () => store.append(stream, [event()], { expectedRevision: revision })),
          );
          const won = outcomes.filter((o) => o.status === 'fulfilled');
          expect(won).toHaveLength(1);
          expect((won[0] as PromiseFulfilledResult<{ nextExpectedRevision: number }>).value.nextExpectedRevision).toBe(
            revision + 1,
          );
          for (const lost of outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[]) {
            expect(lost.reason).toBeInstanceOf(WrongExpectedRevisionError);
            expect((lost.reason as WrongExpectedRevisionError).actual).toBe(revision + 1);
          }
        }
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
      });
    });

    describe('atomicity and idempotency', () => {
      it('a multi-event append that fails writes none of its events', async () => {
        const stream = streamId();
        const elsewhere = event();
        await store.append(streamId(), [elsewhere], { expectedRevision: 'any' });

        const fresh = events(2);
        if (capabilities.globallyUniqueEventIds) {
          await expect(store.append(stream, [...fresh, elsewhere], { expectedRevision: 'any' })).rejects.toBeInstanceOf(
            EventIdConflictError,
          );
        }
        await expect(store.append(stream, events(3), { expectedRevision: 5 })).rejects.toBeInstanceOf(
          WrongExpectedRevisionError,
        );
        expect(await store.readStream(stream)).toEqual([]);
        // The ids of the failed append were not used up.
        const result = await store.append(stream, fresh, { expectedRevision: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(1);
      });

      it('appending the same events again returns the original result and writes nothing', async () => {
        const stream = streamId();
        await store.append(stream, [event()], { expectedRevision: 'no_stream' });
        const batch = events(3);
        const original = await store.append(stream, batch, { expectedRevision: 0 });
        expect(original.nextExpectedRevision).toBe(3);
        await store.append(stream, [event()], { expectedRevision: 3 });

        // A retry carries the same expectation as the first attempt; it is no conflict even though the stream moved.
        expect(await store.append(stream, batch, { expectedRevision: 0 })).toEqual(original);
        expect(await store.append(stream, batch, { expectedRevision: 'any' })).toEqual(original);
        expect(await store.append(stream, batch, { expectedRevision: 'no_stream' })).toEqual(original);
        expect((await store.readStream(stream)).length).toBe(5);
      });

      it('appendMany appends to several streams, one result per append in order, and a repeat writes nothing', async () => {
        const streams = [streamId(), streamId(), streamId()];
        await store.append(streams[1]!, [event()], { expectedRevision: 'no_stream' });
        const appends = [
          { streamId: streams[0]!, events: events(2), expectedRevision: 'no_stream' as const },
          { streamId: streams[1]!, events: [event()], expectedRevision: 0 },
          { streamId: streams[2]!, events: [event()], expectedRevision: 'any' as const },
        ];
        const results = await store.appendMany(appends);
        expect(results.map((r) => r.nextExpectedRevision)).toEqual([1, 1, 0]);
        for (const [index, append] of appends.entries()) {
          const stored = await store.readStream(append.streamId);
          expect(stored.at(-1)!.id).toBe(append.events.at(-1)!.id);
          expect(stored.at(-1)!.position).toEqual(results[index]!.position);
        }
        expect(await store.appendMany(appends)).toEqual(results);
        expect((await store.readStream(streams[0]!)).length).toBe(2);
        expect(await store.appendMany([])).toEqual([]);
      });

      it('readStreams reads several whole streams at once, each in revision order, missing ones empty', async () => {
        const [a, b, missing] = [streamId(), streamId(), streamId()];
        await store.append(a, events(3), { expectedRevision: 'no_stream' });
        await store.append(b, [event()], { expectedRevision: 'no_stream' });
        await store.append(a, [event()], { expectedRevision: 2 });
        const read = await store.readStreams([b, missing, a]);
        expect([...read.keys()].sort()).toEqual([a, b, missing].sort());
        expect(read.get(a)!.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
        expect(read.get(a)).toEqual(await store.readStream(a));
        expect(read.get(b)).toEqual(await store.readStream(b));
        expect(read.get(missing)).toEqual([]);
        expect((await store.readStreams([])).size).toBe(0);
      });

      it('appendMany creating many new streams at once: in order, readable, and a repeat returns the same results', async () => {
        const category = randomCategory();
        const appends = Array.from({ length: 50 }, (_, i) => ({ streamId: streamId(category), events: events(1 + (i % 3)), expectedRevision: 'no_stream' as const }));
        const results = await store.appendMany(appends);
        expect(results.map((r) => r.nextExpectedRevision)).toEqual(appends.map((a) => a.events.length - 1));
        for (let i = 1; i < results.length; i++) expect(comparePositions(results[i]!.position, results[i - 1]!.position)).toBe(1);
        const stored = await store.readStream(appends[49]!.streamId);
        expect(stored.map((e) => e.id)).toEqual(appends[49]!.events.map((e) => e.id));
        expect(stored.at(-1)!.position).toEqual(results[49]!.position);
        expect(await store.appendMany(appends)).toEqual(results);
        const ids = appends.flatMap((a) => a.events.map((e) => e.id));
        const all = await settledReadAll(store, { filter: { categories: [category] } }, ids.length);
        expect(all.map((e) => e.id)).toEqual(ids);
      });

      it('appendMany to existing streams at exact revisions, with new ones: written, and a repeat writes nothing', async () => {
        const [a, b, fresh] = [streamId(), streamId(), streamId()];
        await store.append(a, events(2), { expectedRevision: 'no_stream' });
        await store.append(b, [event()], { expectedRevision: 'no_stream' });
        const appends = [
          { streamId: a, events: events(2), expectedRevision: 1 },
          { streamId: fresh, events: [event()], expectedRevision: 'no_stream' as const },
          { streamId: b, events: [event()], expectedRevision: 0 },
        ];
        const results = await store.appendMany(appends);
        expect(results.map((r) => r.nextExpectedRevision)).toEqual([3, 0, 1]);
        expect((await store.readStream(a)).map((e) => e.revision)).toEqual([0, 1, 2, 3]);
        expect((await store.readStream(a)).slice(2).map((e) => e.id)).toEqual(appends[0]!.events.map((e) => e.id));
        expect((await store.readStream(b)).at(-1)!.position).toEqual(results[2]!.position);
        expect(await store.appendMany(appends)).toEqual(results);
        expect((await store.readStream(a)).length).toBe(4);

        // One stale expectation among them: that append's error, and (where atomic) none of the others written.
        const next = [
          { streamId: a, events: [event()], expectedRevision: 3 },
          { streamId: b, events: [event()], expectedRevision: 0 },
        ];
        await expectWrongRevision(store.appendMany(next), b, 0, 1);
        if (capabilities.atomicAppendMany !== false) expect((await store.readStream(a)).length).toBe(4);
      });

      it('appendMany throws the error of the append that fails, naming its stream', async () => {
        const fine = streamId();
        const taken = streamId();
        await store.append(taken, [event()], { expectedRevision: 'no_stream' });
        await expectWrongRevision(
          store.appendMany([
            { streamId: fine, events: [event()], expectedRevision: 'no_stream' },
            { streamId: taken, events: [event()], expectedRevision: 'no_stream' },
          ]),
          taken,
          'no_stream',
          0,
        );
        if (capabilities.atomicAppendMany !== false) expect(await store.readStream(fine)).toEqual([]);
      });

      it('concurrent retries of one append write it once', async () => {
        const stream = streamId();
        const batch = events(2);
        const results = await Promise.all(
          Array.from({ length: 4 }, () => store.append(stream, batch, { expectedRevision: 'any' })),
        );
        for (const result of results) expect(result).toEqual(results[0]);
        expect((await store.readStream(stream)).map((e) => e.id)).toEqual(batch.map((e) => e.id));
      });

      it('an append whose ids only partly exist is an EventIdConflictError', async () => {
        const stream = streamId();
        const [a, b] = events(2);
        await store.append(stream, [a!, b!], { expectedRevision: 'no_stream' });
        const error = await store.append(stream, [b!, event()], { expectedRevision: 'any' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(EventIdConflictError);
        expect((error as EventIdConflictError).eventIds).toContain(b!.id);
        expect((error as EventIdConflictError).streamId).toBe(stream);
        expect((await store.readStream(stream)).length).toBe(2);
      });

      it.skipIf(!capabilities.globallyUniqueEventIds)('reusing ids that belong to another stream is an EventIdConflictError', async () => {
        const batch = events(2);
        await store.append(streamId(), batch, { expectedRevision: 'any' });
        const other = streamId();
        await expect(store.append(other, batch, { expectedRevision: 'any' })).rejects.toBeInstanceOf(EventIdConflictError);
        expect(await store.readStream(other)).toEqual([]);
      });

      it('the same id twice in one append is an EventIdConflictError', async () => {
        const stream = streamId();
        const one = event();
        await expect(store.append(stream, [one, one], { expectedRevision: 'any' })).rejects.toBeInstanceOf(
          EventIdConflictError,
        );
        expect(await store.readStream(stream)).toEqual([]);
      });
    });

    describe('readAll', () => {
      it('returns only events after a checkpoint, in order, with strictly increasing positions', async () => {
        const category = randomCategory();
        const filter = { categories: [category] };
        const a = streamId(category);
        const b = streamId(category);
        await store.append(a, events(2), { expectedRevision: 'no_stream' });
        await store.append(b, events(1), { expectedRevision: 'no_stream' });
        const before = await settledReadAll(store, { filter }, 3);
        const checkpoint = before[2]!.position;

        const later1 = await store.append(b, events(2), { expectedRevision: 0 });
        const later2 = await store.append(a, events(1), { expectedRevision: 1 });
        const after = await settledReadAll(store, { after: checkpoint, filter }, 3);
        expect(after.map((e) => [e.streamId, e.revision])).toEqual([
          [b, 1],
          [b, 2],
          [a, 2],
        ]);
        expect(after[1]!.position).toEqual(later1.position);
        expect(after[2]!.position).toEqual(later2.position);
        expectIncreasing([...before, ...after]);

        const limited = await store.readAll({ after: checkpoint, filter, maxCount: 2 });
        expect(limited.map((e) => e.id)).toEqual(after.slice(0, 2).map((e) => e.id));
      });

      it('from a head position taken before writing, without filter, sees the new events in order', async () => {
        const head = await store.headPosition();
        const stream = streamId();
        const result = await store.append(stream, events(3), { expectedRevision: 'no_stream' });
        const all = await eventually(async () => {
          const read = await readAllPages(store, head ?? 'start');
          expect(read.filter((e) => e.streamId === stream)).toHaveLength(3);
          return read;
        });
        expectIncreasing(all);
        expect(all.filter((e) => e.streamId === stream).map((e) => e.revision)).toEqual([0, 1, 2]);
        if (head) expect(all.every((e) => comparePositions(e.position, head) > 0)).toBe(true);

        const newHead = await eventually(async () => {
          const value = await store.headPosition();
          expect(value).not.toBeNull();
          expect(comparePositions(value!, result.position)).toBeGreaterThanOrEqual(0);
          return value!;
        });
        expect(await store.readAll({ after: newHead, filter: { streams: [stream] } })).toEqual([]);
      });

      it('finds the few events a filter wants among thousands it does not, with and without a limit', async () => {
        const category = randomCategory();
        const stream = streamId(category);
        const rare: string[] = [];
        let revision: number | 'no_stream' = 'no_stream';
        for (let page = 0; page < 6; page++) {
          const batch = Array.from({ length: 500 }, (_, i) => event(i === 250 ? 'Rare' : 'Noise'));
          rare.push(batch[250]!.id);
          revision = (await store.append(stream, batch, { expectedRevision: revision })).nextExpectedRevision;
        }
        const all = await settledReadAll(store, { filter: { categories: [category], eventTypes: ['Rare'] } }, 6);
        expect(all.map((e) => e.id)).toEqual(rare);
        const two = await store.readAll({ filter: { eventTypes: ['Rare'], categories: [category] }, maxCount: 2 });
        expect(two.map((e) => e.id)).toEqual(rare.slice(0, 2));
        const afterSecond = await store.readAll({ after: two[1]!.position, filter: { categories: [category], eventTypes: ['Rare'] } });
        expect(afterSecond.map((e) => e.id)).toEqual(rare.slice(2));

        const subscription = store.subscribe({ filter: { categories: [category], eventTypes: ['Rare'] }, batchSize: 4 });
        const collector = collect(subscription);
        await collector.waitFor(6);
        expect(collector.events.map((e) => e.id)).toEqual(rare);
        await subscription.close();
        await collector.done;
      });

      it('filters by stream, by category and by event type', async () => {
        const category = randomCategory();
        const other = randomCategory();
        const s1 = streamId(category);
        const s2 = streamId(category);
        const s3 = streamId(other);
        await store.append(s1, [event('Opened'), event('Closed')], { expectedRevision: 'no_stream' });
        await store.append(s2, [event('Opened')], { expectedRevision: 'no_stream' });
        await store.append(s3, [event('Opened'), event('Closed')], { expectedRevision: 'no_stream' });

        const byStream = await settledReadAll(store, { filter: { streams: [s1, s3] } }, 4);
        expect(byStream.map((e) => e.streamId)).toEqual([s1, s1, s3, s3]);

        const byCategory = await settledReadAll(store, { filter: { categories: [category] } }, 3);
        expect(byCategory.map((e) => e.streamId)).toEqual([s1, s1, s2]);

        const byType = await settledReadAll(store, { filter: { categories: [category, other], eventTypes: ['Closed'] } }, 2);
        expect(byType.map((e) => [e.streamId, e.type])).toEqual([
          [s1, 'Closed'],
          [s3, 'Closed'],
        ]);
        // Several types (one listed twice): merged in global order, each event once.
        const byTypes = await settledReadAll(store, { filter: { categories: [category], eventTypes: ['Closed', 'Opened', 'Closed'] } }, 3);
        expect(byTypes.map((e) => [e.streamId, e.type])).toEqual([
          [s1, 'Opened'],
          [s1, 'Closed'],
          [s2, 'Opened'],
        ]);
        const limited = await store.readAll({ filter: { categories: [category], eventTypes: ['Closed', 'Opened'] }, maxCount: 2 });
        expect(limited.map((e) => e.type)).toEqual(['Opened', 'Closed']);
        const typeAlone = await settledReadAll(store, { filter: { eventTypes: [`Closed${category}`] } }, 0);
        expect(typeAlone).toEqual([]);
      });
    });

    describe('subscribe', () => {
      it('delivers history, then live events promptly, and stops on close', async () => {
        const category = randomCategory();
        const stream = streamId(category);
        await store.append(stream, events(5), { expectedRevision: 'no_stream' });
        const subscription = store.subscribe({ filter: { categories: [category] }, batchSize: 2 });
        const collector = collect(subscription);

        await collector.waitFor(5);
        expect(collector.events.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
        expect(collector.batches.every((b) => b.length > 0 && b.length <= 2)).toBe(true);

        const started = Date.now();
        await store.append(stream, [event('Live')], { expectedRevision: 4 });
        await collector.waitFor(6);
        expect(Date.now() - started).toBeLessThan(1000);
        expect(collector.events[5]!.type).toBe('Live');
        expectIncreasing(collector.events);

        const closing = Date.now();
        await subscription.close();
        await collector.done;
        expect(Date.now() - closing).toBeLessThan(1000);
        await store.append(stream, [event()], { expectedRevision: 5 });
        await sleep(100);
        expect(collector.events).toHaveLength(6);
      });

      it('starts after a position and honours stream, category and type filters', async () => {
        const category = randomCategory();
        const mine = streamId(category);
        const noise = streamId(randomCategory());
        const first = await store.append(mine, [event('Skipped')], { expectedRevision: 'no_stream' });
        await settledReadAll(store, { filter: { streams: [mine] } }, 1);

        const byType = store.subscribe({ after: first.position, filter: { categories: [category], eventTypes: ['Wanted'] } });
        const byStream = store.subscribe({ after: first.position, filter: { streams: [mine] } });
        const typed = collect(byType);
        const streamed = collect(byStream);

        await store.append(noise, [event('Wanted')], { expectedRevision: 'any' });
        await store.append(mine, [event('Other'), event('Wanted')], { expectedRevision: 0 });
        await typed.waitFor(1);
        await streamed.waitFor(2);
        await sleep(100);
        expect(typed.events.map((e) => [e.streamId, e.type])).toEqual([[mine, 'Wanted']]);
        expect(streamed.events.map((e) => e.type)).toEqual(['Other', 'Wanted']);

        await Promise.all([byType.close(), byStream.close()]);
        await Promise.all([typed.done, streamed.done]);
      });

      it('ends a for-await loop that breaks, and close() on an idle subscription resolves', async () => {
        const stream = streamId();
        await store.append(stream, events(3), { expectedRevision: 'no_stream' });
        const subscription = store.subscribe({ filter: { streams: [stream] } });
        for await (const batch of subscription) {
          expect(batch.length).toBeGreaterThan(0);
          break;
        }
        await subscription.close();

        const idle = store.subscribe({ filter: { streams: [streamId()] } });
        const collector = collect(idle);
        await sleep(50);
        await idle.close();
        await collector.done;
        expect(collector.events).toEqual([]);
      });
    });
  });
}

// --- helpers ---

function randomCategory(): string {
  return `cat${randomBytes(6).toString('hex')}`;
}

function streamId(category = 'campaign'): string {
  return `${category}-${randomUUID()}`;
}

function event(type = 'Happened', data: unknown = { value: randomUUID() }): EventData {
  return { id: randomUUID(), type, data, metadata: { correlation_id: randomUUID() } };
}

function events(count: number, type = 'Happened'): EventData[] {
  return Array.from({ length: count }, () => event(type));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function expectWrongRevision(
  append: Promise<unknown>,
  stream: string,
  expected: WrongExpectedRevisionError['expected'],
  actual: WrongExpectedRevisionError['actual'],
): Promise<void> {
  const error = await append.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WrongExpectedRevisionError);
  const wrong = error as WrongExpectedRevisionError;
  expect([wrong.streamId, wrong.expected, wrong.actual]).toEqual([stream, expected, actual]);
}

export function expectIncreasing(events: RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    expect(comparePositions(events[i - 1]!.position, events[i]!.position)).toBe(-1);
  }
}

/** Retries an assertion for a while: global reads may lag behind writes (fenced on running transactions). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

/** readAll once at least `count` events are visible; returns them (checks no more than `count` appear). */
async function settledReadAll(
  store: EventStore,
  options: Parameters<EventStore['readAll']>[0],
  count: number,
): Promise<RecordedEvent[]> {
  const read = await eventually(async () => {
    const events = await store.readAll(options);
    expect(events.length).toBeGreaterThanOrEqual(count);
    return events;
  });
  expect(read).toHaveLength(count);
  return read;
}

async function readAllPages(store: EventStore, after: Position | 'start'): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (;;) {
    const page = await store.readAll({ after, maxCount: 1000 });
    all.push(...page);
    if (page.length < 1000) return all;
    after = page[page.length - 1]!.position;
  }
}

interface Collector {
  events: RecordedEvent[];
  batches: RecordedEvent[][];
  /** Resolves when the iteration ends. */
  done: Promise<void>;
  waitFor(count: number, timeoutMs?: number): Promise<void>;
}

function collect(subscription: EventSubscription): Collector {
  const collector: Collector = {
    events: [],
    batches: [],
    done: Promise.resolve(),
    async waitFor(count, timeoutMs = 3000) {
      await eventually(async () => {
        expect(collector.events.length).toBeGreaterThanOrEqual(count);
      }, timeoutMs);
    },
  };
  collector.done = (async () => {
    for await (const batch of subscription) {
      collector.batches.push(batch);
      collector.events.push(...batch);
    }
  })();
  return collector;
}
