import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';

/**
 * The health of one external service (a social platform or a notification provider) as operations see it. The
 * heartbeat reports each check; only a crossing is recorded: healthy → failing appends ExternalServiceUnhealthy (the
 * alert), failing → healthy appends ExternalServiceRecovered. Because the state lives in the stream, several worker
 * processes checking the same service, or a restart, raise one alert per outage, not one per check. Circuit breaker
 * transitions are recorded as they happen (each process has its own breakers, so each transition is news).
 */

export function serviceHealthStreamId(service: string): string {
  return `service-health-${service}`;
}

const timestamp = z.iso.datetime({ offset: true });
export const externalServiceKinds = ['platform', 'provider'] as const;
export type ExternalServiceKind = (typeof externalServiceKinds)[number];
/** A provider or platform name from the configuration (sendgrid, twilio, facebook, google_business...). */
const serviceName = z.string().regex(/^[A-Za-z0-9_.-]{1,50}$/);
const kind = z.enum(externalServiceKinds);
export const breakerStates = ['closed', 'open', 'half_open'] as const;
export type CircuitState = (typeof breakerStates)[number];

export const ExternalServiceUnhealthy = defineEvent(
  'ExternalServiceUnhealthy',
  1,
  z.object({
    service: serviceName,
    kind,
    /** The connector's classification (auth, transient, rate_limited...), or null when it gave none (a timeout). */
    error_class: z.string().max(50).nullable(),
    /** What the service answered (never a credential: connectors leave tokens out of their messages). */
    message: z.string().max(2_000),
    detected_at: timestamp,
  }),
);
export const ExternalServiceRecovered = defineEvent(
  'ExternalServiceRecovered',
  1,
  z.object({ service: serviceName, kind, unhealthy_since: timestamp.nullable(), recovered_at: timestamp }),
);
export const CircuitBreakerStateChanged = defineEvent(
  'CircuitBreakerStateChanged',
  1,
  z.object({
    service: serviceName,
    kind,
    /** The platform account the breaker guards (platforms have one breaker per account); null for providers. */
    account: z.string().min(1).max(200).nullable(),
    state: z.enum(breakerStates),
    changed_at: timestamp,
  }),
);

export const serviceHealthEvents = { ExternalServiceUnhealthy, ExternalServiceRecovered, CircuitBreakerStateChanged } satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type ServiceHealthEvent = EventOf<(typeof serviceHealthEvents)[keyof typeof serviceHealthEvents]>;

export type ServiceHealthCommand =
  | { type: 'RecordCheckSucceeded'; service: string; kind: ExternalServiceKind; now: string }
  | { type: 'RecordCheckFailed'; service: string; kind: ExternalServiceKind; error_class: string | null; message: string; now: string }
  | { type: 'RecordBreakerChange'; service: string; kind: ExternalServiceKind; account: string | null; state: CircuitState; now: string };

export interface ServiceHealthState {
  /** unknown until the first failure: a service is presumed healthy, so a first success records nothing. */
  health: 'unknown' | 'healthy' | 'unhealthy';
  unhealthySince: string | null;
}

export const serviceHealthDecider: Decider<ServiceHealthCommand, ServiceHealthEvent, ServiceHealthState> = {
  initialState: () => ({ health: 'unknown', unhealthySince: null }),
  decide(command, state) {
    const { service, kind } = command;
    switch (command.type) {
      case 'RecordCheckFailed':
        if (state.health === 'unhealthy') return [];
        return [{ type: 'ExternalServiceUnhealthy', data: { service, kind, error_class: command.error_class?.slice(0, 50) ?? null, message: command.message.slice(0, 2_000), detected_at: command.now } }];
      case 'RecordCheckSucceeded':
        if (state.health !== 'unhealthy') return [];
        return [{ type: 'ExternalServiceRecovered', data: { service, kind, unhealthy_since: state.unhealthySince, recovered_at: command.now } }];
      case 'RecordBreakerChange':
        return [{ type: 'CircuitBreakerStateChanged', data: { service, kind, account: command.account, state: command.state, changed_at: command.now } }];
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ExternalServiceUnhealthy':
        return { health: 'unhealthy', unhealthySince: event.data.detected_at };
      case 'ExternalServiceRecovered':
        return { health: 'healthy', unhealthySince: null };
      default:
        return state;
    }
  },
};
