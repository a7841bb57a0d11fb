import type { SqlClient } from '../database/sql-client.js';
import {
  comparePositions,
  EventIdConflictError,
  WrongExpectedRevisionError,
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
import { LogTail, type TailRead, type WindowRead } from './log-tail.js';
import {
  EVENTS_CHANNEL,
  EVENT_ID_CONFLICT_SQLSTATE,
  WRONG_EXPECTED_REVISION_SQLSTATE,
  eventStoreSchemaSql,
} from './postgres-event-store-schema.js';

/**
 * The event store on PostgreSQL (a server through pg.Pool, or embedded PGlite: the same SQL runs on both).
 *
 * Global order is (transaction_id, global_position), and readers only see rows whose transaction is older than
 * every transaction still running (transaction_id < xmin of the current snapshot). A bigserial alone is not enough:
 * its values become visible at commit, out of order, and a reader that moved past a lower value still in flight
 * would skip that event forever. The price: one long open transaction anywhere on the server holds readers back.
 */

export interface PostgresEventStoreOptions {
  /** How often a waiting subscription looks again without a wake-up (fenced events appear without any NOTIFY). */
  pollIntervalMs?: number;
  /** Events the shared end of the log keeps for this process's subscriptions (see LogTail). */
  tailEvents?: number;
  /** How long a subscription that stopped moving still holds the tail back (see LogTail); 0: never. */
  tailHoldMs?: number;
}

export type PostgresEventStore = EventStore & { migrate(): Promise<void> };

export async function createPostgresEventStore(
  sql: SqlClient,
  options: PostgresEventStoreOptions = {},
): Promise<PostgresEventStore> {
  const store = new PgEventStore(sql, options.pollIntervalMs ?? 250, options.tailEvents ?? TAIL_EVENTS, options.tailHoldMs ?? TAIL_HOLD_MS);
  await store.migrate();
  return store;
}

const DEFAULT_BATCH_SIZE = 500;
const MAX_BIGINT = 9_223_372_036_854_775_807n;
/** Events a filtered read looks at, at most, per query (see readAfter). */
const SCAN_WINDOW = 5_000;
/**
 * Shortest time between two reads of a woken subscription: under a steady stream of appends each follower reads at
 * most this often, in batches of what came meanwhile, rather than once per append. A quiet subscription is still woken
 * at once by an append.
 */
const SETTLE_MS = 50;
/** The shared end of the log: events kept (a few seconds of appends at full load), and read per query. */
const TAIL_EVENTS = 10_000;
const TAIL_FETCH = 2_000;
/** How long a follower that stopped moving still holds the tail back: longer than a slow batch under load. */
const TAIL_HOLD_MS = 5_000;
// Serialises migrations of concurrent processes: CREATE ... IF NOT EXISTS / OR REPLACE race with each other.
const MIGRATION_LOCK_KEY = 7_305_411_902;

interface EventRow {
  global_position: string;
  commit_position: string;
  event_id: string;
  stream_id: string;
  stream_revision: string;
  type: string;
  data: unknown;
  metadata: RecordedEvent['metadata'];
  created_at: Date | string;
}

// Not "transaction_id::text AS transaction_id": ORDER BY would then sort by the text alias (so '999' > '1000').
const EVENT_COLUMNS = `global_position, transaction_id::text AS commit_position, event_id, stream_id, stream_revision,
  type, data, metadata, created_at`;

const QUALIFIED_EVENT_COLUMNS = `e.global_position, e.transaction_id::text AS commit_position, e.event_id, e.stream_id,
  e.stream_revision, e.type, e.data, e.metadata, e.created_at`;

// Everything older than the oldest running transaction is committed (or rolled back) for good.
const FENCE = 'transaction_id < pg_snapshot_xmin(pg_current_snapshot())';

class PgEventStore implements PostgresEventStore {
  // Wake-up signal for waiting subscriptions: bumped by local appends and by NOTIFY from other processes.
  private generation = 0;
  private readonly wakers = new Set<() => void>();
  private readonly subscriptions = new Set<PgSubscription>();
  private listening: Promise<(() => Promise<void>) | undefined> | undefined;
  private notifying: Promise<void> | undefined;
  private notifyAgain = false;
  private closed = false;
  private lastBump = 0;
  // Near the head, subscriptions take their batches from one shared read of the log (see LogTail).
  private readonly tail: LogTail;

  constructor(
    private readonly sql: SqlClient,
    private readonly pollIntervalMs: number,
    tailEvents: number,
    tailHoldMs: number,
  ) {
    this.tail = new LogTail((after, limit, filter) => this.readAfter(after, limit, filter), () => this.generation, {
      maxEvents: tailEvents,
      // Waiting for nobody, the tail keeps all it may: the readers it does not wait for fall out of it sooner.
      keepEvents: tailHoldMs === 0 ? tailEvents : Math.ceil(tailEvents / 2),
      fetchSize: Math.min(TAIL_FETCH, tailEvents),
      minFetchIntervalMs: SETTLE_MS / 2,
      holdMs: tailHoldMs,
      // Events are shared between subscriptions: in tests, changing one throws.
      freeze: process.env.NODE_ENV === 'test',
    });
  }

  async migrate(): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      await tx.query(eventStoreSchemaSql);
    });
  }

  async append(streamId: string, events: EventData[], options: AppendOptions): Promise<AppendResult> {
    const expected = options.expectedRevision;
    const [kind, revision] = expectation(expected);
    if (events.length === 0) throw new RangeError(`Stream ${streamId}: an append needs at least one event`);
    const ids = events.map((e) => e.id);
    if (new Set(ids).size !== ids.length) throw new EventIdConflictError(streamId, duplicates(ids));
    const payload = JSON.stringify(events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })));
    const call = () =>
      this.sql.query<{ o_revision: string; o_commit: string; o_prepare: string }>(
        'SELECT o_revision, o_commit, o_prepare FROM es_append($1, $2, $3, $4::jsonb)',
        [streamId, kind, revision, payload],
      );

    let result;
    try {
      result = await call().catch((error: unknown) => {
        // The same ids were inserted by a concurrent append that committed after our duplicate check: run again,
        // and the check now sees them (a retry of the same append succeeds, anything else is a conflict).
        if (isEventIdViolation(error)) return call();
        throw error;
      });
    } catch (error) {
      throw toTypedError(error, streamId, expected, ids);
    }
    const row = result.rows[0]!;
    this.wake();
    this.announce();
    return {
      nextExpectedRevision: Number(row.o_revision),
      position: { commit: BigInt(row.o_commit), prepare: BigInt(row.o_prepare) },
    };
  }

  async appendMany(appends: StreamAppend[]): Promise<AppendResult[]> {
    if (appends.length === 0) return [];
    const everyId = appends.flatMap((a) => a.events.map((e) => e.id));
    if (new Set(everyId).size !== everyId.length) {
      const repeated = duplicates(everyId);
      const culprit = appends.find((a) => a.events.some((e) => repeated.includes(e.id)))!;
      throw new EventIdConflictError(culprit.streamId, repeated);
    }
    const payload = JSON.stringify(
      appends.map(({ streamId, events, expectedRevision }) => {
        const [kind, revision] = expectation(expectedRevision);
        if (events.length === 0) throw new RangeError(`Stream ${streamId}: an append needs at least one event`);
        return {
          stream_id: streamId,
          expected_kind: kind,
          expected_revision: revision,
          events: events.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
        };
      }),
    );
    const call = () =>
      this.sql.query<{ o_index: number; o_revision: string; o_commit: string; o_prepare: string }>(
        'SELECT o_index, o_revision, o_commit, o_prepare FROM es_append_many($1::jsonb)',
        [payload],
      );
    let result;
    try {
      // As in append: ids inserted by a concurrent append that committed after our check are seen on a second run.
      result = await call().catch((error: unknown) => {
        if (isEventIdViolation(error)) return call();
        throw error;
      });
    } catch (error) {
      const failed = appends.find((a) => a.streamId === (error as { hint?: string }).hint) ?? appends[0]!;
      throw toTypedError(error, failed.streamId, failed.expectedRevision, failed.events.map((e) => e.id));
    }
    this.wake();
    this.announce();
    return result.rows
      .sort((a, b) => Number(a.o_index) - Number(b.o_index))
      .map((row) => ({
        nextExpectedRevision: Number(row.o_revision),
        position: { commit: BigInt(row.o_commit), prepare: BigInt(row.o_prepare) },
      }));
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    // Not fenced: a command handler must read its own stream's latest committed state.
    const result = await this.sql.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM es_events
        WHERE stream_id = $1 AND stream_revision >= $2
        ORDER BY stream_revision LIMIT $3`,
      [streamId, options.fromRevision ?? 0, limitOf(options.maxCount)],
    );
    return result.rows.map(toRecordedEvent);
  }

  async readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>> {
    const streams = new Map<string, RecordedEvent[]>(streamIds.map((id) => [id, []]));
    if (streamIds.length === 0) return streams;
    // Not fenced, as readStream. One index lookup per stream, whatever the planner's statistics say (without them it
    // estimated "stream_id = ANY" at most of the table and scanned all of it).
    const result = await this.sql.query<EventRow>(
      `SELECT e.* FROM unnest($1::text[]) AS s(id)
        CROSS JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM es_events WHERE es_events.stream_id = s.id ORDER BY stream_revision) e`,
      [[...streams.keys()]],
    );
    for (const row of result.rows) streams.get(row.stream_id)?.push(toRecordedEvent(row));
    return streams;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = limitOf(options.maxCount);
    const events: RecordedEvent[] = [];
    let after = options.after ?? 'start';
    // A filtered read looks at the log a window at a time: window after window until it has its events or reaches the fence.
    for (;;) {
      const read = await this.readAfter(after, limit === null ? null : limit - events.length, options.filter);
      events.push(...read.events);
      if (read.reachedFence || (limit !== null && events.length >= limit)) return events;
      after = read.scannedTo;
    }
  }

  /**
   * The events after a position that pass the filter, in global order, at most `limit`, from one window of the log: at
   * most a window of events (twice the limit, up to SCAN_WINDOW) are looked at, walking the global-order index, so a
   * read costs what it looks at whatever the filter and whatever the planner's statistics. Without a filter, the window
   * is the events themselves (readUnfiltered). Also returns where the window ended
   * and the fence it used: once a window ends at the fence, every event of a transaction older than the fence was seen.
   */
  async readAfter(
    after: Position | 'start',
    limit: number | null,
    filter: EventFilter | undefined,
  ): Promise<WindowRead> {
    const start = after === 'start' ? { commit: 0n, prepare: 0n } : after;
    const params: unknown[] = [start.commit.toString(), start.prepare.toString()];
    const conditions = filterConditions(filter, params);
    if (conditions === '') return this.readUnfiltered(start, limit);
    // Twice the batch: a filter that wants most events fills its batch looking at little more than it returns, and one
    // that wants few still moves at least a thousand events per read.
    const window = limit === null ? SCAN_WINDOW : Math.min(SCAN_WINDOW, Math.max(1_000, 2 * limit));
    params.push(window, limit);
    const result = await this.sql.query<EventRow & { fence: string; scanned: string; last_commit: string | null; last_prepare: string | null }>(
      `WITH w AS MATERIALIZED (
         SELECT global_position, transaction_id, category, type, stream_id FROM es_events
          WHERE ${FENCE} AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
          ORDER BY transaction_id, global_position LIMIT $${params.length - 1}
       ), m AS (
         SELECT global_position, transaction_id FROM w WHERE true ${conditions}
          ORDER BY transaction_id, global_position LIMIT $${params.length}
       )
       SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS fence, (SELECT count(*) FROM w) AS scanned,
              l.transaction_id::text AS last_commit, l.global_position AS last_prepare, ${QUALIFIED_EVENT_COLUMNS}
         FROM (SELECT 1) one
         LEFT JOIN (SELECT transaction_id, global_position FROM w ORDER BY transaction_id DESC, global_position DESC LIMIT 1) l ON true
         LEFT JOIN (m JOIN es_events e ON e.global_position = m.global_position) ON true
        ORDER BY m.transaction_id, m.global_position`,
      params,
    );
    const first = result.rows[0]!;
    const rows = result.rows.filter((row) => row.event_id !== null);
    const scanned = Number(first.scanned);
    const scannedTo = first.last_commit === null ? start : { commit: BigInt(first.last_commit), prepare: BigInt(first.last_prepare!) };
    return {
      events: rows.map(toRecordedEvent),
      fence: BigInt(first.fence),
      scannedTo,
      // A full window may have stopped short of the fence; a shorter one ran into it.
      reachedFence: scanned < window,
    };
  }

  /** readAfter without a filter (the shared tail, a rebuild): the events themselves, in one walk of the global-order index. */
  private async readUnfiltered(start: Position, limit: number | null): Promise<WindowRead> {
    const result = await this.sql.query<EventRow & { fence: string }>(
      `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS fence, e.*
         FROM (SELECT 1) one
         LEFT JOIN (SELECT ${EVENT_COLUMNS} FROM es_events
                     WHERE ${FENCE} AND (transaction_id, global_position) > ($1::xid8, $2::bigint)
                     ORDER BY transaction_id, global_position LIMIT $3) e ON true`,
      [start.commit.toString(), start.prepare.toString(), limit],
    );
    const rows = result.rows.filter((row) => row.event_id !== null);
    const events = rows.map(toRecordedEvent);
    return {
      events,
      fence: BigInt(result.rows[0]!.fence),
      scannedTo: events.length > 0 ? events[events.length - 1]!.position : start,
      reachedFence: limit === null || events.length < limit,
    };
  }

  async headPosition(): Promise<Position | null> {
    // Not fenced: the head is the last event committed, so waiting for it waits for everything written so far. A
    // transaction of any database of the cluster still open holds the fence back, and a fenced head could then be
    // older than an append that already returned.
    const result = await this.sql.query<{ commit_position: string; global_position: string }>(
      `SELECT transaction_id::text AS commit_position, global_position FROM es_events
        ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = result.rows[0];
    return row ? { commit: BigInt(row.commit_position), prepare: BigInt(row.global_position) } : null;
  }

  subscribe(options: SubscribeOptions = {}): EventSubscription {
    const subscription = new PgSubscription(this, options, this.pollIntervalMs);
    if (this.closed) void subscription.close();
    else {
      this.subscriptions.add(subscription);
      this.startListening();
    }
    return subscription;
  }

  async ping(): Promise<void> {
    await this.sql.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    const stop = await this.listening?.catch(() => undefined);
    this.listening = undefined;
    await stop?.().catch(() => undefined);
    await this.notifying;
  }

  // --- used by subscriptions ---

  get wakeGeneration(): number {
    return this.generation;
  }

  /** A subscription's read: from the shared tail when it is there, as fresh as the wake-up generation given. */
  readLive(after: Position | 'start', limit: number, filter: EventFilter | undefined, generation: number, subscription: PgSubscription, leads: boolean): Promise<TailRead> {
    return this.tail.read(after, limit, filter, generation, subscription, leads);
  }

  /**
   * A subscription waited a poll interval without a wake-up: events may have come without a NOTIFY (another process
   * died before sending it), so the next reads must look at the log again. Once per interval for all subscriptions.
   */
  pollTick(): void {
    const now = performance.now();
    if (now - this.lastBump < this.pollIntervalMs / 2) return;
    this.lastBump = now;
    this.generation++;
  }

  /** Calls back once, on the next wake-up; the returned function cancels that. */
  onWake(callback: () => void): () => void {
    this.wakers.add(callback);
    return () => this.wakers.delete(callback);
  }

  forget(subscription: PgSubscription): void {
    this.subscriptions.delete(subscription);
    this.tail.forget(subscription);
  }

  private wake(): void {
    this.generation++;
    this.lastBump = performance.now();
    const callbacks = [...this.wakers];
    this.wakers.clear();
    for (const callback of callbacks) callback();
  }

  /**
   * Tells other processes that events were appended: at most one NOTIFY in flight, and one more after it if appends
   * happened meanwhile. Not inside the append itself (see the schema). Lost if the process dies right after a commit;
   * the other processes' poll covers that.
   */
  private announce(): void {
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = (async () => {
      do {
        this.notifyAgain = false;
        await this.sql.query(`SELECT pg_notify('${EVENTS_CHANNEL}', '')`).catch(() => undefined);
      } while (this.notifyAgain && !this.closed);
      this.notifying = undefined;
    })();
  }

  /** One LISTEN per store, opened with the first subscription; without it, polling still delivers. */
  private startListening(): void {
    if (this.listening) return;
    this.listening = this.sql.listen(EVENTS_CHANNEL, () => this.wake()).then(
      async (stop) => {
        if (!this.closed) return stop;
        await stop().catch(() => undefined);
        return undefined;
      },
      () => undefined,
    );
  }
}

/**
 * Catch-up subscription: reads batches from its checkpoint until it is at the head, then waits for a wake-up or the
 * poll interval, whichever comes first. Never yields an empty batch; ends once closed.
 */
class PgSubscription implements EventSubscription {
  private closed = false;
  private cancelWait: (() => void) | undefined;
  private reading: Promise<unknown> = Promise.resolve();
  private position: Position | 'start';
  private readonly batchSize: number;

  constructor(
    private readonly store: PgEventStore,
    private readonly options: SubscribeOptions,
    private readonly pollIntervalMs: number,
  ) {
    this.position = options.after ?? 'start';
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RecordedEvent[]> {
    try {
      while (!this.closed) {
        // Remember the signal before reading: a wake-up during the read means "look again", not "sleep".
        const generation = this.store.wakeGeneration;
        const read = this.store.readLive(this.position, this.batchSize, this.options.filter, generation, this, this.options.leads === true);
        this.reading = read.catch(() => undefined);
        const { events: batch, fence, scannedTo, reachedFence, freshAs } = await read;
        if (this.closed) return;
        const full = batch.length === this.batchSize;
        if (batch.length > 0) this.position = batch[batch.length - 1]!.position;
        if (!full) {
          // The next read starts where this one stopped looking, not at the last event it wanted: a follower of rare
          // event types would otherwise walk again past everything else at every wake-up. Once at the fence, everything
          // below it has been seen.
          const seen: Position = reachedFence ? { commit: fence - 1n, prepare: MAX_BIGINT } : scannedTo;
          if (this.position === 'start' || comparePositions(seen, this.position) > 0) this.position = seen;
        }
        if (batch.length > 0) yield batch;
        if (full || !reachedFence) continue;
        // Wait only when nothing woke the store since the read of the log behind this answer began.
        if (this.store.wakeGeneration <= freshAs) await this.waitForWake();
        // Under a stream of appends every one of them is a wake-up: read at most every few milliseconds, so that a
        // subscription whose filter matches little (or nothing) does not query once per append.
        await this.settle();
      }
    } finally {
      this.closed = true;
      this.store.forget(this);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelWait?.();
    this.store.forget(this);
    // Let an in-flight read finish, so the caller may close the SqlClient right after.
    await this.reading;
  }

  private lastRead = 0;

  private async settle(): Promise<void> {
    const wait = this.lastRead + SETTLE_MS - performance.now();
    if (wait > 0 && !this.closed) await new Promise((resolve) => setTimeout(resolve, wait));
    this.lastRead = performance.now();
  }

  private waitForWake(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        this.cancelWait = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        this.store.pollTick();
        done();
      }, this.pollIntervalMs);
      const unsubscribe = this.store.onWake(done);
      this.cancelWait = done;
    });
  }
}

function expectation(expected: ExpectedRevision): [kind: string, revision: number | null] {
  if (typeof expected === 'number') {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw new RangeError(`expected revision must be a revision (integer >= 0), got ${expected}`);
    }
    return ['exact', expected];
  }
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return [expected, null];
  throw new RangeError(`unknown expected revision ${String(expected)}`);
}

/** Appends SQL conditions for the filter, pushing their parameters; '' when there is nothing to filter. */
function filterConditions(filter: EventFilter | undefined, params: unknown[]): string {
  if (!filter) return '';
  const parts: string[] = [];
  const add = (column: string, values: string[] | undefined) => {
    if (!values) return;
    params.push(values);
    parts.push(`${column} = ANY ($${params.length}::text[])`);
  };
  add('stream_id', filter.streams);
  add('category', filter.categories);
  add('type', filter.eventTypes);
  return parts.map((p) => `AND ${p}`).join(' ');
}

/** LIMIT NULL means no limit. */
function limitOf(maxCount: number | undefined): number | null {
  return maxCount === undefined ? null : Math.max(0, Math.floor(maxCount));
}

function isEventIdViolation(error: unknown): boolean {
  const { code, constraint, message } = error as { code?: string; constraint?: string; message?: string };
  return code === '23505' && (constraint === 'es_events_event_id_key' || (message ?? '').includes('es_events_event_id_key'));
}

/** es_append reports a mismatch through its own SQLSTATEs, with the details in DETAIL. */
function toTypedError(error: unknown, streamId: string, expected: ExpectedRevision, ids: string[]): unknown {
  const { code, detail = '' } = error as { code?: string; detail?: string };
  if (code === WRONG_EXPECTED_REVISION_SQLSTATE) {
    return new WrongExpectedRevisionError(streamId, expected, detail === 'no_stream' ? 'no_stream' : Number(detail));
  }
  if (code === EVENT_ID_CONFLICT_SQLSTATE) return new EventIdConflictError(streamId, detail.split(','));
  if (isEventIdViolation(error)) return new EventIdConflictError(streamId, ids);
  return error;
}

function duplicates(ids: string[]): string[] {
  return [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.type,
    streamId: row.stream_id,
    revision: Number(row.stream_revision),
    position: { commit: BigInt(row.commit_position), prepare: BigInt(row.global_position) },
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
  };
}
