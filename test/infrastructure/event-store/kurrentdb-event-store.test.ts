import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  DeadlineExceededError,
  EVENT_TYPE,
  STREAM_NAME,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AppendStreamState,
  type CurrentStreamState,
  type EventData as ClientEventData,
  type Filter,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  EventIdConflictError,
  WrongExpectedRevisionError,
  comparePositions,
  type EventData,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../../../src/infrastructure/event-store/event-store.js';
import {
  createKurrentDbEventStore,
  createKurrentDbEventStoreWithClient,
  type KurrentDbClientLike,
} from '../../../src/infrastructure/event-store/kurrentdb-event-store.js';
import {
  actualRevisionOf,
  diagnoseConflict,
  escapeRegex,
  isAfter,
  isStreamNotFound,
  isSystemEvent,
  isTimeout,
  isVisible,
  isWrongExpectedVersion,
  limitOf,
  matchesNothing,
  toClientRevision,
  toEventData,
  toReadPosition,
  toRecordedEvent,
  toRevisionNumber,
  toServerFilter,
  toStreamState,
  toWrongExpectedRevisionError,
} from '../../../src/infrastructure/event-store/kurrentdb-mapping.js';
import { eventStoreContract } from './event-store-contract.js';

const eventStoreUrl = process.env.EVENTSTORE_URL;

// Against a real KurrentDB (e.g. EVENTSTORE_URL=kurrentdb://localhost:2113?tls=false).
describe.skipIf(!eventStoreUrl)('KurrentDB adapter against a server', () => {
  eventStoreContract('kurrentdb adapter', async () => {
    const store = await createKurrentDbEventStore(eventStoreUrl ?? '');
    return { store, cleanup: () => store.close() };
  }, { globallyUniqueEventIds: false, atomicAppendMany: false });
});

// --- without a server ---

const position = (commit: number, prepare = commit): Position => ({ commit: BigInt(commit), prepare: BigInt(prepare) });

function event(type = 'Happened', data: unknown = { value: randomUUID() }): EventData {
  return { id: randomUUID(), type, data, metadata: { correlation_id: randomUUID() } };
}

function events(count: number, type = 'Happened'): EventData[] {
  return Array.from({ length: count }, () => event(type));
}

function wrongVersion(expected: AppendStreamState, current: CurrentStreamState): WrongExpectedVersionError {
  return new WrongExpectedVersionError(undefined, { streamName: 's-1', expected, current });
}

describe('KurrentDB mapping', () => {
  it('maps expected revisions to stream states and rejects what is no revision', () => {
    expect(toStreamState('any')).toBe('any');
    expect(toStreamState('no_stream')).toBe('no_stream');
    expect(toStreamState('stream_exists')).toBe('stream_exists');
    expect(toStreamState(0)).toBe(0n);
    expect(toStreamState(41)).toBe(41n);
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => toStreamState(bad)).toThrow(RangeError);
    expect(() => toStreamState('latest' as never)).toThrow(RangeError);
  });

  it('converts revisions between number and bigint without losing digits', () => {
    expect(toClientRevision(7)).toBe(7n);
    expect(() => toClientRevision(-1)).toThrow(RangeError);
    expect(toRevisionNumber(0n)).toBe(0);
    expect(toRevisionNumber(BigInt(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => toRevisionNumber(BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toThrow(RangeError);
    expect(() => toRevisionNumber(-1n)).toThrow(RangeError);
    expect([limitOf(undefined), limitOf(0), limitOf(2.7), limitOf(-3)]).toEqual([null, 0, 2, 0]);
  });

  it('reads from the start or from the position, and keeps only what is strictly after it', () => {
    expect(toReadPosition(undefined)).toBe('start');
    expect(toReadPosition('start')).toBe('start');
    expect(toReadPosition(position(10, 8))).toEqual(position(10, 8));
    expect(isAfter(position(10, 8), undefined)).toBe(true);
    expect(isAfter(position(10, 8), 'start')).toBe(true);
    expect(isAfter(position(10, 8), position(10, 8))).toBe(false);
    expect(isAfter(position(10, 7), position(10, 8))).toBe(false);
    expect(isAfter(position(10, 9), position(10, 8))).toBe(true);
    expect(isAfter(position(11, 0), position(10, 8))).toBe(true);
  });

  it('never lets a system event through, and applies every part of the filter', () => {
    expect(isSystemEvent({ streamId: '$stats-127.0.0.1:2113', type: 'Happened' })).toBe(true);
    expect(isSystemEvent({ streamId: 'campaign-1', type: '$metadata' })).toBe(true);
    expect(isSystemEvent({ streamId: 'campaign-1', type: 'Happened' })).toBe(false);
    const filter = { categories: ['campaign'], eventTypes: ['Opened'] };
    expect(isVisible({ streamId: 'campaign-1', type: 'Opened' }, filter)).toBe(true);
    expect(isVisible({ streamId: 'campaign-1', type: 'Closed' }, filter)).toBe(false);
    expect(isVisible({ streamId: 'menu-1', type: 'Opened' }, filter)).toBe(false);
    expect(isVisible({ streamId: '$ce-campaign', type: 'Opened' }, { categories: ['$ce'] })).toBe(false);
    expect(matchesNothing(undefined)).toBe(false);
    expect(matchesNothing({ streams: ['a-1'] })).toBe(false);
    expect(matchesNothing({ streams: ['a-1'], eventTypes: [] })).toBe(true);
  });

  it('builds one server-side filter, on the most selective part', () => {
    const matcher = (filter: Filter) => {
      if (!('regex' in filter)) throw new Error('expected a regex filter');
      const regex = new RegExp(filter.regex);
      return (value: string) => regex.test(value);
    };
    const byStreams = toServerFilter({ streams: ['campaign-1', 'a.b-(2)'], eventTypes: ['Opened'] });
    expect(byStreams.filterOn).toBe(STREAM_NAME);
    expect(['campaign-1', 'a.b-(2)'].map(matcher(byStreams))).toEqual([true, true]);
    expect(['campaign-10', 'xcampaign-1', 'aXb-(2)', 'a.b-2'].map(matcher(byStreams))).toEqual([false, false, false, false]);

    const byCategories = toServerFilter({ categories: ['campaign', 'menu'] });
    expect(byCategories.filterOn).toBe(STREAM_NAME);
    expect(['campaign-1', 'menu-2-3', 'menu'].map(matcher(byCategories))).toEqual([true, true, true]);
    expect(['campaigns-1', 'xmenu-1', '$ce-menu'].map(matcher(byCategories))).toEqual([false, false, false]);

    const byTypes = toServerFilter({ eventTypes: ['Opened', 'Price$Changed'] });
    expect(byTypes.filterOn).toBe(EVENT_TYPE);
    expect(['Opened', 'Price$Changed', 'Reopened', 'Opened2'].map(matcher(byTypes))).toEqual([true, true, false, false]);

    const none = toServerFilter(undefined);
    expect(none.filterOn).toBe(STREAM_NAME);
    expect(['campaign-1', '$stats-x', '$$campaign-1'].map(matcher(none))).toEqual([true, false, false]);
    expect(toServerFilter({}).filterOn).toBe(STREAM_NAME);
    expect(escapeRegex('a.b*c+d?e^f$g|h(i)j[k]l{m}n\\o')).toBe('a\\.b\\*c\\+d\\?e\\^f\\$g\\|h\\(i\\)j\\[k\\]l\\{m\\}n\\\\o');
  });

  it('turns port events into JSON client events with the same id', () => {
    const appended = event('Opened', { nested: [1, null, 'é'] });
    expect(toEventData(appended)).toEqual({
      id: appended.id,
      contentType: 'application/json',
      type: 'Opened',
      data: { nested: [1, null, 'é'] },
      metadata: appended.metadata,
    });
    expect(toEventData({ ...appended, data: undefined }).data).toBeNull();
  });

  it('turns client events into recorded events', () => {
    const created = new Date('2025-06-01T12:00:00Z');
    const base = { streamId: 'campaign-1', id: 'e1', isJson: true as const, revision: 3n, type: 'Opened', created };
    const recorded = toRecordedEvent({
      event: { ...base, data: { a: 1 }, metadata: { actor: 'x' }, position: position(20, 18) },
      commitPosition: 20n,
    });
    expect(recorded).toEqual({
      id: 'e1',
      type: 'Opened',
      streamId: 'campaign-1',
      revision: 3,
      position: position(20, 18),
      data: { a: 1 },
      metadata: { actor: 'x' },
      createdAt: created,
    });
    // Older servers: no position on stream reads, the commit position stands in.
    const old = toRecordedEvent({ event: { ...base, data: {}, metadata: undefined }, commitPosition: 30n });
    expect(old?.position).toEqual(position(30, 30));
    expect(old?.metadata).toEqual({});
    expect(toRecordedEvent({})).toBeNull();
    expect(() => toRecordedEvent({ event: { ...base, data: {}, metadata: undefined } })).toThrow(/without a position/);
  });

  it("maps the client's errors to the port's", () => {
    const onMissing = wrongVersion('stream_exists', 'no_stream');
    expect(isWrongExpectedVersion(onMissing)).toBe(true);
    expect(actualRevisionOf(onMissing)).toBe('no_stream');
    expect(actualRevisionOf(wrongVersion(1n, -1n))).toBe('no_stream');
    const mapped = toWrongExpectedRevisionError(wrongVersion(1n, 4n), 'campaign-1', 1);
    expect(mapped).toBeInstanceOf(WrongExpectedRevisionError);
    expect([mapped.streamId, mapped.expected, mapped.actual]).toEqual(['campaign-1', 1, 4]);

    expect(isStreamNotFound(new StreamNotFoundError(undefined, 'campaign-1'))).toBe(true);
    expect(isStreamNotFound(new UnavailableError())).toBe(false);
    expect(isWrongExpectedVersion(new Error('nope'))).toBe(false);
    expect(isTimeout(new DeadlineExceededError())).toBe(true);
    expect(isTimeout(new UnavailableError())).toBe(false);
    expect(isTimeout('text')).toBe(false);
  });

  it('tells a repeated append from an id conflict and from a revision conflict', () => {
    const stream = [
      { id: 'a', revision: 0, position: position(10) },
      { id: 'b', revision: 1, position: position(20) },
      { id: 'c', revision: 2, position: position(30) },
    ];
    expect(diagnoseConflict(['x', 'y'], stream)).toEqual({ kind: 'wrong_revision' });
    expect(diagnoseConflict(['b', 'c'], stream)).toEqual({ kind: 'repeat', last: stream[2] });
    expect(diagnoseConflict(['a'], stream)).toEqual({ kind: 'repeat', last: stream[0] });
    expect(diagnoseConflict(['c', 'b'], stream)).toEqual({ kind: 'id_conflict', eventIds: ['c', 'b'] });
    expect(diagnoseConflict(['a', 'c'], stream)).toEqual({ kind: 'id_conflict', eventIds: ['a', 'c'] });
    expect(diagnoseConflict(['b', 'x'], stream)).toEqual({ kind: 'id_conflict', eventIds: ['b'] });
  });
});

/**
 * The adapter over an in-memory stand-in for the client. The stand-in follows KurrentDB where the adapter depends on
 * it (the server's commit check for expected revisions and idempotency, inclusive fromPosition on reads of $all,
 * system events in $all, StreamNotFoundError, repeats answered without a position) and is deliberately unhelpful
 * where KurrentDB may be: its subscriptions resend the start event and never end on unsubscribe.
 */
describe('KurrentDB adapter over a stand-in client', () => {
  let fake: FakeKurrentDb;
  let store: EventStore;

  beforeEach(() => {
    fake = new FakeKurrentDb();
    store = createKurrentDbEventStoreWithClient(fake as unknown as KurrentDbClientLike);
  });
  afterEach(async () => {
    await store.close();
  });

  it('appends and reads streams with 0-based revisions and the positions of $all', async () => {
    const first = await store.append('campaign-1', [event('Created')], { expectedRevision: 'no_stream' });
    const batch = events(2);
    const second = await store.append('campaign-1', batch, { expectedRevision: 0 });
    expect([first.nextExpectedRevision, second.nextExpectedRevision]).toEqual([0, 2]);
    const read = await store.readStream('campaign-1');
    expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
    expect(read[0]!.position).toEqual(first.position);
    expect(read[2]!.position).toEqual(second.position);
    expect(read.slice(1).map((e) => [e.id, e.type, e.data, e.metadata])).toEqual(
      batch.map((e) => [e.id, e.type, e.data, e.metadata]),
    );
    expect(fake.lastAppended.map((e) => e.contentType)).toEqual(['application/json', 'application/json']);
    expect(await store.readStream('campaign-1', { fromRevision: 1, maxCount: 1 })).toEqual([read[1]]);
    expect(await store.readStream('campaign-2')).toEqual([]);
  });

  it('maps rejected expectations to WrongExpectedRevisionError with the actual revision', async () => {
    const error = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as WrongExpectedRevisionError);
    const missing = await error(store.append('campaign-1', [event()], { expectedRevision: 'stream_exists' }));
    expect(missing).toBeInstanceOf(WrongExpectedRevisionError);
    expect([missing?.expected, missing?.actual]).toEqual(['stream_exists', 'no_stream']);
    await store.append('campaign-1', events(3), { expectedRevision: 'no_stream' });
    const stale = await error(store.append('campaign-1', [event()], { expectedRevision: 1 }));
    expect([stale?.streamId, stale?.expected, stale?.actual]).toEqual(['campaign-1', 1, 2]);
    const ahead = await error(store.append('campaign-1', [event()], { expectedRevision: 5 }));
    expect(ahead?.actual).toBe(2);
    await expect(store.append('campaign-1', [], { expectedRevision: 'any' })).rejects.toThrow(RangeError);
  });

  it('returns the original result for a repeated append, whatever its expectation', async () => {
    await store.append('campaign-1', [event()], { expectedRevision: 'no_stream' });
    const batch = events(3);
    const original = await store.append('campaign-1', batch, { expectedRevision: 0 });
    await store.append('campaign-1', [event()], { expectedRevision: 3 });
    expect(await store.append('campaign-1', batch, { expectedRevision: 0 })).toEqual(original); // server: repeat
    expect(await store.append('campaign-1', batch, { expectedRevision: 'any' })).toEqual(original); // server: repeat
    expect(await store.append('campaign-1', batch, { expectedRevision: 'no_stream' })).toEqual(original); // adapter
    expect((await store.readStream('campaign-1')).length).toBe(5);
  });

  it('raises EventIdConflictError for ids partly in the stream or repeated in one append', async () => {
    const [a, b] = events(2);
    await store.append('campaign-1', [a!, b!], { expectedRevision: 'no_stream' });
    for (const expectedRevision of ['any', 0, 'no_stream'] as const) {
      const error = await store.append('campaign-1', [b!, event()], { expectedRevision }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventIdConflictError);
      expect((error as EventIdConflictError).eventIds).toEqual([b!.id]);
    }
    const one = event();
    await expect(store.append('campaign-2', [one, one], { expectedRevision: 'any' })).rejects.toBeInstanceOf(
      EventIdConflictError,
    );
    expect((await store.readStream('campaign-1')).length).toBe(2);
    expect(fake.appendCalls).toBe(4);
  });

  it('retries an append the server timed out, and gives up after three attempts', async () => {
    fake.timeouts = 2;
    const result = await store.append('campaign-1', [event()], { expectedRevision: 'no_stream' });
    expect(result.nextExpectedRevision).toBe(0);
    fake.timeouts = 3;
    await expect(store.append('campaign-1', [event()], { expectedRevision: 0 })).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
  });

  it('reads $all strictly after a position, without system events, across pages', async () => {
    const first = await store.append('campaign-1', events(2), { expectedRevision: 'no_stream' });
    fake.writeSystemEvent('$stats-127.0.0.1:2113', '$statsCollected');
    await store.append('menu-1', events(1200), { expectedRevision: 'no_stream' });
    await store.append('campaign-1', [event('Closed')], { expectedRevision: 1 });

    const all = await store.readAll();
    expect(all).toHaveLength(1203);
    expect(all.some((e) => e.streamId.startsWith('$') || e.type.startsWith('$'))).toBe(false);
    expect(all.every((e, i) => i === 0 || comparePositions(all[i - 1]!.position, e.position) < 0)).toBe(true);

    const after = await store.readAll({ after: first.position });
    expect(after).toHaveLength(1201);
    expect(after[0]!.streamId).toBe('menu-1');
    expect(await store.readAll({ after: first.position, maxCount: 3 })).toEqual(after.slice(0, 3));
    expect(await store.readAll({ maxCount: 0 })).toEqual([]);
  });

  it('filters $all by streams, categories and types together', async () => {
    await store.append('campaign-1', [event('Opened'), event('Closed')], { expectedRevision: 'no_stream' });
    await store.append('campaign-2', [event('Opened')], { expectedRevision: 'no_stream' });
    await store.append('campaigns-3', [event('Closed')], { expectedRevision: 'no_stream' });
    await store.append('menu-1', [event('Closed')], { expectedRevision: 'no_stream' });
    const pairs = (read: RecordedEvent[]) => read.map((e) => [e.streamId, e.type]);

    expect(pairs(await store.readAll({ filter: { streams: ['campaign-2', 'menu-1'] } }))).toEqual([
      ['campaign-2', 'Opened'],
      ['menu-1', 'Closed'],
    ]);
    expect(pairs(await store.readAll({ filter: { categories: ['campaign'], eventTypes: ['Closed'] } }))).toEqual([
      ['campaign-1', 'Closed'],
    ]);
    const byType = await store.readAll({ filter: { eventTypes: ['Closed'] }, maxCount: 2 });
    expect(pairs(byType)).toEqual([
      ['campaign-1', 'Closed'],
      ['campaigns-3', 'Closed'],
    ]);
    expect(await store.readAll({ filter: { streams: [] } })).toEqual([]);
    expect(fake.lastReadAllFilter).toMatchObject({ filterOn: EVENT_TYPE });
  });

  it('reports the position of the last user event as the head', async () => {
    expect(await store.headPosition()).toBeNull();
    fake.writeSystemEvent('$stats-127.0.0.1:2113', '$statsCollected');
    expect(await store.headPosition()).toBeNull();
    const result = await store.append('campaign-1', events(2), { expectedRevision: 'no_stream' });
    for (let i = 0; i < 40; i++) fake.writeSystemEvent('campaign-1', '$metadata-like');
    fake.writeSystemEvent('$projections-x', 'Result');
    expect(await store.headPosition()).toEqual(result.position);
    await store.ping();
  });

  it('subscribes: history then live events, in batches, after the start position, until closed', async () => {
    const first = await store.append('campaign-1', [event('Skipped')], { expectedRevision: 'no_stream' });
    await store.append('campaign-1', events(4), { expectedRevision: 0 });
    await store.append('menu-1', events(2), { expectedRevision: 'no_stream' });
    const subscription = store.subscribe({ after: first.position, filter: { categories: ['campaign'] }, batchSize: 3 });
    const batches: RecordedEvent[][] = [];
    const done = (async () => {
      for await (const batch of subscription) batches.push(batch);
    })();

    await until(() => batches.flat().length === 4);
    expect(batches.map((b) => b.length)).toEqual([3, 1]);
    fake.writeSystemEvent('$ce-campaign', '$>');
    await store.append('campaign-1', [event('Live'), event('Live')], { expectedRevision: 4 });
    await until(() => batches.flat().length === 6);
    const received = batches.flat();
    expect(received.map((e) => e.revision)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batches.every((b) => b.length > 0 && b.length <= 3)).toBe(true);

    await subscription.close();
    await done;
    await store.append('campaign-1', [event()], { expectedRevision: 6 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(batches.flat()).toHaveLength(6);
    expect(fake.activeSubscriptions).toBe(0);
  });

  it('ends a subscription left by break, fails it on a client error, and closes the rest with the store', async () => {
    await store.append('campaign-1', events(3), { expectedRevision: 'no_stream' });
    const broken = store.subscribe({ filter: { streams: ['campaign-1'] } });
    for await (const batch of broken) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
    expect(fake.activeSubscriptions).toBe(0);

    const failing = store.subscribe({});
    const outcome = (async () => {
      for await (const _ of failing) fake.failSubscriptions(new UnavailableError());
    })();
    await expect(outcome).rejects.toBeInstanceOf(UnavailableError);

    const idle = store.subscribe({ filter: { streams: ['campaign-9'] } });
    const nothing = store.subscribe({ filter: { eventTypes: [] } });
    const idleDone = (async () => {
      for await (const _ of idle) throw new Error('no event expected');
      for await (const _ of nothing) throw new Error('no event expected');
    })();
    await store.close();
    await idleDone;
    expect(fake.disposed).toBe(true);
  });
});

describe('KurrentDB adapter with no server listening', () => {
  it('fails ping and subscriptions with the client error, and closes', async () => {
    const store = await createKurrentDbEventStore('kurrentdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1');
    try {
      await expect(store.ping()).rejects.toThrow();
      const subscription = store.subscribe({});
      await expect(
        (async () => {
          for await (const _ of subscription) throw new Error('no event expected');
        })(),
      ).rejects.toThrow();
    } finally {
      await store.close();
    }
  });
});

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// --- the stand-in client ---

interface StoredEvent {
  streamId: string;
  id: string;
  type: string;
  data: string;
  metadata: string;
  revision: bigint;
  position: Position;
  created: Date;
}

type FakeSubscription = Readable & { unsubscribe(): Promise<void> };

class FakeKurrentDb {
  readonly log: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  /** The server's cache of committed event ids (the last write of an id wins). */
  private readonly byId = new Map<string, StoredEvent>();
  private readonly listeners = new Map<FakeSubscription, (event: StoredEvent) => void>();
  private nextPosition = 1000n;
  lastAppended: ClientEventData[] = [];
  lastReadAllFilter: Filter | undefined;
  appendCalls = 0;
  timeouts = 0;
  disposed = false;

  get activeSubscriptions(): number {
    return this.listeners.size;
  }

  writeSystemEvent(streamId: string, type: string): void {
    this.write(streamId, { id: randomUUID(), type, data: {}, metadata: {}, contentType: 'application/json' });
  }

  failSubscriptions(error: Error): void {
    for (const subscription of this.listeners.keys()) subscription.emit('error', error);
  }

  async appendToStream(
    streamName: string,
    proposed: ClientEventData[],
    { streamState = 'any' }: { streamState?: AppendStreamState } = {},
  ) {
    await Promise.resolve();
    this.appendCalls++;
    if (this.timeouts > 0) {
      this.timeouts--;
      throw new DeadlineExceededError();
    }
    const stream = this.streams.get(streamName) ?? [];
    const current = BigInt(stream.length) - 1n;
    const rejected = () =>
      new WrongExpectedVersionError(undefined, {
        streamName,
        expected: streamState,
        current: current < 0n ? 'no_stream' : current,
      });
    const repeat = (last: bigint) => ({ success: true, nextExpectedRevision: last, position: undefined });
    const ids = proposed.map((e) => e.id);

    // KurrentDB's commit check (IndexWriter.CheckCommit), without its not-yet-indexed case.
    if (streamState === 'stream_exists' && current < 0n) throw rejected();
    if (streamState === 'any' || streamState === 'stream_exists') {
      let last: bigint | undefined;
      for (const [i, id] of ids.entries()) {
        const known = this.byId.get(id);
        if (!known || known.streamId !== streamName) {
          if (i === 0) break;
          throw rejected();
        }
        last = known.revision;
      }
      if (last !== undefined && this.byId.get(ids[ids.length - 1]!)?.streamId === streamName) return repeat(last);
    } else {
      const expected = streamState === 'no_stream' ? -1n : streamState;
      if (expected < current) {
        for (const [i, id] of ids.entries()) {
          if (stream[Number(expected) + 1 + i]?.id !== id) throw rejected();
        }
        return repeat(expected + BigInt(ids.length));
      }
      if (expected > current) throw rejected();
    }
    this.lastAppended = proposed;
    const written = proposed.map((e) => this.write(streamName, e));
    const last = written[written.length - 1]!;
    return { success: true, nextExpectedRevision: last.revision, position: { ...last.position } };
  }

  readStream(streamName: string, { fromRevision = 'start', maxCount = Number.MAX_SAFE_INTEGER } = {}) {
    const stream = this.streams.get(streamName);
    const from = fromRevision === 'start' ? 0 : Number(fromRevision);
    return (async function* () {
      await Promise.resolve();
      if (!stream) throw new StreamNotFoundError(undefined, streamName);
      for (const stored of stream.slice(from, from + Number(maxCount))) yield resolve(stored);
    })();
  }

  readAll({
    fromPosition = 'start',
    maxCount = Number.MAX_SAFE_INTEGER,
    direction = 'forwards',
    filter,
  }: { fromPosition?: ReadPosition; maxCount?: number | bigint; direction?: string; filter?: Filter } = {}) {
    this.lastReadAllFilter = filter;
    // Inclusive in both directions (the server is inclusive forwards; an inclusive backwards read is the worst case).
    let selected =
      direction === 'forwards'
        ? this.log.filter((e) => fromPosition === 'start' || (fromPosition !== 'end' && comparePositions(e.position, fromPosition) >= 0))
        : [...this.log]
            .reverse()
            .filter((e) => fromPosition === 'end' || (fromPosition !== 'start' && comparePositions(e.position, fromPosition) <= 0));
    selected = selected.filter((e) => passes(filter, e)).slice(0, Number(maxCount));
    return (async function* () {
      await Promise.resolve();
      for (const stored of selected) yield resolve(stored);
    })();
  }

  subscribeToAll({ fromPosition = 'start', filter }: { fromPosition?: ReadPosition; filter?: Filter } = {}) {
    const subscription = new Readable({ objectMode: true, read() {} }) as FakeSubscription;
    const deliver = (stored: StoredEvent) => {
      if (passes(filter, stored)) setImmediate(() => subscription.push(resolve(stored)));
    };
    // History from the start position included (a real server starts after it), then live events.
    for (const stored of this.log) {
      if (fromPosition === 'start' || (fromPosition !== 'end' && comparePositions(stored.position, fromPosition) >= 0)) {
        deliver(stored);
      }
    }
    this.listeners.set(subscription, deliver);
    // Like the client: cancels the call, and the stream does not end.
    subscription.unsubscribe = async () => {
      this.listeners.delete(subscription);
    };
    return subscription;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private write(streamId: string, proposed: ClientEventData): StoredEvent {
    const stream = this.streams.get(streamId) ?? [];
    this.streams.set(streamId, stream);
    this.nextPosition += 137n;
    const stored: StoredEvent = {
      streamId,
      id: proposed.id,
      type: proposed.type,
      data: JSON.stringify(proposed.data),
      metadata: proposed.metadata === undefined ? '' : JSON.stringify(proposed.metadata),
      revision: BigInt(stream.length),
      position: { commit: this.nextPosition, prepare: this.nextPosition },
      created: new Date(),
    };
    stream.push(stored);
    this.log.push(stored);
    this.byId.set(stored.id, stored);
    for (const deliver of this.listeners.values()) deliver(stored);
    return stored;
  }
}

function passes(filter: Filter | undefined, stored: StoredEvent): boolean {
  if (!filter) return true;
  const value = filter.filterOn === STREAM_NAME ? stored.streamId : stored.type;
  return 'regex' in filter ? new RegExp(filter.regex).test(value) : filter.prefixes.some((p) => value.startsWith(p));
}

function resolve(stored: StoredEvent) {
  return {
    event: {
      streamId: stored.streamId,
      id: stored.id,
      isJson: true as const,
      revision: stored.revision,
      type: stored.type,
      created: stored.created,
      data: JSON.parse(stored.data) as unknown,
      metadata: stored.metadata ? (JSON.parse(stored.metadata) as unknown) : undefined,
      position: { ...stored.position },
    },
    commitPosition: stored.position.commit,
  };
}
