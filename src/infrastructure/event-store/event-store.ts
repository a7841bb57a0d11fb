/**
 * The event store port. Every adapter (PostgreSQL, PGlite, KurrentDB) satisfies the same contract,
 * checked by one shared suite in test/infrastructure/event-store/event-store-contract.ts.
 *
 * Conventions shared by all adapters:
 * - stream revisions are 0-based (the first event of a stream has revision 0), as in EventStoreDB;
 * - a stream id is `<category>-<id>`; the category is the part before the first '-';
 * - a global position is a pair (commit, prepare) ordered lexicographically, as EventStoreDB's;
 *   the PostgreSQL adapter maps it to (transaction_id, global_position).
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface EventMetadata {
  correlation_id?: string;
  causation_id?: string;
  actor?: string;
  timestamp?: string;
  schema_version?: number;
  [key: string]: unknown;
}

export interface EventData {
  /** UUID, unique in the whole store. Appending the same ids again is idempotent. */
  id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

export interface Position {
  commit: bigint;
  prepare: bigint;
}

export interface RecordedEvent {
  id: string;
  type: string;
  streamId: string;
  /** 0-based revision of this event in its stream. */
  revision: number;
  position: Position;
  data: unknown;
  metadata: EventMetadata;
  createdAt: Date;
}

/** When the event happened: the command's clock (metadata.timestamp) when it is there and valid, else the store's. */
export function occurredAt(event: Pick<RecordedEvent, 'metadata' | 'createdAt'>): Date {
  const given = typeof event.metadata.timestamp === 'string' ? new Date(event.metadata.timestamp) : null;
  return given && !Number.isNaN(given.getTime()) ? given : event.createdAt;
}

/** 'any', 'no_stream', 'stream_exists', or the exact revision of the stream's last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendOptions {
  expectedRevision: ExpectedRevision;
}

/** One stream's part of an appendMany. */
export interface StreamAppend extends AppendOptions {
  streamId: string;
  events: EventData[];
}

export interface AppendResult {
  /** Revision of the last event now in the stream: pass it as expectedRevision for the next append. */
  nextExpectedRevision: number;
  /** Global position of the last appended event. */
  position: Position;
}

export interface EventFilter {
  /** Exact stream ids. */
  streams?: string[];
  /** Categories: stream id prefix before the first '-'. */
  categories?: string[];
  /** Event types. */
  eventTypes?: string[];
}

export interface ReadStreamOptions {
  fromRevision?: number;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. 'start' (default) reads from the beginning. */
  after?: Position | 'start';
  maxCount?: number;
  filter?: EventFilter;
}

export interface SubscribeOptions {
  /** Exclusive starting point, as in ReadAllOptions. */
  after?: Position | 'start';
  filter?: EventFilter;
  /** Largest batch handed to the consumer at once. */
  batchSize?: number;
  /**
   * Never wait for slower subscriptions sharing the end of the log (PostgreSQL, see LogTail): for a follower whose
   * delay is someone's wait, such as the dispatch of notifications. The others keep pace with the slowest.
   */
  leads?: boolean;
}

/**
 * A catch-up subscription: it first yields the history after the starting point, then live events,
 * in batches, in global order. Iteration ends after close().
 */
export interface EventSubscription extends AsyncIterable<RecordedEvent[]> {
  close(): Promise<void>;
}

export interface EventStore {
  append(streamId: string, events: EventData[], options: AppendOptions): Promise<AppendResult>;
  /**
   * Appends to several streams in one call (a campaign requesting thousands of notifications), each checked as append()
   * checks it, with one result per append in the same order. The first append that fails throws as append() would.
   * PostgreSQL and PGlite write all of them in one transaction, or none; KurrentDB has no transaction across streams and
   * appends them one after the other, so a failure there leaves the earlier ones written. Either way, calling again with
   * the same event ids is harmless: appends already stored are repeats.
   */
  appendMany(appends: StreamAppend[]): Promise<AppendResult[]>;
  /** Events of one stream in revision order; an empty array when the stream does not exist. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /**
   * Several whole streams at once (a worker loading the dozens of notifications it was just handed), each in revision
   * order; a stream that does not exist maps to an empty array.
   */
  readStreams(streamIds: string[]): Promise<Map<string, RecordedEvent[]>>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribe(options?: SubscribeOptions): EventSubscription;
  /**
   * Position of the last event committed, or null when the store is empty. Readers reach it once everything before
   * it has committed too, so a follower that has reached it has applied everything written before the call.
   */
  headPosition(): Promise<Position | null>;
  /** Cheap round trip, for the status route. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  readonly code = 'wrong_expected_revision';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Stream ${streamId}: expected revision ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** Some of the event ids of an append already exist, but not as the same append to the same stream. */
export class EventIdConflictError extends Error {
  readonly code = 'event_id_conflict';
  constructor(
    readonly streamId: string,
    readonly eventIds: string[],
  ) {
    super(`Stream ${streamId}: event ids already used elsewhere: ${eventIds.join(', ')}`);
    this.name = 'EventIdConflictError';
  }
}

export function categoryOf(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash === -1 ? streamId : streamId.slice(0, dash);
}

export function comparePositions(a: Position, b: Position): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** Text form used in HTTP responses and query parameters: "<commit>.<prepare>". */
export function formatPosition(position: Position): string {
  return `${position.commit}.${position.prepare}`;
}

export function parsePosition(text: string): Position | null {
  const match = /^(\d{1,20})\.(\d{1,20})$/.exec(text);
  if (!match) return null;
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
}

export function matchesFilter(event: Pick<RecordedEvent, 'streamId' | 'type'>, filter?: EventFilter): boolean {
  if (!filter) return true;
  if (filter.streams && !filter.streams.includes(event.streamId)) return false;
  if (filter.categories && !filter.categories.includes(categoryOf(event.streamId))) return false;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  return true;
}
