import { sql } from 'kysely';
import type { Platform } from '../../domain/publication-events.js';
import type { MessageBus } from '../../infrastructure/bus/message-bus.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { publicationJobSubject, type PublicationJob } from './publication-job.js';

export interface PublicationSchedulerOptions {
  /** How often due rows are looked for when the last look found few. Default 200 ms. */
  pollIntervalMs?: number;
  /** Rows claimed per look. Default 500. */
  batchSize?: number;
  /** A claimed row still scheduled after this long is dispatched again (its job was lost). Default 60 s. */
  redispatchAfterMs?: number;
  /**
   * An attempt that has been publishing this long without a result is handed to a worker to recover, and again each
   * time this much more has passed. The app sets it a minute past the attempt deadline
   * (COMM_PUBLISH_ATTEMPT_DEADLINE_MS). Default 10 min.
   */
  stuckAfterMs?: number;
  now?: () => Date;
}

/** Jobs of one look published at once: a backlog of thousands of due platforms goes out in seconds. */
const PUBLISH_CONCURRENCY = 16;

/**
 * Turns due publications into jobs on per-platform subjects (comm.jobs.publish.<platform>). It reads the
 * publication_schedule read model, so posts whose time passed while the service was down go out at start-up.
 *
 * Rows are claimed with FOR UPDATE SKIP LOCKED, so several schedulers share the work without handing a row out twice;
 * a first dispatch's msgId is (publication, platform, attempt) so the bus drops a repeat. Sending twice is prevented by
 * the worker, which acts only on the platform's state in its event stream.
 */
export class PublicationScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Set by stop(): a look under way publishes no more jobs. */
  private stopping = false;
  private ticking: Promise<void> | null = null;
  private readonly options: Required<Omit<PublicationSchedulerOptions, 'now'>> & { now: () => Date };

  constructor(
    private readonly db: SharedDatabase,
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    options: PublicationSchedulerOptions = {},
  ) {
    this.options = {
      pollIntervalMs: options.pollIntervalMs ?? 200,
      batchSize: options.batchSize ?? 500,
      redispatchAfterMs: options.redispatchAfterMs ?? 60_000,
      stuckAfterMs: options.stuckAfterMs ?? 600_000,
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
    await this.ticking;
  }

  /**
   * One look: dispatches what is due; returns how many rows were claimed. Once stop() is called no more jobs go out:
   * rows claimed and not sent keep their mark and are sent again when it goes stale (redispatchAfterMs), by the next
   * scheduler to look, rather than holding the shutdown up while a backlog is published.
   */
  async tick(): Promise<number> {
    const now = this.options.now();
    const due = await this.claim(now, 'scheduled');
    const stuck = await this.claim(now, 'publishing');
    const jobs = [
      ...due.map((row) => () => {
        const first = row.previously_dispatched === null;
        return this.publish(row, 'due', first ? `${row.publication_id}:${row.platform}:${row.attempts + 1}` : `${row.publication_id}:${row.platform}:${row.attempts + 1}:${now.getTime()}`);
      }),
      ...stuck.map((row) => () => {
        this.logger.warn({ publication_id: row.publication_id, platform: row.platform }, 'publishing attempt without a result: recovering');
        return this.publish(row, 'recover', `${row.publication_id}:${row.platform}:${row.attempts}:recover:${now.getTime()}`);
      }),
    ];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(PUBLISH_CONCURRENCY, jobs.length) }, async () => {
        while (next < jobs.length && !this.stopping) await jobs[next++]!();
      }),
    );
    return due.length + stuck.length;
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .then((count) => this.schedule(count >= this.options.batchSize ? 0 : this.options.pollIntervalMs))
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'publication scheduler tick failed; retrying');
          this.schedule(Math.max(this.options.pollIntervalMs, 1_000));
        });
    }, delayMs);
  }

  private async publish(row: ClaimedRow, reason: PublicationJob['reason'], msgId: string): Promise<void> {
    const job: PublicationJob = { publication_id: row.publication_id, platform: row.platform as Platform, reason };
    // No correlation-id header: the schedule read model does not keep the request's, and the publication id would
    // hide it. The worker takes it from the publication's stream.
    await this.bus.publish(publicationJobSubject(this.bus, job.platform), job, { msgId });
  }

  /**
   * Marks up to batchSize rows as dispatched and returns them. Scheduled rows are due when due_at has passed;
   * publishing rows when their attempt started more than stuckAfterMs ago. A mark older than the re-dispatch delay
   * is ignored (that job was lost).
   */
  private async claim(now: Date, status: 'scheduled' | 'publishing'): Promise<ClaimedRow[]> {
    const staleMark = new Date(now.getTime() - (status === 'scheduled' ? this.options.redispatchAfterMs : this.options.stuckAfterMs));
    const dueColumn = status === 'scheduled' ? sql.ref('due_at') : sql.ref('started_at');
    const dueBefore = status === 'scheduled' ? now : new Date(now.getTime() - this.options.stuckAfterMs);
    const result = await sql<ClaimedRow>`
      with candidates as (
        select publication_id, platform, dispatched_at from publication_schedule
        where status = ${status} and ${dueColumn} <= ${dueBefore}
          and (dispatched_at is null or dispatched_at < ${staleMark})
        order by ${dueColumn}
        limit ${this.options.batchSize}
        for update skip locked
      )
      update publication_schedule s set dispatched_at = ${now}
      from candidates c
      where s.publication_id = c.publication_id and s.platform = c.platform
      returning s.publication_id, s.platform, s.attempts, c.dispatched_at as previously_dispatched`.execute(this.db);
    return result.rows;
  }
}

interface ClaimedRow {
  publication_id: string;
  platform: string;
  attempts: number;
  previously_dispatched: Date | null;
}
