import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import { isDomainError } from '../../domain/domain-error.js';
import {
  engagementDecider,
  engagementEvents,
  engagementStreamId,
  type EngagementCommand,
  type EngagementEvent,
  type EngagementState,
} from '../../domain/engagement.js';
import type { Platform } from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { PlatformError, type SocialConnector } from '../../platforms/social/connector.js';
import type { EngagementTable } from '../../projections/engagement/engagement-table.js';

export interface EngagementPollerOptions {
  /** Between two polls of a post published more than a day ago. Default 15 min. */
  intervalMs?: number;
  /** Between two polls of a post published less than a day ago, whose engagement moves fastest. Default 5 min. */
  recentIntervalMs?: number;
  /** Posts published within this many days are polled. Default 7. */
  windowDays?: number;
  /** fetchMetrics calls in flight at once, all platforms together. Default 3. */
  concurrency?: number;
  /** How long stop() waits for the calls under way: a platform slow to answer must not hold the shutdown up. Default 2 s. */
  stopGraceMs?: number;
  now?: () => Date;
}

export interface PollOutcome {
  /** Posts asked for their counters. */
  polled: number;
  /** EngagementMeasured events recorded (counters that changed). */
  recorded: number;
  /** Posts whose platform could not be asked, or whose answer was refused. */
  failed: number;
}

interface PostRow {
  publication_id: string;
  platform: string;
  post_id: string;
  published_at: Date;
}

const DAY_MS = 24 * 3_600_000;
/** Rows read per round: far above what a restaurant publishes in a week. */
const MAX_POSTS_PER_ROUND = 2_000;
const MAX_LOGGED_MESSAGE_LENGTH = 500;

/**
 * Polls the platforms' insights for the counters of our recent posts and records them as EngagementMeasured
 * (source insights). Posts come from the publication_engagement read model; a post younger than a day is asked more
 * often. The decider records only counters that changed, so an idle post costs an API call and nothing more.
 *
 * A platform that fails is logged and skipped: for one post when the failure is about that post, for the rest of the
 * round when the platform refuses us (auth, rate limit). Nothing thrown by a platform stops the loop.
 */
export class EngagementPoller {
  private readonly handler: CommandHandler<EngagementCommand, EngagementEvent, EngagementState>;
  private readonly options: Required<Omit<EngagementPollerOptions, 'now'>> & { now: () => Date };
  /** When each post (`publication platform`) was last asked, in this process. */
  private readonly lastPolled = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Set by stop(): a round in progress starts no more calls. */
  private stopping = false;
  private ticking: Promise<unknown> | null = null;

  constructor(
    store: EventStore,
    private readonly db: SharedDatabase,
    private readonly connectors: Partial<Record<Platform, SocialConnector>>,
    private readonly logger: Logger,
    options: EngagementPollerOptions = {},
  ) {
    this.handler = new CommandHandler(store, engagementDecider, engagementEvents);
    const intervalMs = options.intervalMs ?? 15 * 60_000;
    this.options = {
      intervalMs,
      recentIntervalMs: Math.min(options.recentIntervalMs ?? 5 * 60_000, intervalMs),
      windowDays: options.windowDays ?? 7,
      concurrency: Math.max(1, options.concurrency ?? 3),
      stopGraceMs: options.stopGraceMs ?? 2_000,
      now: options.now ?? (() => new Date()),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A call under way that answers later is dropped (its post is asked again next round): timeouts and retries inside
    // one call can take longer than the whole shutdown may.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.stopGraceMs)));
    await Promise.race([this.ticking, grace]);
    clearTimeout(timer);
  }

  /** One round: asks every post that is due. */
  async tick(): Promise<PollOutcome> {
    const outcome: PollOutcome = { polled: 0, recorded: 0, failed: 0 };
    const platforms = (Object.keys(this.connectors) as Platform[]).filter((p) => this.connectors[p]);
    if (platforms.length === 0) return outcome;
    const now = this.options.now();
    const posts = await this.recentPosts(platforms, now);
    this.forgetOlderThan(posts);
    const due = posts.filter((post) => this.isDue(post, now));
    const refused = new Set<string>();
    const correlationId = `engagement-poll:${randomUUID()}`;
    await forEachLimited(due, this.options.concurrency, async (post) => {
      if (this.stopping || refused.has(post.platform)) return;
      outcome.polled++;
      const result = await this.poll(post, { correlationId, causationId: correlationId, actor: 'engagement-poller', now: this.options.now() });
      if (result === 'refused') refused.add(post.platform);
      if (result === 'recorded') outcome.recorded++;
      if (result === 'failed' || result === 'refused') outcome.failed++;
      // A post whose platform refused us is asked again next round, not after a full interval.
      if (result !== 'refused') this.lastPolled.set(keyOf(post), now.getTime());
    });
    return outcome;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.ticking = this.tick()
        .catch((error: unknown) => this.logger.error({ err: error }, 'engagement poll round failed; trying again next round'))
        .finally(() => this.schedule(this.options.recentIntervalMs));
    }, delayMs);
  }

  private async poll(post: PostRow, context: CommandContext): Promise<'recorded' | 'unchanged' | 'failed' | 'refused'> {
    const platform = post.platform as Platform;
    const connector = this.connectors[platform]!;
    const where = { publication_id: post.publication_id, platform, post_id: post.post_id };
    try {
      const metrics = await connector.fetchMetrics(post.post_id);
      const result = await this.handler.handle(
        engagementStreamId(post.publication_id),
        { type: 'RecordEngagementMeasured', ...where, metrics, source: 'insights', now: context.now.toISOString() },
        context,
      );
      return result.appended > 0 ? 'recorded' : 'unchanged';
    } catch (error) {
      if (error instanceof PlatformError) {
        const refused = error.errorClass === 'auth' || error.errorClass === 'rate_limited';
        this.logger.warn(
          { ...where, error_class: error.errorClass, error: brief(error.message) },
          refused ? 'platform refused the insights request; platform skipped for this round' : 'insights request failed; post skipped for this round',
        );
        return refused ? 'refused' : 'failed';
      }
      if (isDomainError(error)) {
        this.logger.warn({ ...where, code: error.code, details: error.details }, 'platform counters refused; post skipped for this round');
        return 'failed';
      }
      // Only the message: an HTTP client's error object may carry the request headers, i.e. the access token.
      this.logger.warn({ ...where, error: brief(error instanceof Error ? error.message : String(error)) }, 'insights poll failed; post skipped for this round');
      return 'failed';
    }
  }

  private async recentPosts(platforms: Platform[], now: Date): Promise<PostRow[]> {
    const since = new Date(now.getTime() - this.options.windowDays * DAY_MS);
    return (this.db as Kysely<EngagementTable>)
      .selectFrom('publication_engagement')
      .select(['publication_id', 'platform', 'post_id', 'published_at'])
      .where('platform', 'in', platforms)
      .where('published_at', '>=', since)
      .orderBy('published_at', 'desc')
      .limit(MAX_POSTS_PER_ROUND)
      .execute();
  }

  private isDue(post: PostRow, now: Date): boolean {
    const last = this.lastPolled.get(keyOf(post));
    if (last === undefined) return true;
    const young = now.getTime() - post.published_at.getTime() < DAY_MS;
    return now.getTime() - last >= (young ? this.options.recentIntervalMs : this.options.intervalMs);
  }

  /** Drops the memory of posts that left the window, so the map stays as small as the window. */
  private forgetOlderThan(posts: PostRow[]): void {
    const current = new Set(posts.map(keyOf));
    for (const key of this.lastPolled.keys()) if (!current.has(key)) this.lastPolled.delete(key);
  }
}

function keyOf(post: Pick<PostRow, 'publication_id' | 'platform'>): string {
  return `${post.publication_id} ${post.platform}`;
}

function brief(message: string): string {
  return message.length > MAX_LOGGED_MESSAGE_LENGTH ? `${message.slice(0, MAX_LOGGED_MESSAGE_LENGTH - 1)}…` : message;
}

/** Runs fn over items, at most `limit` at a time. fn must not throw. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
