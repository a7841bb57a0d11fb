import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus instruments, on a registry of their own (one per app: tests run several apps in one
 * process, and the default global registry would refuse the second set of names). Every label value comes from a
 * closed set — route patterns, command types, provider and platform names from the configuration, error classes —
 * never an id, a recipient or a raw URL, so the number of series stays bounded.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'comm_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'comm_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern and method',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly commands = new Counter({
    name: 'comm_commands_total',
    help: 'Commands handled, by command type and outcome (appended, unchanged, conflict, rejected, failed)',
    labelNames: ['command', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly commandDuration = new Histogram({
    name: 'comm_command_duration_seconds',
    help: 'Time to load, decide and append one command, retries included',
    labelNames: ['command'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly appends = new Counter({
    name: 'comm_event_store_appends_total',
    help: 'Appends to the event store, by outcome (ok, conflict, error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly appendedEvents = new Counter({
    name: 'comm_event_store_appended_events_total',
    help: 'Events in successful appends (an idempotent repeat of an append counts again)',
    registers: [this.registry],
  });
  readonly appendDuration = new Histogram({
    name: 'comm_event_store_append_duration_seconds',
    help: 'Time of one append to the event store',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  readonly externalCallDuration = new Histogram({
    name: 'comm_external_call_duration_seconds',
    help: 'Calls to notification providers and social platforms, by kind, service and operation',
    labelNames: ['kind', 'service', 'operation'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly externalCallErrors = new Counter({
    name: 'comm_external_call_errors_total',
    help: 'Failed calls to notification providers and social platforms, by error class',
    labelNames: ['kind', 'service', 'operation', 'error_class'] as const,
    registers: [this.registry],
  });

  readonly breakerTransitions = new Counter({
    name: 'comm_circuit_breaker_transitions_total',
    help: 'Circuit breaker state changes, by the state entered',
    labelNames: ['kind', 'service', 'state'] as const,
    registers: [this.registry],
  });

  // Read at scrape time (see scraped-gauges.ts): what they show is the state now, not a count.
  readonly breakerState = gauge(this.registry, 'comm_circuit_breaker_state', 'Circuit breaker state: 0 closed, 1 half open, 2 open', ['kind', 'service']);
  readonly serviceUp = gauge(this.registry, 'comm_external_service_up', 'Result of the last heartbeat check: 1 answered, 0 failed', ['kind', 'service']);
  readonly serviceCheckedAt = gauge(this.registry, 'comm_external_service_last_check_timestamp_seconds', 'When the last heartbeat check ended (Unix time)', ['kind', 'service']);
  readonly followerLagEvents = gauge(this.registry, 'comm_follower_lag_events', 'Events a projection or reactor has still to handle (counted up to 1000)', ['kind', 'name']);
  readonly followerLagSeconds = gauge(this.registry, 'comm_follower_lag_seconds', 'Age of the oldest event a projection or reactor has still to handle', ['kind', 'name']);
  readonly queuePending = gauge(this.registry, 'comm_queue_pending_messages', 'Jobs waiting for a first delivery, by work queue', ['queue']);
  readonly queueAckPending = gauge(this.registry, 'comm_queue_ack_pending_messages', 'Jobs delivered and not settled yet, by work queue', ['queue']);
  readonly queueRedelivered = gauge(this.registry, 'comm_queue_redelivered_messages', 'Jobs delivered more than once and not settled yet, by work queue', ['queue']);
  readonly queueDeadLetters = gauge(this.registry, 'comm_queue_dead_letters', 'Dead-lettered jobs waiting for an operator, by work queue', ['queue']);
  readonly deadLetters = gauge(this.registry, 'comm_dead_letters', 'Every dead-lettered job waiting for an operator', []);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}
