import type { CommandContext } from '../../commands/command-handler.js';
import type { MessageKind } from '../../domain/consent.js';
import type { ConsentPolicy } from '../../platforms/notifications/compliance/consent-policy.js';
import { CommandHandler } from '../../commands/command-handler.js';
import { isDomainError } from '../../domain/domain-error.js';
import { notificationStreamId } from '../../commands/notification-routes.js';
import { RecipientSuppressor } from '../../commands/recipient-suppressor.js';
import {
  notificationDecider,
  notificationEvents,
  type NotificationCommand,
  type NotificationErrorClass,
  type NotificationEvent,
  type NotificationFields,
  type NotificationState,
} from '../../domain/notification.js';
import type { BusMessage, Consumer, MessageBus, StopOptions } from '../../infrastructure/bus/message-bus.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { ProviderError, type NotificationChannel, type OutgoingMessage } from '../../platforms/notifications/provider.js';
import { isCircuitOpen, type ProviderRouter, type RoutedResult } from '../../platforms/notifications/provider-router.js';
import { notificationJobSubject, type NotificationJob } from './notification-dispatch.js';

/** Turns a pending notification into the message to send (template rendering lives behind this). */
export interface NotificationRenderer {
  render(notification: NotificationFields): Promise<OutgoingMessage>;
}

/** A render failure that no retry can fix: unknown template, missing variable. */
export class RenderError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RenderError';
  }
}

export interface NotificationWorkerOptions {
  channels?: NotificationChannel[];
  /** Deliveries of one job before it is dead-lettered and the notification marked failed. */
  maxDeliver?: number;
  backoffMs?: number[];
  concurrency?: number;
  /** How long a job may stay unacknowledged before the bus gives it to another worker (JetStream). */
  ackWaitMs?: number;
  /**
   * How long a job waits, kept alive, while the circuit of every provider of its channel is open, before it counts as
   * a failed attempt. Default 90 s: three times a breaker's default reset (30 s), room for a trial call that fails.
   */
  circuitHoldMs?: number;
  /** Checked before rendering: consent, suppressions, quiet hours (platforms/notifications/compliance/consent-policy.ts). */
  consent?: { policy: ConsentPolicy; kindOf(notification: NotificationFields): Promise<MessageKind> };
}

/**
 * The worker: takes a job, loads the notification from its stream, renders it, sends it through the provider router,
 * and records the outcome as a command on the notification — the decider decides what the result means.
 * A notification that is no longer pending (a job delivered twice) is acknowledged without sending.
 */
export class NotificationWorker {
  private readonly handler: CommandHandler<NotificationCommand, NotificationEvent, NotificationState>;
  private readonly consumers: Consumer[] = [];
  private readonly suppressor: RecipientSuppressor;
  private stopping = false;

  constructor(
    private readonly store: EventStore,
    private readonly bus: MessageBus,
    private readonly router: ProviderRouter,
    private readonly renderer: NotificationRenderer,
    private readonly logger: Logger,
    private readonly options: NotificationWorkerOptions = {},
  ) {
    this.handler = new CommandHandler(store, notificationDecider, notificationEvents);
    this.suppressor = new RecipientSuppressor(store);
  }

  async start(): Promise<void> {
    for (const channel of this.options.channels ?? (['email', 'sms', 'push'] as const)) {
      const consumer = await this.bus.consume<NotificationJob>(
        {
          durable: `notify-${channel}`,
          subjects: [notificationJobSubject(this.bus, channel)],
          // One delivery more than the attempts: a job whose worker died on its last attempt comes back once more, to
          // be recorded as failed instead of dead-lettered with the notification left pending.
          maxDeliver: (this.options.maxDeliver ?? 5) + 1,
          backoffMs: this.options.backoffMs ?? [1_000, 5_000, 30_000, 120_000],
          // Many at once: their reads, consent checks, provider calls (SendGrid batches them) and results each share a
          // round trip, so throughput grows with this until the provider's rate limit holds it back.
          concurrency: this.options.concurrency ?? 256,
          // A job acked only after its result is recorded: if the ack is lost, the job comes back, finds the
          // notification no longer pending and does nothing. Not waiting for the server saves a round trip per job.
          confirmAcks: false,
          ...(this.options.ackWaitMs ? { ackWaitMs: this.options.ackWaitMs } : {}),
        },
        (message) => this.handle(message),
      );
      this.consumers.push(consumer);
    }
  }

  /** Stops taking jobs; those under way finish, or are handed back to another worker after handBackAfterMs. */
  async stop(options: StopOptions = {}): Promise<void> {
    this.stopping = true;
    await Promise.all(this.consumers.splice(0).map((c) => c.stop(options)));
  }

  async handle(message: BusMessage<NotificationJob>): Promise<void> {
    const id = message.data.notification_id;
    const context: CommandContext = {
      correlationId: message.headers['correlation-id'] || id,
      causationId: message.id,
      actor: 'notification-worker',
      now: new Date(),
    };
    // Every line about this job carries the request's correlation id, so one grep follows it from the API call.
    // Made when a line is written (a child logger serialises its fields at creation; most jobs write nothing).
    let child: Logger | undefined;
    const log = () => (child ??= this.logger.child({ correlation_id: context.correlationId, notification_id: id }));
    const { state, revision } = await this.handler.load(notificationStreamId(id));
    if (state.status !== 'pending') return; // already sent, failed or skipped: nothing to do
    const record = (command: NotificationCommand) =>
      this.handler.handle(notificationStreamId(id), command, Object.assign({}, context, { now: new Date() }), { loaded: { state, revision } });
    const attempts = this.options.maxDeliver ?? 5;
    if (message.deliveryCount > attempts) {
      // Every attempt ended without a result (the worker stopped each time): fail it rather than try forever.
      await record(failed(id, 'transient', `No result after ${attempts} attempts (the worker stopped while sending)`, 'worker'));
      return;
    }

    const consent = this.options.consent;
    if (consent) {
      const decision = await consent.policy.check({ recipient: state.recipient, channel: state.channel, kind: await consent.kindOf(state), at: new Date() });
      if ('skip' in decision) {
        await record({ type: 'SkipNotification', notification_id: id, reason: decision.skip, detail: decision.detail, now: new Date().toISOString() });
        return;
      }
      if ('deferUntil' in decision) {
        // Quiet hours (marketing SMS): back on the queue until a second past the next allowed time, never dropped.
        await message.nak(decision.deferUntil.getTime() - Date.now() + 1_000);
        return;
      }
    }

    let outgoing: OutgoingMessage;
    try {
      outgoing = await this.renderer.render(state);
    } catch (error) {
      if (!(error instanceof RenderError)) throw error;
      await record(failed(id, 'validation', error.message, 'renderer'));
      return;
    }

    const started = performance.now();
    try {
      const result = await this.sendWhenACircuitLetsItThrough(outgoing);
      // Debug: a campaign sends tens of thousands; the notification's history keeps the provider and its message id.
      if (this.logger.isLevelEnabled('debug')) log().debug(
        { channel: outgoing.channel, provider: result.provider, failed_over: result.failedOver, attempt: message.deliveryCount, duration_ms: Math.round(performance.now() - started) },
        'provider accepted the notification',
      );
      // The message has left: a failure to record it now (a dropped database connection) must not hand the job back
      // to be sent again, so the record is retried for a while first.
      await retryWhileStoreFails(() =>
        record({
          type: 'RecordNotificationSent',
          notification_id: id,
          provider: result.provider,
          provider_message_id: result.providerMessageId,
          sent_at: new Date().toISOString(),
          now: new Date().toISOString(),
        }),
      );
    } catch (error) {
      if (!(error instanceof ProviderError)) {
        log().warn({ err: error, channel: outgoing.channel, attempt: message.deliveryCount }, 'provider call failed unexpectedly; will retry');
        throw error;
      }
      const lastAttempt = message.deliveryCount >= (this.options.maxDeliver ?? 5);
      // The provider's message may quote the recipient: the class and status say enough here, the event keeps the rest.
      log().warn(
        {
          channel: outgoing.channel,
          provider: error.provider,
          error_class: error.errorClass,
          status: error.details.status,
          attempt: message.deliveryCount,
          will_retry: error.errorClass !== 'suppressed' && error.errorClass !== 'permanent' && !lastAttempt,
          duration_ms: Math.round(performance.now() - started),
        },
        'provider call failed',
      );
      if (error.errorClass === 'suppressed') {
        // The provider knows the recipient opted out (STOP) or the push subscription is gone: remember it for
        // every later message, then skip this one.
        await this.suppressor.suppress(
          { recipient: state.recipient, channel: state.channel, reason: state.channel === 'sms' ? 'stop' : 'hard_bounce', source: error.provider },
          context,
          `${message.id}:suppress`,
        );
        await record({ type: 'SkipNotification', notification_id: id, reason: 'opted_out', detail: `${error.provider}: ${error.message}`, now: new Date().toISOString() });
        return;
      }
      if (error.errorClass === 'permanent' || lastAttempt) {
        await record(failed(id, errorClassOf(error), error.message, error.provider));
        return;
      }
      // Honour the provider's Retry-After when it gave one; otherwise the bus's backoff applies.
      if (error.details.retryAfterMs !== undefined) {
        await message.nak(error.details.retryAfterMs);
        return;
      }
      throw error;
    }
  }

  /**
   * Sends through the router; while every provider of the channel has its circuit open, the provider has not seen the
   * message, so the job waits (kept alive by the bus) and tries again each second instead of spending one of its
   * attempts on a refusal: an outage of a few minutes would otherwise use up every attempt of every job in flight and
   * fail them all. The worker takes no new jobs meanwhile, as its handlers are all busy. Past circuitHoldMs, or when
   * the worker stops, the refusal counts as a failed attempt like any other.
   */
  private async sendWhenACircuitLetsItThrough(outgoing: OutgoingMessage): Promise<RoutedResult> {
    const holdUntil = Date.now() + (this.options.circuitHoldMs ?? 90_000);
    for (;;) {
      try {
        return await this.router.send(outgoing);
      } catch (error) {
        if (!isCircuitOpen(error) || this.stopping || Date.now() >= holdUntil) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, holdUntil - Date.now())));
      }
    }
  }
}

/** Retries a write the store refused for a reason other than a business rule (connection lost, failover). */
async function retryWhileStoreFails(write: () => Promise<unknown>, pausesMs = [250, 1_000, 2_000, 4_000]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      if (isDomainError(error) || attempt >= pausesMs.length) throw error;
      await new Promise((resolve) => setTimeout(resolve, pausesMs[attempt]));
    }
  }
}

function failed(id: string, errorClass: NotificationErrorClass, text: string, provider: string): NotificationCommand {
  return { type: 'RecordNotificationFailed', notification_id: id, error_class: errorClass, message: text, provider, now: new Date().toISOString() };
}

function errorClassOf(error: ProviderError): NotificationErrorClass {
  switch (error.errorClass) {
    case 'rate_limited':
      return 'rate_limited';
    case 'auth':
      return 'auth';
    case 'permanent':
      return 'permanent';
    default:
      return 'transient';
  }
}
