import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventFilter, EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { ensureCheckpoint, readCheckpoint, type Checkpoint } from './checkpoints.js';

/**
 * What projectors and reactors share: follow the event store from a stored checkpoint, and after an error or a lost
 * subscription wait, then resume from the checkpoint as stored. Subclasses say what to do with each batch.
 */
export abstract class CheckpointFollower {
  protected checkpoint: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };
  protected running = false;
  protected lastError: string | null = null;
  private loop: Promise<void> | null = null;
  private stopSubscription: (() => Promise<void>) | null = null;

  protected constructor(
    protected readonly store: EventStore,
    protected readonly db: SharedDatabase,
    protected readonly logger: Logger,
    private readonly follow: { checkpointName: string; filter: EventFilter; batchSize: number; retryDelayMs: number },
  ) {}

  get state(): { checkpoint: Checkpoint; running: boolean; lastError: string | null } {
    return { checkpoint: this.checkpoint, running: this.running, lastError: this.lastError };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await ensureCheckpoint(this.db, this.follow.checkpointName);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
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
      try {
        await this.followOnce();
      } catch (error) {
        this.lastError = (error as Error).message;
        this.logger.error({ err: error, follower: this.follow.checkpointName }, 'event follower failed; resuming from its checkpoint');
        await new Promise((resolve) => setTimeout(resolve, this.follow.retryDelayMs).unref());
      }
    }
  }

  private async followOnce(): Promise<void> {
    this.checkpoint = await readCheckpoint(this.db, this.follow.checkpointName);
    this.onCheckpointLoaded();
    const subscription = this.store.subscribe({
      after: this.checkpoint.position ?? 'start',
      filter: this.follow.filter,
      batchSize: this.follow.batchSize,
    });
    this.stopSubscription = () => subscription.close();
    try {
      for await (const batch of subscription) {
        if (!this.running) return;
        if (!(await this.handleBatch(batch))) {
          this.logger.info({ follower: this.follow.checkpointName }, 'checkpoint moved by another writer; resuming from it');
          return;
        }
        this.lastError = null;
      }
      // The store ended the subscription (closed, or lost): resume after the retry delay, never in a tight loop.
      if (this.running) throw new Error('event subscription ended');
    } finally {
      this.stopSubscription = null;
      await subscription.close();
    }
  }
}
