import { expect } from 'vitest';
import { fold, type Decider, type DomainEvent } from '../../src/domain/decider.js';
import { DomainError, type DomainErrorDetail } from '../../src/domain/domain-error.js';
import type { EventCatalogue } from '../../src/domain/event-schema.js';

/**
 * given(decider, pastEvents).when(command).then(expectedEvents) / .thenThrows(code, details?)
 * The state is folded from the past events with the decider's own evolve, as the command handler will do.
 */
export function given<C, E, S>(decider: Decider<C, E, S>, events: E[] = []) {
  return {
    when(command: C) {
      const run = (): E[] => decider.decide(command, fold(decider, events));
      return {
        /** Asserts the command gives exactly these events (none: []); returns them. */
        then(expected: E[]): E[] {
          const actual = run();
          expect(actual).toEqual(expected);
          return actual;
        },
        /** Asserts the command throws a DomainError with this code (and these details, if given); returns it. */
        thenThrows(code: string, details?: Partial<DomainErrorDetail>[]): DomainError {
          let actual: E[];
          try {
            actual = run();
          } catch (error) {
            if (!(error instanceof DomainError)) throw error;
            expect(error.code).toBe(code);
            if (details) {
              expect(error.details).toEqual(expect.arrayContaining(details.map((d) => expect.objectContaining(d))));
            }
            return error;
          }
          throw new Error(`expected DomainError ${code}, got events ${JSON.stringify(actual)}`);
        },
      };
    },
  };
}

/** The decider, plus `emitted`: every event its decide has returned (to check them all against the catalogue). */
export function recording<C, E, S>(decider: Decider<C, E, S>): Decider<C, E, S> & { emitted: E[] } {
  const emitted: E[] = [];
  return {
    initialState: () => decider.initialState(),
    evolve: (state, event) => decider.evolve(state, event),
    decide(command, state) {
      const events = decider.decide(command, state);
      emitted.push(...events);
      return events;
    },
    emitted,
  };
}

/** Runs commands one after the other from an empty stream, folding each result in; returns every event. */
export function run<C, E, S>(decider: Decider<C, E, S>, commands: C[]): E[] {
  const events: E[] = [];
  let state = decider.initialState();
  for (const command of commands) {
    for (const event of decider.decide(command, state)) {
      events.push(event);
      state = decider.evolve(state, event);
    }
  }
  return events;
}

/**
 * Every event is in the catalogue, its data parses with the event's schema to the same value (so what is stored is
 * already canonical) and survives a JSON round trip (the store keeps JSON).
 */
export function expectConformToCatalogue(catalogue: EventCatalogue, events: DomainEvent[]): void {
  for (const event of events) {
    const definition = catalogue[event.type];
    expect(definition, `${event.type} is not in the catalogue`).toBeDefined();
    const result = definition!.schema.safeParse(event.data);
    expect(result.error?.issues ?? [], `${event.type} does not parse`).toEqual([]);
    expect(result.data, `${event.type} is not canonical`).toEqual(event.data);
    expect(JSON.parse(JSON.stringify(event.data)), `${event.type} is not plain JSON`).toEqual(event.data);
  }
}

/** A small seeded PRNG (mulberry32): random command sequences that replay identically. */
export function randomGenerator(seed: number): { int(max: number): number; pick<T>(items: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (max: number): number => Math.floor(next() * max);
  return { int, pick: (items) => items[int(items.length)]! };
}

/**
 * Applies random commands to one stream: each either throws a DomainError (nothing else may be thrown) or gives events
 * that are folded in. `check` sees each state transition; returns every event emitted.
 */
export function randomWalk<C, E, S>(
  decider: Decider<C, E, S>,
  nextCommand: (state: S, step: number) => C,
  steps: number,
  check: (before: S, after: S, events: E[]) => void = () => {},
): E[] {
  const all: E[] = [];
  let state = decider.initialState();
  for (let step = 0; step < steps; step++) {
    const command = nextCommand(state, step);
    let events: E[];
    try {
      events = decider.decide(command, state);
    } catch (error) {
      if (error instanceof DomainError) continue;
      throw error;
    }
    const after = events.reduce((s, e) => decider.evolve(s, e), state);
    check(state, after, events);
    all.push(...events);
    state = after;
  }
  return all;
}
