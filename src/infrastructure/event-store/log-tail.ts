import { comparePositions, matchesFilter, type EventFilter, type Position, type RecordedEvent } from './event-store.js';

/** One read of the log: the events wanted, the fence used, how far the read looked, and whether it ran into the fence. */
export interface WindowRead {
  events: RecordedEvent[];
  fence: bigint;
  scannedTo: Position;
  reachedFence: boolean;
}

/** A subscription's read: also the wake-up generation it is fresh as of. */
export interface TailRead extends WindowRead {
  freshAs: number;
}

export type WindowReader = (after: Position | 'start', limit: number | null, filter: EventFilter | undefined) => Promise<WindowRead>;

export interface LogTailOptions {
  /** Events read per query when the tail moves on. */
  fetchSize: number;
  /** Events kept at most; followers further behind read the log themselves until they catch up. */
  maxEvents: number;
  /** Events kept when no reader needs older ones (at most maxEvents are kept for the readers that do). */
  keepEvents: number;
  /** Shortest time between two reads of the log that only look for what is new. */
  minFetchIntervalMs: number;
  /**
   * How long a reader that stopped moving still holds the tail back (see LogTail). 0: the tail never waits for a
   * reader, and one that falls too far behind reads the log itself.
   */
  holdMs: number;
  /** Freeze what the tail hands out, so that a follower changing a shared event fails loudly (tests). */
  freeze?: boolean;
}

/** Where a reader of the tail is, and when it last moved. */
interface ReaderMark {
  position: Position;
  movedAt: number;
}

const MAX_BIGINT = 9_223_372_036_854_775_807n;

/**
 * The end of the log, read once and shared by every subscription of the process.
 *
 * Each projection and reactor follows the log on its own, and near the head they all want the same few hundred events
 * at the same moment (woken by the same append): without sharing, each of them queried the database for them and
 * parsed the same rows again. The tail holds every event after `from` up to `seenTo`, in global order, unfiltered;
 * a subscription positioned inside it gets its batch from memory, filtered here, and whoever reaches the end first
 * reads the next part of the log for all (one query in flight at a time).
 *
 * Freshness: an answer "nothing more" says which wake-up generation it is fresh as of (when the read of the log that
 * gave it began); a subscription woken since then looks again instead of waiting, so no append is left unseen.
 * Subscriptions outside the tail (catching up from far behind) read the log themselves and join when they reach it.
 *
 * Pace: the tail does not run ahead of its slowest reader. In a burst, the followers with nothing to do (a projection
 * of publications, during thousands of notifications) would otherwise drag it to the head while those with work fall
 * more than maxEvents behind; each of those then read the log on its own, at several times the cost of the shared
 * read, and most of the database's reading in a burst was that. So the tail keeps what its slowest reader has not
 * read yet, up to maxEvents (keepEvents when nobody needs more), and a reader at its end whose next read would go past
 * maxEvents waits for the slower one instead. A reader that has not moved for holdMs (stopped, or failing on an event
 * and retrying) no longer holds the others: they go on, and it reads the log itself afterwards. A reader that leads
 * (SubscribeOptions.leads: the dispatch of notifications, which someone is waiting for) never waits.
 */
export class LogTail {
  private events: RecordedEvent[] = [];
  /** Exclusive start: the tail holds every event after it. null until the first read. */
  private from: Position | null = null;
  /** Inclusive end: every event up to here is in the tail. */
  private seenTo: Position | null = null;
  private fence = 0n;
  /** The last read of the log ran into the fence: seenTo is the head as of that read. */
  private atFence = false;
  /** Wake-up generation when the last read that reached the fence began. */
  private freshAs = -1;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private fetching: Promise<void> | null = null;
  /** The readers of the tail (subscriptions), where each is: the slowest sets the pace. */
  private readonly readers = new Map<object, ReaderMark>();
  /** Wakes the readers waiting for a slower one to move. */
  private moved: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Readers waiting at the end of the tail: they hold nobody back (two of them would otherwise wait for each other). */
  private readonly waiting = new Set<object>();

  constructor(
    private readonly readWindow: WindowReader,
    private readonly currentGeneration: () => number,
    private readonly options: LogTailOptions,
  ) {}

  /**
   * Events after `after` that pass the filter, at most `limit`. `freshAs` is the wake-up generation the answer is
   * fresh as of: an answer "nothing more" (reachedFence) covers the appends that woke the process up to it, and the
   * caller looks again, rather than wait, when the generation has moved past it.
   */
  async read(after: Position | 'start', limit: number, filter: EventFilter | undefined, generation: number, reader?: object, leads = false): Promise<TailRead> {
    if (after === 'start') return { ...(await this.readWindow(after, limit, filter)), freshAs: generation };
    if (reader) this.mark(reader, after);
    // The caller read past the tail on its own (it was catching up): when the tail was at the head, what is missing
    // is only what came since, so the tail moves on to it.
    if (this.from !== null && this.atFence && comparePositions(after, this.seenTo!) > 0) await this.moveOn();
    if (this.from !== null && comparePositions(after, this.seenTo!) > 0 && this.slowestHolding(reader) !== null) {
      // Past the tail while others still read in it: this caller reads the log itself until the tail reaches it.
      return { ...(await this.readWindow(after, limit, filter)), freshAs: generation };
    }
    if (this.from === null || comparePositions(after, this.seenTo!) > 0) {
      // Nothing held yet, or the caller is still past the tail: the tail starts again where the caller is (the
      // subscriptions left behind read for themselves until they catch up). Never under a read in flight (its events
      // would land in the new tail); nothing runs between the loop and the restart.
      while (this.fetching) await this.fetching.catch(() => undefined);
      if (this.from === null || comparePositions(after, this.seenTo!) > 0) this.restartAt(after);
    }
    const found: RecordedEvent[] = [];
    let looked: Position = after;
    let moved = false;
    for (;;) {
      if (comparePositions(looked, this.from!) < 0) {
        // Fell behind what the tail keeps (trimmed meanwhile): read the log directly.
        if (found.length > 0) return { events: found, fence: this.fence, scannedTo: looked, reachedFence: false, freshAs: this.freshAs };
        return { ...(await this.readWindow(looked, limit, filter)), freshAs: generation };
      }
      for (let i = this.indexAfter(looked); i < this.events.length; i++) {
        const event = this.events[i]!;
        looked = event.position;
        if (matchesFilter(event, filter)) {
          found.push(event);
          if (found.length === limit) return { events: found, fence: this.fence, scannedTo: looked, reachedFence: false, freshAs: this.freshAs };
        }
      }
      looked = this.seenTo!;
      // Nothing more for it in the tail: it stands at the end now, not at where it came in.
      if (reader) this.mark(reader, looked);
      const answer = { events: found, fence: this.fence, scannedTo: looked, reachedFence: this.atFence, freshAs: this.freshAs };
      // What was found goes now (the caller comes back for more); one move of the tail per call, as one window per read.
      if (found.length > 0 || moved) return answer;
      // At the fence and either fresh enough, or read moments ago: under a stream of appends the generation moves all
      // the time, and the subscriptions share one read per interval instead of each asking for its own.
      if (this.atFence && (this.freshAs >= generation || performance.now() - this.lastFetchAt < this.options.minFetchIntervalMs)) return answer;
      // Moving on would trim what a slower reader still needs: wait for it, then look again at what the tail holds.
      if (!leads && (await this.waitedForSlowest(reader))) {
        // Closed while it waited: the subscription is gone, and its answer with it.
        if (reader && !this.readers.has(reader)) return answer;
        continue;
      }
      await this.moveOn();
      moved = true;
    }
  }

  /** A subscription that closed no longer holds the tail back. */
  forget(reader: object): void {
    this.readers.delete(reader);
    this.waiting.delete(reader);
    this.wakeWaiting();
  }

  private mark(reader: object, position: Position): void {
    const mark = this.readers.get(reader);
    if (mark && comparePositions(mark.position, position) === 0) return;
    this.readers.set(reader, { position, movedAt: performance.now() });
    this.wakeWaiting();
  }

  private wakeWaiting(): void {
    this.moved?.resolve();
    this.moved = null;
  }

  /**
   * The reader that the next move of the tail would leave behind: one a full fetch would trim unread events of, as
   * the tail then holds more than maxEvents. null when the tail may move.
   */
  private slowestHolding(caller: object | undefined): ReaderMark | null {
    const trimmedBelow = this.events.length + this.options.fetchSize - this.options.maxEvents;
    if (trimmedBelow <= 0) return null;
    const slowest = this.slowestReader(caller);
    return slowest && this.indexAfter(slowest.position) < trimmedBelow ? slowest : null;
  }

  /** The furthest behind of the readers inside the tail that moved within holdMs. */
  private slowestReader(caller?: object): ReaderMark | null {
    if (this.options.holdMs <= 0 || this.from === null) return null;
    const now = performance.now();
    let slowest: ReaderMark | null = null;
    for (const [reader, mark] of this.readers) {
      if (reader === caller || this.waiting.has(reader) || now - mark.movedAt > this.options.holdMs) continue;
      if (comparePositions(mark.position, this.from) < 0) continue; // reading the log itself already
      if (!slowest || comparePositions(mark.position, slowest.position) < 0) slowest = mark;
    }
    return slowest;
  }

  /** Waits, when a slower reader holds the tail, until some reader moves or the slowest stops holding; true if it did. */
  private async waitedForSlowest(caller: object | undefined): Promise<boolean> {
    const slowest = this.slowestHolding(caller);
    if (!slowest) return false;
    this.moved ??= withResolvers();
    const stopsHolding = Math.max(1, this.options.holdMs - (performance.now() - slowest.movedAt));
    let timer: NodeJS.Timeout | undefined;
    if (caller) this.waiting.add(caller);
    try {
      await Promise.race([this.moved.promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, stopsHolding)))]);
    } finally {
      clearTimeout(timer);
      if (caller) this.waiting.delete(caller);
    }
    return true;
  }

  private restartAt(position: Position): void {
    this.events = [];
    this.from = position;
    this.seenTo = position;
    this.atFence = false;
    this.freshAs = -1;
  }

  /** Reads the next part of the log, once for everyone: joins the read in flight, if any. */
  private async moveOn(): Promise<void> {
    if (this.fetching) {
      await this.fetching;
      return;
    }
    const startedAs = this.currentGeneration();
    this.lastFetchAt = performance.now();
    this.fetching = this.fetch(startedAs).finally(() => {
      this.fetching = null;
    });
    await this.fetching;
  }

  private async fetch(startedAs: number): Promise<void> {
    const read = await this.readWindow(this.seenTo!, this.options.fetchSize, undefined);
    if (this.options.freeze) read.events.forEach(deepFreeze);
    this.events.push(...read.events);
    this.fence = read.fence;
    this.atFence = read.reachedFence;
    // At the fence, every event of a transaction older than it has been seen, also those this read did not return.
    this.seenTo = read.reachedFence ? { commit: read.fence - 1n, prepare: MAX_BIGINT } : read.scannedTo;
    if (read.reachedFence) this.freshAs = startedAs;
    // Those waiting at the end have new events to look at.
    if (read.events.length > 0) this.wakeWaiting();
    // Down to keepEvents, but not past what the slowest reader still needs; never more than maxEvents.
    const slowest = this.slowestReader();
    const needed = slowest ? this.indexAfter(slowest.position) : Number.POSITIVE_INFINITY;
    const over = Math.max(this.events.length - this.options.maxEvents, Math.min(this.events.length - this.options.keepEvents, needed));
    if (over > 0) {
      this.from = this.events[over - 1]!.position;
      this.events = this.events.slice(over);
    }
  }

  /** Index of the first held event after the position (binary search: the tail is in global order). */
  private indexAfter(position: Position): number {
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (comparePositions(this.events[middle]!.position, position) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

function withResolvers(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}
