import { randomUUID } from 'node:crypto';
import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import { isDomainError } from '../../domain/domain-error.js';
import { composeText } from '../../domain/publication-adaptation.js';
import {
  publicationDecider,
  publicationEvents,
  type Platform,
  type PlatformState,
  type PublicationCommand,
  type PublicationEvent,
  type PublicationState,
  type PublishErrorClass,
} from '../../domain/publication.js';
import {
  connectionStreamId,
  platformConnectionDecider,
  platformConnectionEvents,
  type PlatformConnectionCommand,
  type PlatformConnectionEvent,
  type PlatformConnectionState,
} from '../../domain/platform-connection.js';
import type { BusMessage, Consumer, MessageBus, StopOptions } from '../../infrastructure/bus/message-bus.js';
import type { EventStore, RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { PlatformError, type PublishedPost, type SocialConnector, type SocialPost } from '../../platforms/social/connector.js';
import { publicationJobSubject, type PublicationJob } from './publication-job.js';

export type PublicationConnectors = Partial<Record<Platform, SocialConnector & { readonly isOpen?: boolean }>>;

export interface PublicationWorkerOptions {
  platforms?: Platform[];
  /** Deliveries of one job before it is dead-lettered (the scheduler recovers the platform later). Default 5. */
  maxDeliver?: number;
  backoffMs?: number[];
  /** Jobs handled at once per platform. Default 16. */
  concurrency?: number;
  /** How long a job may stay unacknowledged before the bus gives it to another worker (JetStream). */
  ackWaitMs?: number;
  /** An auth failure retries after this long (the account needs reconnecting). Default 15 min. */
  authRetrySeconds?: number;
  /** How far before the scheduled time the platform is searched for a post we may already have made. Default 5 min. */
  searchMarginMs?: number;
  /** The pause before a failed platform's first retry, doubled for each later one (COMM_PUBLISH_RETRY_BACKOFF_MS). Default: the decider's 60 s. */
  retryBackoffMs?: number;
  /**
   * How long after its start an attempt may still send the call that publishes (COMM_PUBLISH_ATTEMPT_DEADLINE_MS).
   * Default 6 min: Instagram alone may wait 5 min for Meta to process a video. An attempt found without a result is
   * searched for only after this, plus settleMarginMs.
   */
  attemptDeadlineMs?: number;
}

/**
 * After an attempt's deadline, how long its last call that publishes may still make a post: the call's own timeout
 * (10 s), and 20 s for a platform finishing a request it received just before.
 */
const settleMarginMs = 30_000;

/** How long after its start an attempt with this deadline can no longer make a post, and may be searched for. */
export function attemptSettlesAfterMs(attemptDeadlineMs: number): number {
  return attemptDeadlineMs + settleMarginMs;
}

/** The publication's stream. */
export function publicationStreamId(publicationId: string): string {
  return `publication-${publicationId}`;
}

/**
 * The publishing worker: takes a job, loads the publication from its stream and acts on the platform's state there.
 *
 * No duplicate posts: the attempt is recorded (PlatformPublishingStarted) before the platform is called, and it may
 * send the call that publishes only until its deadline (attemptDeadlineMs after its start). When a job finds its
 * platform still publishing once that deadline has passed (a worker died between the call and the recorded result), or
 * starts any attempt after the first, it first asks the platform for a post carrying our exact text made since the
 * scheduled time, and records that post instead of posting again. An answer that may have been lost (timeout after
 * sending) is checked the same way before it is recorded as failed.
 *
 * Results go back as commands on the publication; the decider decides retries (next_attempt_at) and the scheduler
 * re-dispatches when they are due. The bus's own redelivery is for crashes and infrastructure errors.
 */
export class PublicationWorker {
  private readonly handler: CommandHandler<PublicationCommand, PublicationEvent, PublicationState>;
  private readonly connections: CommandHandler<PlatformConnectionCommand, PlatformConnectionEvent, PlatformConnectionState>;
  private readonly consumers: Consumer[] = [];
  /**
   * When each platform's connection was last seen working (its stream says connected). A success within that time
   * does not read the connection stream again: that would be one more read per post on the hot path. The memory is
   * short so that a loss recorded by another worker is still followed by a restore soon after.
   */
  private readonly knownWorking = new Map<Platform, number>();

  constructor(
    store: EventStore,
    private readonly bus: MessageBus,
    private readonly connectors: PublicationConnectors,
    private readonly logger: Logger,
    private readonly options: PublicationWorkerOptions = {},
  ) {
    this.handler = new CommandHandler(store, publicationDecider, publicationEvents);
    this.connections = new CommandHandler(store, platformConnectionDecider, platformConnectionEvents);
  }

  async start(): Promise<void> {
    for (const platform of this.options.platforms ?? (Object.keys(this.connectors) as Platform[])) {
      const consumer = await this.bus.consume<PublicationJob>(
        {
          durable: `publish-${platform}`,
          subjects: [publicationJobSubject(this.bus, platform)],
          maxDeliver: this.options.maxDeliver ?? 5,
          backoffMs: this.options.backoffMs ?? [1_000, 5_000, 30_000, 120_000],
          concurrency: this.options.concurrency ?? 16,
          ...(this.options.ackWaitMs ? { ackWaitMs: this.options.ackWaitMs } : {}),
        },
        (message) => this.handle(message),
      );
      this.consumers.push(consumer);
    }
  }

  /** Stops taking jobs; those under way finish, or are handed back to another worker after handBackAfterMs. */
  async stop(options: StopOptions = {}): Promise<void> {
    await Promise.all(this.consumers.splice(0).map((c) => c.stop(options)));
  }

  async handle(message: BusMessage<PublicationJob>): Promise<void> {
    const { publication_id: id, platform } = message.data;
    const loaded = await this.handler.load(publicationStreamId(id));
    const context: CommandContext = {
      // The scheduler's jobs carry no correlation id (its read model does not keep one): the stream's latest event does.
      correlationId: message.headers['correlation-id'] || latestCorrelationId(loaded.events) || id,
      causationId: message.id,
      actor: 'publication-worker',
      now: new Date(),
    };
    const state = loaded.state;
    if (state.status === 'none') {
      await message.deadLetter(`Publication ${id} does not exist`);
      return;
    }
    const target = state.platforms.find((p) => p.platform === platform);
    if (!target) {
      await message.deadLetter(`Publication ${id} is not for ${platform}`);
      return;
    }
    // Every line about this job carries the correlation id, so one grep follows a publication from its request.
    const log = this.logger.child({ correlation_id: context.correlationId, publication_id: id, platform });
    const attempt = new Attempt(this.handler, id, platform, context, loaded, log, this.options.retryBackoffMs);
    const connector = this.connectors[platform];

    if (target.status === 'publishing') {
      // An attempt without a result: its worker died, or it is still under way. A job that finds it may be the dead
      // worker's own, handed out again, but also a second job for the same platform (the scheduler sends one again
      // when the first waited long in the queue), or the live worker's own job handed out again because the bus lost
      // its keep-alives (a NATS restart). Searching the platform while the attempt may still post would find nothing,
      // and the retry that follows would post a second time. So the search waits until the attempt can no longer
      // post: its deadline, plus the margin of its last call. By then a live attempt has its result.
      const waitMs = this.settledAt(target) - Date.now();
      if (waitMs > 0) {
        await message.nak(waitMs);
        return;
      }
      if (!connector) throw new Error(`${platform} is not configured; cannot check the interrupted attempt`);
      await this.recoverInterrupted(attempt, state, target, connector);
      return;
    }
    if (target.status !== 'scheduled') return; // published, failed or canceled: a repeated job
    const due = Date.parse(target.next_attempt_at ?? state.scheduled_time);
    if (due > Date.now() + 1_000) return; // rescheduled since the job was made: the scheduler sends it again when due
    if (connector?.isOpen) {
      // The platform is failing: wait for the breaker to try again, without spending an attempt.
      await message.nak(30_000);
      return;
    }

    const attemptId = randomUUID();
    const post = this.postOf(state, platform, attemptId);
    let found: PublishedPost | null = null;
    if (connector && target.attempts > 0) {
      // An earlier attempt failed, perhaps after the platform made the post: look before posting again. The look comes
      // before the attempt is recorded: a platform that cannot be asked now costs the job a later delivery, not an
      // attempt, and leaves no attempt "publishing" behind it.
      try {
        found = await this.findPublished(attempt, connector, post, this.searchSince(state));
      } catch (error) {
        if (!(error instanceof PlatformError)) throw error;
        await message.nak(error.details.retryAfterMs ?? (error.details.platformCode === 'circuit_open' ? 30_000 : 5_000));
        return;
      }
    }
    try {
      post.publishBy = await attempt.start(attemptId, this.attemptDeadlineMs);
    } catch (error) {
      // Another worker started this platform in the meantime (the same job handed out twice): it owns the attempt.
      if (isDomainError(error)) return;
      throw error;
    }
    if (!connector) {
      await attempt.failed({ error_class: 'permanent', message: `${platform} is not configured in platforms.json`, retryable: false });
      return;
    }
    if (found) {
      await attempt.published(found);
      return;
    }
    await this.publish(attempt, connector, post, state);
  }

  private async publish(attempt: Attempt, connector: SocialConnector, post: SocialPost, state: Exclude<PublicationState, { status: 'none' }>): Promise<void> {
    let result: PublishedPost;
    try {
      result = await timedCall(attempt.log, 'publish', () => connector.publish(post));
    } catch (error) {
      if (!(error instanceof PlatformError)) throw error;
      await this.recordFailure(attempt, connector, post, state, error);
      return;
    }
    await attempt.published(result);
    await this.reportConnection({ type: 'ReportConnectionWorking', platform: connector.platform, account: connector.account, now: new Date().toISOString() }, attempt.context);
  }

  private async recordFailure(
    attempt: Attempt,
    connector: SocialConnector,
    post: SocialPost,
    state: Exclude<PublicationState, { status: 'none' }>,
    error: PlatformError,
  ): Promise<void> {
    const platform = connector.platform;
    if (error.errorClass === 'unknown_outcome' || error.errorClass === 'duplicate') {
      // The post may exist (our call reached the platform, or an earlier attempt did): ask before deciding. A
      // duplicate refusal may name the post (LinkedIn), which the platform's recent posts may no longer include.
      const found = await this.findPublished(attempt, connector, post, this.searchSince(state), error.details.existingPostId);
      if (found) {
        await attempt.published(found);
        return;
      }
    }
    attempt.log.warn({ error_class: error.errorClass }, `publishing failed: ${error.message}`);
    switch (error.errorClass) {
      case 'auth':
        await this.reportConnection(
          { type: 'ReportAuthorizationFailure', platform, account: connector.account, message: error.message, publication_id: attempt.publicationId, now: new Date().toISOString() },
          attempt.context,
        );
        await attempt.failed({ error_class: 'auth', message: error.message, retryable: true, retry_after_seconds: this.options.authRetrySeconds ?? 900 });
        return;
      case 'permanent':
      case 'duplicate':
        await attempt.failed({ error_class: 'permanent', message: error.message, retryable: false });
        return;
      case 'rate_limited':
        await attempt.failed({ error_class: 'rate_limited', message: error.message, retryable: true, ...retryAfter(error) });
        return;
      default:
        await attempt.failed({ error_class: 'transient', message: error.message, retryable: true, ...retryAfter(error) });
    }
  }

  /** A job found the platform publishing: the worker that started the attempt died (or its job was lost). */
  private async recoverInterrupted(attempt: Attempt, state: Exclude<PublicationState, { status: 'none' }>, target: PlatformState, connector: SocialConnector): Promise<void> {
    attempt.attemptId = target.attempt_id!;
    const found = await this.findPublished(attempt, connector, this.postOf(state, target.platform, attempt.attemptId), this.searchSince(state));
    if (found) {
      attempt.log.info('interrupted attempt had posted: recorded');
      await attempt.published(found);
      return;
    }
    await attempt.failed({ error_class: 'transient', message: 'The attempt was interrupted before its result was recorded; no post was found on the platform', retryable: true });
  }

  private postOf(state: Exclude<PublicationState, { status: 'none' }>, platform: Platform, attemptId: string): SocialPost {
    return {
      publicationId: state.publication_id,
      attemptId,
      title: state.content.title,
      text: composeText(state.content, platform),
      mediaUrls: state.content.media_urls,
    };
  }

  /** Asks the platform for a post of ours it may already have (logged like every platform call). */
  private findPublished(attempt: Attempt, connector: SocialConnector, post: SocialPost, since: Date, namedPostId?: string): Promise<PublishedPost | null> {
    return timedCall(attempt.log, 'findPublished', () => connector.findPublished(post, since, namedPostId));
  }

  private get attemptDeadlineMs(): number {
    return this.options.attemptDeadlineMs ?? 360_000;
  }

  /**
   * When the attempt under way can no longer make a post: its recorded deadline, or for an attempt recorded without
   * one (before 0.7.0), its start plus this worker's deadline; then the margin of its last call.
   */
  private settledAt(target: PlatformState): number {
    const recorded = Date.parse(target.publish_by ?? '');
    if (!Number.isNaN(recorded)) return recorded + settleMarginMs;
    const startedAt = Date.parse(target.started_at ?? '');
    return Number.isNaN(startedAt) ? 0 : startedAt + attemptSettlesAfterMs(this.attemptDeadlineMs);
  }

  private searchSince(state: Exclude<PublicationState, { status: 'none' }>): Date {
    return new Date(Date.parse(state.scheduled_time) - (this.options.searchMarginMs ?? 300_000));
  }

  private async reportConnection(command: PlatformConnectionCommand, context: CommandContext): Promise<void> {
    const working = command.type === 'ReportConnectionWorking';
    if (working && (this.knownWorking.get(command.platform) ?? 0) > Date.now()) return;
    if (!working) this.knownWorking.delete(command.platform);
    try {
      await this.connections.handle(connectionStreamId(command.platform), command, context);
      if (working) this.knownWorking.set(command.platform, Date.now() + KNOWN_WORKING_MS);
    } catch (error) {
      // Two workers reporting at once: one of them recorded it.
      this.logger.debug({ err: error }, 'connection state not recorded');
    }
  }
}

const KNOWN_WORKING_MS = 60_000;

function retryAfter(error: PlatformError): { retry_after_seconds?: number } {
  return error.details.retryAfterMs === undefined ? {} : { retry_after_seconds: Math.ceil(error.details.retryAfterMs / 1_000) };
}

/** The correlation id of the publication's latest event: the request (schedule, reschedule...) behind this job. */
function latestCorrelationId(events: RecordedEvent[]): string | undefined {
  const id = events[events.length - 1]?.metadata.correlation_id;
  return typeof id === 'string' && id ? id : undefined;
}

/** One line per platform call, with its duration and outcome; the job's logger carries the correlation id. */
async function timedCall<T>(log: Logger, operation: 'publish' | 'findPublished', call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    log.info({ operation, duration_ms: Math.round(performance.now() - started) }, 'platform call answered');
    return result;
  } catch (error) {
    const errorClass = error instanceof PlatformError ? error.errorClass : 'unexpected';
    log.warn({ operation, error_class: errorClass, duration_ms: Math.round(performance.now() - started) }, 'platform call failed');
    throw error;
  }
}

/** One attempt's commands on the publication, each decided on the state the previous one left. */
class Attempt {
  attemptId = '';
  private known: { state: PublicationState; revision: number } | undefined;

  constructor(
    private readonly handler: CommandHandler<PublicationCommand, PublicationEvent, PublicationState>,
    readonly publicationId: string,
    private readonly platform: Platform,
    readonly context: CommandContext,
    loaded: { state: PublicationState; revision: number },
    readonly log: Logger,
    private readonly retryBackoffMs: number | undefined,
  ) {
    this.known = loaded;
  }

  /** Records the attempt with its deadline, deadlineMs from now, and answers that deadline. */
  async start(attemptId: string, deadlineMs: number): Promise<Date> {
    this.attemptId = attemptId;
    const now = new Date();
    const publishBy = new Date(now.getTime() + deadlineMs);
    await this.run({
      type: 'StartPlatformPublishing',
      publication_id: this.publicationId,
      platform: this.platform,
      attempt_id: attemptId,
      publish_by: publishBy.toISOString(),
      now: now.toISOString(),
    });
    return publishBy;
  }

  async published(post: PublishedPost): Promise<void> {
    await this.run({
      type: 'RecordPlatformPublished',
      publication_id: this.publicationId,
      platform: this.platform,
      attempt_id: this.attemptId,
      post_id: post.postId,
      ...(post.url ? { post_url: post.url } : {}),
      now: new Date().toISOString(),
    });
  }

  async failed(failure: { error_class: PublishErrorClass; message: string; retryable: boolean; retry_after_seconds?: number }): Promise<void> {
    await this.run({
      type: 'RecordPlatformFailed',
      publication_id: this.publicationId,
      platform: this.platform,
      attempt_id: this.attemptId,
      ...failure,
      ...(this.retryBackoffMs === undefined ? {} : { retry_backoff_ms: this.retryBackoffMs }),
      now: new Date().toISOString(),
    });
  }

  /** Other platforms of the publication append to the same stream: the handler decides again after a conflict. */
  private async run(command: PublicationCommand): Promise<void> {
    const result = await this.handler.handle(publicationStreamId(this.publicationId), command, { ...this.context, now: new Date() }, this.known ? { loaded: this.known } : {});
    this.known = { state: result.state, revision: result.revision };
  }
}
