import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventFilter, EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { ensureCheckpoint, readCheckpoint, type Checkpoint } from './checkpoints.js';
import { singleProcessLeases, type FollowerLease, type LeaseOptions } from './follower-lease.js';

const defaultLeaseRetryMs = 3_000;

/**
 * What projectors and reactors share: follow the event store from a stored checkpoint, and after an error or a lost
 * subscription wait, then resume from the checkpoint as stored. Subclasses say what to do with each batch.
 *
 * Among processes sharing the database, only the holder of the checkpoint's lease follows; the others stand by and
 * ask again every leaseRetryMs, so one of them takes over when the holder stops or dies.
 */
export abstract class CheckpointFollower {
  protected checkpoint: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };
  protected running = false;
  protected lastError: string | null = null;
  private loop: Promise<void> | null = null;
  private stopSubscription: (() => Promise<void>) | null = null;
  private stopping = new AbortController();
  private leading = false;
  private leaseLost = false;

  protected constructor(
    protected readonly store: EventStore,
    protected readonly db: SharedDatabase,
    protected readonly logger: Logger,
    private readonly follow: { checkpointName: string; filter: EventFilter; batchSize: number; retryDelayMs: number; leads?: boolean } & LeaseOptions,
  ) {}

  /** running: this process follows the events now (a standby waiting for the lease does not). */
  get state(): { checkpoint: Checkpoint; running: boolean; lastError: string | null } {
    return { checkpoint: this.checkpoint, running: this.running && this.leading, lastError: this.lastError };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    await ensureCheckpoint(this.db, this.follow.checkpointName);
    this.loop = this.run();
  }

  /** Finishes the batch under way (its checkpoint is written with it), then gives the lease back. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.stopSubscription?.();
    await this.loop;
    this.loop = null;
  }

  /**
   * Handles one batch. Returns false when the stored checkpoint moved under this instance (another instance or a
   * rebuild): the follower then resumes from the stored checkpoint.
   */
  protected abstract handleBatch(batch: RecordedEvent[]): Promise<boolean>;

  /** Called whenever the in-memory checkpoint was reloaded from the database. */
  protected onCheckpointLoaded(): void {}

  private async run(): Promise<void> {
    while (this.running) {
      const lease = await this.acquireLease();
      if (!lease) return;
      this.leading = true;
      this.leaseLost = false;
      let holding = true;
      void lease.lost.then(() => {
        if (!holding || !this.running) return;
        this.leaseLost = true;
        this.logger.warn({ follower: this.follow.checkpointName }, 'follower lease lost; standing by');
        void this.stopSubscription?.();
      });
      try {
        while (this.running && !this.leaseLost) {
          try {
            await this.followOnce();
          } catch (error) {
            this.lastError = (error as Error).message;
            this.logger.error({ err: error, follower: this.follow.checkpointName }, 'event follower failed; resuming from its checkpoint');
            await this.pause(this.follow.retryDelayMs);
          }
        }
      } finally {
        holding = false;
        this.leading = false;
        await lease.release().catch((error: unknown) => this.logger.warn({ err: error, follower: this.follow.checkpointName }, 'could not release the follower lease'));
      }
      // After losing the lease, stand back one round so that a standby, which has been waiting, takes over.
      if (this.leaseLost) await this.pause(this.follow.leaseRetryMs ?? defaultLeaseRetryMs);
    }
  }

  /** Waits until this process holds the lease; null once stopped. */
  private async acquireLease(): Promise<FollowerLease | null> {
    const leases = this.follow.leases ?? singleProcessLeases;
    let standingBy = false;
    while (this.running) {
      try {
        const lease = await leases.tryAcquire(this.follow.checkpointName);
        if (lease) {
          if (!this.running) {
            await lease.release();
            return null;
          }
          if (standingBy) this.logger.info({ follower: this.follow.checkpointName }, 'follower lease acquired; taking over');
          return lease;
        }
        if (!standingBy) {
          standingBy = true;
          this.logger.info({ follower: this.follow.checkpointName }, 'another process follows this checkpoint; standing by');
        }
        // A standby shows the stored checkpoint (status, read positions), not the one it last applied itself.
        this.checkpoint = await readCheckpoint(this.db, this.follow.checkpointName);
        this.onCheckpointLoaded();
      } catch (error) {
        this.logger.warn({ err: error, follower: this.follow.checkpointName }, 'could not ask for the follower lease; will retry');
      }
      await this.pause(this.follow.leaseRetryMs ?? defaultLeaseRetryMs);
    }
    return null;
  }

  /** A delay that stop() cuts short. */
  private pause(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async followOnce(): Promise<void> {
    this.checkpoint = await readCheckpoint(this.db, this.follow.checkpointName);
    this.onCheckpointLoaded();
    const subscription = this.store.subscribe({
      after: this.checkpoint.position ?? 'start',
      filter: this.follow.filter,
      batchSize: this.follow.batchSize,
      leads: this.follow.leads,
    });
    this.stopSubscription = () => subscription.close();
    try {
      // stop() or a lost lease may have come while subscribing, before there was a subscription to close.
      if (!this.running || this.leaseLost) return;
      for await (const batch of subscription) {
        if (!this.running || this.leaseLost) return;
        if (!(await this.handleBatch(batch))) {
          this.logger.info({ follower: this.follow.checkpointName }, 'checkpoint moved by another writer; resuming from it');
          return;
        }
        this.lastError = null;
      }
      // The store ended the subscription (closed, or lost): resume after the retry delay, never in a tight loop.
      if (this.running && !this.leaseLost) throw new Error('event subscription ended');
    } finally {
      this.stopSubscription = null;
      await subscription.close();
    }
  }
}
