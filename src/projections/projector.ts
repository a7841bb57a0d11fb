import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { EventEmitter } from 'node:events';
import { comparePositions, type EventStore, type Position, type RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { ensureCheckpoint, readCheckpoint, samePosition, writeCheckpoint, type Checkpoint } from './checkpoints.js';
import type { Projection } from './projection.js';

export interface ProjectorOptions {
  batchSize?: number;
  /** Pause after an error before resubscribing. */
  retryDelayMs?: number;
  /**
   * After a batch smaller than batchSize (the projection is caught up), wait this long before reading again, so that
   * under a steady stream of commands the projection commits one transaction per few dozen events instead of one
   * per event. It bounds how much later than the command a read model shows it. Default 20 ms.
   */
  settleMs?: number;
}

/**
 * Runs one projection: subscribe after the stored checkpoint, and for each batch commit the read-model changes
 * and the new checkpoint in one transaction. Before applying, the checkpoint row is locked and compared with the
 * position this projector started from: if another projector or a rebuild moved it, the batch is dropped and the
 * projector resumes from the stored checkpoint. So two instances never apply the same batch twice.
 */
export class Projector {
  private readonly progress = new EventEmitter();
  private checkpoint: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };
  private running = false;
  private loop: Promise<void> | null = null;
  private stopSubscription: (() => Promise<void>) | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly db: SharedDatabase,
    readonly projection: Projection,
    private readonly logger: Logger,
    private readonly options: ProjectorOptions = {},
  ) {
    this.progress.setMaxListeners(0);
  }

  get position(): Position | null {
    return this.checkpoint.position;
  }

  get state(): { checkpoint: Checkpoint; running: boolean; lastError: string | null } {
    return { checkpoint: this.checkpoint, running: this.running, lastError: this.lastError };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await ensureCheckpoint(this.db, this.projection.name);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopSubscription?.();
    await this.loop;
    this.loop = null;
  }

  /** Resolves true once the projection has applied everything up to `position`, false on timeout. */
  waitFor(position: Position, timeoutMs: number): Promise<boolean> {
    if (this.reached(position)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onProgress = () => {
        if (!this.reached(position)) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(this.reached(position));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.progress.off('progress', onProgress);
      };
      this.progress.on('progress', onProgress);
    });
  }

  private reached(position: Position): boolean {
    return this.checkpoint.position !== null && comparePositions(this.checkpoint.position, position) >= 0;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.followOnce();
        this.lastError = null;
      } catch (error) {
        this.lastError = (error as Error).message;
        this.logger.error({ err: error, projection: this.projection.name }, 'projection failed; resuming from its checkpoint');
        await sleep(this.options.retryDelayMs ?? 1000);
      }
    }
  }

  /** Follows the store until stopped, or until the stored checkpoint moves under it. */
  private async followOnce(): Promise<void> {
    this.checkpoint = await readCheckpoint(this.db, this.projection.name);
    this.progress.emit('progress');
    const subscription = this.store.subscribe({
      after: this.checkpoint.position ?? 'start',
      filter: this.projection.filter,
      batchSize: this.options.batchSize ?? 500,
    });
    this.stopSubscription = () => subscription.close();
    try {
      for await (const batch of subscription) {
        if (!this.running) break;
        const applied = await applyBatch(this.db, this.projection, this.checkpoint, batch);
        if (!applied) {
          this.logger.info({ projection: this.projection.name }, 'checkpoint moved by another writer; resuming from it');
          return;
        }
        this.checkpoint = applied;
        this.progress.emit('progress');
        const batchSize = this.options.batchSize ?? 500;
        if (batch.length < batchSize && this.running) await sleep(this.options.settleMs ?? 20);
      }
      // The store ended the subscription (closed, or lost): resume after the retry delay, never in a tight loop.
      if (this.running) throw new Error('event subscription ended');
    } finally {
      this.stopSubscription = null;
      await subscription.close();
    }
  }
}

/**
 * Applies one batch if the stored checkpoint still equals `from`; returns the new checkpoint, or null when someone
 * else moved it. Shared by the live projector and the rebuild.
 */
export async function applyBatch(db: SharedDatabase, projection: Projection, from: Checkpoint, batch: RecordedEvent[]): Promise<Checkpoint | null> {
  if (batch.length === 0) return from;
  return db.transaction().execute(async (trx) => {
    const stored = await readCheckpoint(trx, projection.name, true);
    if (!samePosition(stored.position, from.position)) return null;
    await projection.apply(batch, trx);
    const last = batch[batch.length - 1]!;
    const next: Checkpoint = { position: last.position, eventsApplied: stored.eventsApplied + batch.length, lastEventAt: last.createdAt };
    await writeCheckpoint(trx, projection.name, next);
    return next;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
