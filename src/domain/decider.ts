/**
 * A decider is the whole behaviour of one aggregate, without I/O:
 * decide(command, state) gives the events that the command causes (or throws a DomainError),
 * evolve(state, event) folds one event into the state, initialState() is the state of a stream with no events.
 */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** A domain event as the deciders see it: a type tag and its payload. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

export function fold<Command, Event, State>(decider: Decider<Command, Event, State>, events: Event[]): State {
  return events.reduce((state, event) => decider.evolve(state, event), decider.initialState());
}
