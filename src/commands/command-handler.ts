import { createHash } from 'node:crypto';
import type { Decider, DomainEvent } from '../domain/decider.js';
import { isDomainError } from '../domain/domain-error.js';
import type { EventCatalogue } from '../domain/event-schema.js';
import {
  WrongExpectedRevisionError,
  type EventData,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../infrastructure/event-store/event-store.js';
import { newId } from '../infrastructure/ids/new-id.js';

/** Who asked, and why: copied into the metadata of every event the command appends. */
export interface CommandContext {
  correlationId: string;
  /** The message that caused this command (request id, or the id of an event for a reactor). */
  causationId: string;
  actor: string;
  now: Date;
}

export interface HandleOptions<State = unknown> {
  /** The client's view of the stream (If-Match): the command is refused on mismatch instead of retried. */
  expectedRevision?: number;
  /** The command creates its stream: skip the read and append with no_stream. */
  creates?: boolean;
  /**
   * Derive the event ids from this seed instead of drawing them: the same external message (a provider's event id,
   * say) handled twice then appends the same ids, and the store answers the second time without writing.
   */
  eventIdSeed?: string;
  /** The stream as the caller just loaded it (load()): saves reading it again. A conflict still reloads. */
  loaded?: { state: State; revision: number };
}

export interface HandleResult<State> {
  state: State;
  /** Revision of the stream's last event after the command, -1 for an empty stream. */
  revision: number;
  /** Position of the last appended event, or null when the command changed nothing. */
  position: Position | null;
  appended: number;
}

export interface CommandObservation {
  /** The command's type (a closed set of names). */
  command: string;
  outcome: 'appended' | 'unchanged' | 'conflict' | 'rejected' | 'failed';
  durationMs: number;
}

// Enough for a burst of writers on one stream; the jittered pause spreads them so that they stop colliding.
const maxAttempts = 10;

/**
 * load stream → decide → append with the expected revision. A concurrent writer makes the append fail with
 * WrongExpectedRevisionError; the command is then decided again on the fresh state, a bounded number of times,
 * after a short random pause.
 */
export class CommandHandler<Command, Event extends DomainEvent, State> {
  /** Told of every handled command, whichever handler ran it (the metrics module subscribes); must not throw. */
  static readonly observers = new Set<(observation: CommandObservation) => void>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<Command, Event, State>,
    private readonly catalogue: EventCatalogue,
  ) {}

  async handle(streamId: string, command: Command, context: CommandContext, options: HandleOptions<State> = {}): Promise<HandleResult<State>> {
    if (CommandHandler.observers.size === 0) return this.decideAndAppend(streamId, command, context, options);
    const started = performance.now();
    const report = (outcome: CommandObservation['outcome']) => {
      const observation = { command: commandName(command), outcome, durationMs: performance.now() - started };
      for (const observer of CommandHandler.observers) observer(observation);
    };
    try {
      const result = await this.decideAndAppend(streamId, command, context, options);
      report(result.appended > 0 ? 'appended' : 'unchanged');
      return result;
    } catch (error) {
      report(error instanceof WrongExpectedRevisionError ? 'conflict' : isDomainError(error) ? 'rejected' : 'failed');
      throw error;
    }
  }

  private async decideAndAppend(streamId: string, command: Command, context: CommandContext, options: HandleOptions<State>): Promise<HandleResult<State>> {
    let assumeNew = options.creates === true;
    let known = options.loaded;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = assumeNew ? { state: this.decider.initialState(), revision: -1 } : (known ?? (await this.load(streamId)));
      known = undefined;
      if (options.expectedRevision !== undefined && options.expectedRevision !== revision) {
        throw new WrongExpectedRevisionError(streamId, options.expectedRevision, revision < 0 ? 'no_stream' : revision);
      }
      const events = this.decider.decide(command, state);
      if (events.length === 0) return { state, revision, position: null, appended: 0 };
      try {
        const ids = events.map((_, index) => (options.eventIdSeed ? seededUuid(`${options.eventIdSeed}#${index}`) : newId()));
        const result = await this.store.append(streamId, events.map((e, index) => this.toEventData(e, context, ids[index]!)), {
          expectedRevision: revision < 0 ? 'no_stream' : revision,
        });
        const next = events.reduce((s, e) => this.decider.evolve(s, e), state);
        return { state: next, revision: result.nextExpectedRevision, position: result.position, appended: events.length };
      } catch (error) {
        const retryable = error instanceof WrongExpectedRevisionError && options.expectedRevision === undefined;
        if (!retryable || attempt >= maxAttempts) throw error;
        assumeNew = false;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
      }
    }
  }

  async load(streamId: string): Promise<{ state: State; revision: number; events: RecordedEvent[] }> {
    const events = await this.store.readStream(streamId);
    let state = this.decider.initialState();
    for (const event of events) state = this.decider.evolve(state, toDomainEvent<Event>(event));
    return { state, revision: events.length === 0 ? -1 : events[events.length - 1]!.revision, events };
  }

  /** The event as the store takes it, validated against its schema, with the command's metadata. */
  toEventData(event: Event, context: CommandContext, id: string): EventData {
    const definition = this.catalogue[event.type];
    if (!definition) throw new Error(`Event type ${event.type} is not in the catalogue`);
    // Validating on the way in keeps a decider bug from storing an event that readers cannot parse.
    const data = definition.schema.parse(event.data);
    return {
      id,
      type: event.type,
      data,
      metadata: {
        correlation_id: context.correlationId,
        causation_id: context.causationId,
        actor: context.actor,
        timestamp: context.now.toISOString(),
        schema_version: definition.version,
      },
    };
  }
}

function commandName(command: unknown): string {
  const type = (command as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : 'unknown';
}

export function toDomainEvent<Event extends DomainEvent>(event: RecordedEvent): Event {
  return { type: event.type, data: event.data } as Event;
}

/** A UUID (RFC 9562 version 8) derived from a string. */
export function seededUuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
