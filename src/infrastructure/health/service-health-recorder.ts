import { randomUUID } from 'node:crypto';
import { CommandHandler } from '../../commands/command-handler.js';
import {
  serviceHealthDecider,
  serviceHealthEvents,
  serviceHealthStreamId,
  type CircuitState,
  type ExternalServiceKind,
  type ServiceHealthCommand,
  type ServiceHealthEvent,
  type ServiceHealthState,
} from '../../domain/service-health.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Logger } from '../logging/logger.js';

export interface ServiceRef {
  name: string;
  kind: ExternalServiceKind;
}

/**
 * Writes the service-health events: heartbeat results (the decider keeps only crossings) and breaker transitions.
 * Health reporting must never take the service down with it: a failed append is logged, not thrown.
 */
export class ServiceHealthRecorder {
  private readonly handler: CommandHandler<ServiceHealthCommand, ServiceHealthEvent, ServiceHealthState>;
  /** Breaker events, appended one after the other so that the stream keeps the order they happened in. */
  private breakerEvents: Promise<unknown> = Promise.resolve();

  constructor(
    store: EventStore,
    private readonly logger: Logger,
  ) {
    this.handler = new CommandHandler(store, serviceHealthDecider, serviceHealthEvents);
  }

  /** Resolves true once recorded (an alert appended, or none needed); false when the store could not take it. */
  async checked(service: ServiceRef, result: { ok: boolean; errorClass: string | null; message: string | null; at: Date }): Promise<boolean> {
    const now = result.at.toISOString();
    const command: ServiceHealthCommand = result.ok
      ? { type: 'RecordCheckSucceeded', service: service.name, kind: service.kind, now }
      : { type: 'RecordCheckFailed', service: service.name, kind: service.kind, error_class: result.errorClass, message: result.message ?? '', now };
    return this.run(service, command, 'heartbeat');
  }

  /** Called from the breakers' event handlers, which cannot wait: the event is appended in the background. */
  breakerChanged(service: ServiceRef, account: string | null, state: CircuitState): void {
    this.logger.warn({ service: service.name, kind: service.kind, account, state }, 'circuit breaker changed');
    const command: ServiceHealthCommand = { type: 'RecordBreakerChange', service: service.name, kind: service.kind, account, state, now: new Date().toISOString() };
    this.breakerEvents = this.breakerEvents.then(() => this.run(service, command, 'circuit-breaker'));
  }

  /** Waits for the breaker events still being appended (before the store closes). */
  async flush(): Promise<void> {
    await this.breakerEvents;
  }

  private async run(service: ServiceRef, command: ServiceHealthCommand, actor: string): Promise<boolean> {
    const correlationId = `service-health:${randomUUID()}`;
    try {
      await this.handler.handle(serviceHealthStreamId(service.name), command, { correlationId, causationId: correlationId, actor, now: new Date() });
      return true;
    } catch (error) {
      this.logger.error({ err: error, service: service.name, command: command.type }, 'service health event not recorded');
      return false;
    }
  }
}
