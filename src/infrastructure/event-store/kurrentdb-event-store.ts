import {
  BACKWARDS,
  END,
  KurrentDBClient,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendResult as KurrentAppendResult,
  type Filter,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import {
  EventIdConflictError,
  comparePositions,
  type AppendOptions,
  type AppendResult,
  type EventData,
  type EventFilter,
  type EventStore,
  type EventSubscription,
  type ExpectedRevision,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppend,
  type SubscribeOptions,
} from './event-store.js';
import {
  USER_STREAMS_REGEX,
  diagnoseConflict,
  duplicateIds,
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
} from './kurrentdb-mapping.js';

/**
 * The event store on KurrentDB (EventStoreDB), through the official gRPC client.
 *
 * KurrentDB gives most of the port natively: 0-based revisions, (commit, prepare) positions, optimistic concurrency,
 * idempotent appends by event id, catch-up subscriptions to $all. What this adapter adds:
 * - reads of $all are exclusive of `after` (the client's fromPosition is inclusive) and never show system events;
 * - a port filter (streams AND categories AND types) becomes one server-side filter plus an exact check here;
 * - a rejected append whose ids are already in the stream is a repeat (its original result) or an id conflict.
 * What it cannot give: event ids unique across streams. KurrentDB keeps no index by event id, so reusing the ids
 * of another stream's events writes them again instead of raising EventIdConflictError.
 */

/** The part of the client this adapter uses (a narrower type lets tests pass a fake). */
export type KurrentDbClientLike = Pick<
  KurrentDBClient,
  'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll' | 'dispose'
>;

export async function createKurrentDbEventStore(connectionString: string): Promise<EventStore> {
  // Connects lazily, on the first call: a server that is down at start-up shows in ping(), not here.
  return createKurrentDbEventStoreWithClient(KurrentDBClient.connectionString(connectionString));
}

export function createKurrentDbEventStoreWithClient(client: KurrentDbClientLike): EventStore {
  return new KurrentDbEventStore(client);
}

const READ_PAGE_SIZE = 1000;
const HEAD_PAGE_SIZE = 32;
const DEFAULT_BATCH_SIZE = 500;
const PING_TIMEOUT_MS = 5000;
/** Attempts of one append when the server times out (it drops a repeat of a write it has not indexed yet). */
const APPEND_ATTEMPTS = 3;

class KurrentDbEventStore implements EventStore {
  private readonly subscriptions = new Set<KurrentDbSubscription>();
  private closed = false;

  constructor(private readonly client: KurrentDbClientLike) {}

  async append(streamId: string, events: EventData[], options: AppendOptions): Promise<AppendResult> {
    const expected = options.expectedRevision;
    const streamState = toStreamState(expected);
    if (events.length === 0) throw new RangeError(`Stream ${streamId}: an append needs at least one event`);
    const ids = events.map((e) => e.id);
    const duplicates = duplicateIds(ids);
    if (duplicates.length > 0) throw new EventIdConflictError(streamId, duplicates);
    const proposed = events.map(toEventData);

    let result: KurrentAppendResult;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await this.client.appendToStream(streamId, proposed, { streamState });
        break;
      } catch (error) {
        if (isTimeout(error) && attempt < APPEND_ATTEMPTS) continue;
        if (isWrongExpectedVersion(error)) return this.explainRejection(streamId, ids, expected, error);
        throw error;
      }
    }
    if (!result.success) throw new Error(`Stream ${streamId}: KurrentDB did not accept the append`);
    const nextExpectedRevision = toRevisionNumber(result.nextExpectedRevision);
    // A repeat of an earlier append comes back without a position (older servers): read it from the event.
    const position =
      result.position && result.position.commit >= 0n && result.position.prepare >= 0n
        ? { commit: result.position.commit, prepare: result.position.prepare }
        : await this.positionOf(streamId, nextExpectedRevision);
    return { nextExpectedRevision, position };
  }

  /** KurrentDB has no transaction across streams: one append after the other (see the port for what that means). */
  async appendMany(appends: StreamAppend[]): Promise<AppendResult[]> {
    const results: AppendResult[] = [];
    for (const { streamId, events, expectedRevision } of appends) results.push(await this.append(streamId, events, { expectedRevision }));
    return results;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = limitOf(options.maxCount);
    const fromRevision = toClientRevision(options.fromRevision ?? 0, 'fromRevision');
    if (limit === 0) return [];
    const events: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(streamId, { fromRevision, ...(limit === null ? {} : { maxCount: limit }) });
      for await (const resolved of read) {
        const event = toRecordedEvent(resolved);
        if (event && !isSystemEvent(event)) events.push(event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw error;
    }
    return events;
  }

  async readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
    // KurrentDB reads one stream per call; the gRPC channel multiplexes them.
    const unique = [...new Set(streamIds)];
    const read = await Promise.all(unique.map(async (id) => [id, await this.readStream(id)] as const));
    return new Map(read);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = limitOf(options.maxCount);
    if (limit === 0 || matchesNothing(options.filter)) return [];
    const serverFilter = toServerFilter(options.filter);
    const events: RecordedEvent[] = [];
    let cursor: Position | 'start' = options.after ?? 'start';
    for (;;) {
      // One more than needed: the page starts with the event at the cursor itself when there is one.
      const want = limit === null ? READ_PAGE_SIZE : Math.min(READ_PAGE_SIZE, limit - events.length + 1);
      const page = await this.readAllPage(toReadPosition(cursor), want, serverFilter);
      for (const event of page) {
        if (!isAfter(event.position, cursor) || !isVisible(event, options.filter)) continue;
        events.push(event);
        if (limit !== null && events.length >= limit) return events;
      }
      // A short page is the end of $all (a filtered read keeps searching until it has maxCount events or the end).
      const last = page[page.length - 1];
      if (page.length < want || !last || !isAfter(last.position, cursor)) return events;
      cursor = last.position;
    }
  }

  subscribe(options: SubscribeOptions = {}): EventSubscription {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? DEFAULT_BATCH_SIZE));
    const source =
      this.closed || matchesNothing(options.filter)
        ? undefined
        : this.client.subscribeToAll({
            fromPosition: toReadPosition(options.after),
            filter: toServerFilter(options.filter),
          });
    const subscription = new KurrentDbSubscription(source, options.after, options.filter, batchSize, () =>
      this.subscriptions.delete(subscription),
    );
    if (this.closed) void subscription.close();
    else this.subscriptions.add(subscription);
    return subscription;
  }

  async headPosition(): Promise<Position | null> {
    // The last event of $all is often a system one ($stats, projections, metadata), which readers never see.
    const userStreams = streamNameFilter({ regex: USER_STREAMS_REGEX });
    let from: ReadPosition = END;
    for (;;) {
      const page = await collect(
        this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: HEAD_PAGE_SIZE, filter: userStreams }),
      );
      const visible = page.find((event) => !isSystemEvent(event));
      if (visible) return visible.position;
      const last = page[page.length - 1];
      if (page.length < HEAD_PAGE_SIZE || !last || (from !== END && comparePositions(last.position, from) >= 0)) return null;
      from = last.position;
    }
  }

  async ping(): Promise<void> {
    await withTimeout(
      drain(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })),
      PING_TIMEOUT_MS,
      'KurrentDB did not answer a ping',
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.client.dispose();
  }

  /**
   * The server rejected the append on its expected revision. KurrentDB already treats a repeat at the same
   * expectation as a success, so this only decides the other cases, from the events now in the stream.
   */
  private async explainRejection(
    streamId: string,
    ids: string[],
    expected: ExpectedRevision,
    error: Parameters<typeof toWrongExpectedRevisionError>[0],
  ): Promise<AppendResult> {
    const diagnosis = diagnoseConflict(ids, await this.readStream(streamId));
    switch (diagnosis.kind) {
      case 'repeat':
        return { nextExpectedRevision: diagnosis.last.revision, position: diagnosis.last.position };
      case 'id_conflict':
        throw new EventIdConflictError(streamId, diagnosis.eventIds);
      case 'wrong_revision':
        throw toWrongExpectedRevisionError(error, streamId, expected);
    }
  }

  private async positionOf(streamId: string, revision: number): Promise<Position> {
    const [event] = await this.readStream(streamId, { fromRevision: revision, maxCount: 1 });
    if (!event || event.revision !== revision) {
      throw new Error(`Stream ${streamId}: the appended event at revision ${revision} cannot be read back`);
    }
    return event.position;
  }

  private async readAllPage(fromPosition: ReadPosition, maxCount: number, filter: Filter): Promise<RecordedEvent[]> {
    return collect(this.client.readAll({ fromPosition, maxCount, filter }));
  }
}

/**
 * A catch-up subscription over subscribeToAll. Events go into a queue as the client delivers them; the consumer gets
 * what has arrived, up to batchSize at a time. The client stream is paused while the queue is full.
 */
class KurrentDbSubscription implements EventSubscription {
  private readonly queue: RecordedEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly highWater: number;
  private last: Position | 'start' | undefined;
  private failure: { error: unknown } | undefined;
  private ended = false;
  private paused = false;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly source: AllStreamSubscription | undefined,
    after: Position | 'start' | undefined,
    private readonly filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly onClose: () => void,
  ) {
    this.last = after;
    this.highWater = Math.max(batchSize * 4, 1000);
    if (!source) return;
    source.on('data', (resolved: AllStreamResolvedEvent) => this.receive(resolved));
    // Kept for the whole life of the source: an 'error' without a listener would crash the process.
    source.on('error', (error: Error) => this.fail(error));
    source.on('end', () => this.finish());
    source.on('close', () => this.finish());
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent[]> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.queue.length = 0;
      this.wake();
      this.onClose();
      this.closing = this.release();
    }
    return this.closing;
  }

  private async next(): Promise<IteratorResult<RecordedEvent[]>> {
    for (let waited = false; ; ) {
      if (this.closed) return { done: true, value: undefined };
      if (this.queue.length > 0) {
        // After a wait, let the events that arrived together land in the queue: one batch rather than several.
        if (waited) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          waited = false;
          continue;
        }
        const batch = this.queue.splice(0, this.batchSize);
        if (this.paused && this.queue.length < this.batchSize) {
          this.paused = false;
          this.source?.resume();
        }
        return { done: false, value: batch };
      }
      if (this.failure) {
        const { error } = this.failure;
        await this.close();
        throw error;
      }
      if (this.ended) {
        await this.close();
        throw new Error('The KurrentDB subscription ended unexpectedly');
      }
      await new Promise<void>((resolve) => this.waiters.add(resolve));
      waited = true;
    }
  }

  private receive(resolved: AllStreamResolvedEvent): void {
    if (this.closed) return;
    let event: RecordedEvent | null;
    try {
      event = toRecordedEvent(resolved);
    } catch (error) {
      this.fail(error);
      return;
    }
    // Also drops the event at the start position, if the server sends it, and any event sent twice.
    if (!event || !isAfter(event.position, this.last)) return;
    this.last = event.position;
    if (!isVisible(event, this.filter)) return;
    this.queue.push(event);
    if (!this.paused && this.queue.length >= this.highWater) {
      this.paused = true;
      this.source?.pause();
    }
    this.wake();
  }

  private fail(error: unknown): void {
    if (this.closed || this.failure) return;
    this.failure = { error };
    this.wake();
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const resolve of waiters) resolve();
  }

  private async release(): Promise<void> {
    if (!this.source) return;
    // unsubscribe() cancels the gRPC call; it rejects if the call never started (server unreachable): nothing to do.
    await this.source.unsubscribe().catch(() => undefined);
    this.source.destroy();
  }
}

async function collect(read: AsyncIterable<AllStreamResolvedEvent>): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const resolved of read) {
    const event = toRecordedEvent(resolved);
    if (event) events.push(event);
  }
  return events;
}

/** Reads to the end and throws the results away. */
async function drain(read: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of read) {
    // nothing to keep
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
