/**
 * Pure translations between the EventStore port and the KurrentDB client (@kurrent/kurrentdb-client 1.x).
 * No I/O here: the adapter (kurrentdb-event-store.ts) does the calls, these functions do the mapping, so they can be
 * unit-tested without a server.
 */
import {
  ANY,
  ErrorType,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  eventTypeFilter,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type Filter,
  type JSONEventData,
  type JSONType,
  type ReadPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import {
  WrongExpectedRevisionError,
  comparePositions,
  matchesFilter,
  type EventData,
  type EventFilter,
  type EventMetadata,
  type ExpectedRevision,
  type Position,
  type RecordedEvent,
} from './event-store.js';

// --- revisions ---

/** Port expected revision → the client's `streamState`. Throws RangeError on anything else. */
export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'stream_exists') return STREAM_EXISTS;
  if (typeof expected === 'number') return toClientRevision(expected, 'expected revision');
  throw new RangeError(`unknown expected revision ${String(expected)}`);
}

/** A 0-based port revision (a safe integer >= 0) → the client's bigint. */
export function toClientRevision(revision: number, what = 'revision'): bigint {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new RangeError(`${what} must be a revision (integer >= 0), got ${String(revision)}`);
  }
  return BigInt(revision);
}

/** A client revision (bigint) → the port's number. Throws beyond Number.MAX_SAFE_INTEGER rather than lose digits. */
export function toRevisionNumber(revision: bigint): number {
  if (revision < 0n || revision > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`stream revision ${revision} is out of the port's range`);
  }
  return Number(revision);
}

/** Port maxCount → a count of events to return; null means no limit. */
export function limitOf(maxCount: number | undefined): number | null {
  return maxCount === undefined ? null : Math.max(0, Math.floor(maxCount));
}

// --- positions ---

/** Port `after` (exclusive) → the client's `fromPosition`. The caller still drops events at or before `after`. */
export function toReadPosition(after: Position | 'start' | undefined): ReadPosition {
  return after === undefined || after === 'start' ? START : { commit: after.commit, prepare: after.prepare };
}

/**
 * True when `position` is strictly after `after`. The client's fromPosition is inclusive on reads of $all (and
 * a catch-up subscription may be either, depending on the server), so every consumer filters with this.
 */
export function isAfter(position: Position, after: Position | 'start' | undefined): boolean {
  return after === undefined || after === 'start' || comparePositions(position, after) > 0;
}

// --- filters ---

/** System events: a type or a stream starting with '$' ($metadata, $>, $stats-..., $$stream, $ce-..., ...). */
export function isSystemEvent(event: Pick<RecordedEvent, 'streamId' | 'type'>): boolean {
  return event.type.startsWith('$') || event.streamId.startsWith('$');
}

/** What the port lets through: never a system event, and the filter's conditions (all of them). */
export function isVisible(event: Pick<RecordedEvent, 'streamId' | 'type'>, filter?: EventFilter): boolean {
  return !isSystemEvent(event) && matchesFilter(event, filter);
}

/** A filter with an empty list can match nothing: readers short-circuit instead of scanning $all. */
export function matchesNothing(filter?: EventFilter): boolean {
  return !!filter && [filter.streams, filter.categories, filter.eventTypes].some((list) => list?.length === 0);
}

/** Escapes a literal for a .NET (server-side) regular expression; the syntax used here is shared with JavaScript. */
export function escapeRegex(literal: string): string {
  return literal.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

/** Regex matching user stream names only: system streams start with '$'. */
export const USER_STREAMS_REGEX = '^[^$]';

/**
 * The server-side filter for a port filter. KurrentDB takes one filter, on stream names or on event types, so it
 * narrows on the most selective part only (streams, else categories, else event types, else "no system streams"):
 * it is a superset of the port filter, and callers apply isVisible() to every event as well.
 * A category matches `${category}-...` and also the stream named exactly `${category}` (categoryOf() has no dash).
 */
export function toServerFilter(filter?: EventFilter): Filter {
  const alternatives = (values: string[]) => values.map(escapeRegex).join('|');
  if (filter?.streams) return streamNameFilter({ regex: `^(?:${alternatives(filter.streams)})$` });
  if (filter?.categories) return streamNameFilter({ regex: `^(?:${alternatives(filter.categories)})(?:-|$)` });
  if (filter?.eventTypes) return eventTypeFilter({ regex: `^(?:${alternatives(filter.eventTypes)})$` });
  return streamNameFilter({ regex: USER_STREAMS_REGEX });
}

// --- events ---

/** Port EventData → client EventData: JSON data and metadata, the port's id as the event id. */
export function toEventData(event: EventData): JSONEventData {
  return {
    id: event.id,
    contentType: 'application/json',
    type: event.type,
    // The client JSON.stringify()s both; JSON has no undefined, null is the closest.
    data: (event.data === undefined ? null : event.data) as JSONType,
    metadata: (event.metadata ?? {}) as JSONType,
  };
}

/**
 * A client resolved event (from readStream, readAll or subscribeToAll) → the port's RecordedEvent; null when it
 * carries no event. Position: the event's own; servers before 22.6 omit it on stream reads, then the commit position
 * stands for both parts.
 */
export function toRecordedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | null {
  const event = resolved.event;
  if (!event) return null;
  const position =
    event.position ??
    (resolved.commitPosition !== undefined
      ? { commit: resolved.commitPosition, prepare: resolved.commitPosition }
      : undefined);
  if (!position) throw new Error(`KurrentDB returned event ${event.id} of ${event.streamId} without a position`);
  return {
    id: event.id,
    type: event.type,
    streamId: event.streamId,
    revision: toRevisionNumber(event.revision),
    position: { commit: position.commit, prepare: position.prepare },
    data: event.data,
    metadata: toMetadata(event.metadata),
    createdAt: event.created,
  };
}

function toMetadata(metadata: unknown): EventMetadata {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || metadata instanceof Uint8Array) {
    return {};
  }
  return metadata as EventMetadata;
}

// --- errors ---

export function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return error instanceof WrongExpectedVersionError || errorType(error) === ErrorType.WRONG_EXPECTED_VERSION;
}

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof StreamNotFoundError || errorType(error) === ErrorType.STREAM_NOT_FOUND;
}

/** Timeouts of an append (the server drops a repeat of a write it has not indexed yet): safe to retry, ids are fixed. */
export function isTimeout(error: unknown): boolean {
  const type = errorType(error);
  return type === ErrorType.DEADLINE_EXCEEDED || type === ErrorType.TIMEOUT;
}

function errorType(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { type?: unknown }).type : undefined;
}

/** The actual revision in a client WrongExpectedVersionError: 'no_stream' for a missing (or deleted) stream. */
export function actualRevisionOf(error: WrongExpectedVersionError): number | 'no_stream' {
  const actual: unknown = error.actualState;
  return typeof actual === 'bigint' && actual >= 0n ? toRevisionNumber(actual) : 'no_stream';
}

export function toWrongExpectedRevisionError(
  error: WrongExpectedVersionError,
  streamId: string,
  expected: ExpectedRevision,
): WrongExpectedRevisionError {
  return new WrongExpectedRevisionError(streamId, expected, actualRevisionOf(error));
}

/**
 * What a rejected append (wrong expected version) means, given the events now in the stream:
 * - none of its ids are there: a real conflict of revisions;
 * - all of them, in order, one after the other: a repeat of an append that succeeded, whose result is the last one's;
 * - some of them: the ids are taken by other events (EventIdConflictError).
 * KurrentDB itself only recognises a repeat at the same expected revision (or with 'any'); this makes a retry with
 * another expectation (e.g. 'no_stream' after the stream moved on) idempotent too, as the port wants.
 */
export type ConflictDiagnosis =
  | { kind: 'wrong_revision' }
  | { kind: 'repeat'; last: Pick<RecordedEvent, 'revision' | 'position'> }
  | { kind: 'id_conflict'; eventIds: string[] };

export function diagnoseConflict(
  ids: string[],
  streamEvents: Pick<RecordedEvent, 'id' | 'revision' | 'position'>[],
): ConflictDiagnosis {
  const byId = new Map(streamEvents.map((e) => [e.id, e]));
  const found = ids.filter((id) => byId.has(id));
  if (found.length === 0) return { kind: 'wrong_revision' };
  if (found.length === ids.length) {
    const first = byId.get(ids[0]!)!;
    const consecutive = ids.every((id, i) => byId.get(id)!.revision === first.revision + i);
    if (consecutive) return { kind: 'repeat', last: byId.get(ids[ids.length - 1]!)! };
  }
  return { kind: 'id_conflict', eventIds: found };
}

export function duplicateIds(ids: string[]): string[] {
  return [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
}
