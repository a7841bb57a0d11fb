import { EventEmitter } from 'node:events';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { comparePositions, type EventStore, type Position, type RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { CheckpointFollower } from './checkpoint-follower.js';
import { moveCheckpoint, readCheckpoint, samePosition, type Checkpoint } from './checkpoints.js';
import type { LeaseOptions } from './follower-lease.js';
import type { Projection } from './projection.js';

export interface ProjectorOptions extends LeaseOptions {
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
export class Projector extends CheckpointFollower {
  private readonly progress = new EventEmitter();

  constructor(
    store: EventStore,
    db: SharedDatabase,
    readonly projection: Projection,
    logger: Logger,
    private readonly options: ProjectorOptions = {},
  ) {
    super(store, db, logger, {
      checkpointName: projection.name,
      filter: projection.filter,
      batchSize: options.batchSize ?? 500,
      retryDelayMs: options.retryDelayMs ?? 1000,
      leases: options.leases,
      leaseRetryMs: options.leaseRetryMs,
    });
    this.progress.setMaxListeners(0);
  }

  get position(): Position | null {
    return this.checkpoint.position;
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

  protected override onCheckpointLoaded(): void {
    this.progress.emit('progress');
  }

  protected async handleBatch(batch: RecordedEvent[]): Promise<boolean> {
    const applied = await applyBatch(this.db, this.projection, this.checkpoint, batch);
    if (!applied) return false;
    this.checkpoint = applied;
    this.progress.emit('progress');
    if (batch.length < (this.options.batchSize ?? 500) && this.running) await sleep(this.options.settleMs ?? 20);
    return true;
  }

  private reached(position: Position): boolean {
    return this.checkpoint.position !== null && comparePositions(this.checkpoint.position, position) >= 0;
  }
}

/**
 * Applies one batch if the stored checkpoint still equals `from`; returns the new checkpoint, or null when someone
 * else moved it. Shared by the live projector and the rebuild.
 */
export async function applyBatch(db: SharedDatabase, projection: Projection, from: Checkpoint, batch: RecordedEvent[]): Promise<Checkpoint | null> {
  if (batch.length === 0) return from;
  const last = batch[batch.length - 1]!;
  try {
    // The checkpoint moves last, in the same transaction: the batch's writes stand only if it still stood at `from`.
    // Locking it first would give the transaction an id from its first statement, and every reader of the log waits
    // for the oldest transaction id in progress (the fence) - for the whole batch of every projection.
    return await db.transaction().execute(async (trx) => {
      await projection.apply(batch, trx);
      const next = await moveCheckpoint(trx, projection.name, from.position, { position: last.position, applied: batch.length, lastEventAt: last.createdAt });
      if (!next) throw new CheckpointMoved();
      return next;
    });
  } catch (error) {
    if (error instanceof CheckpointMoved) return null;
    // Applied over a read model that someone else was changing at the same moment (a rebuild emptying it): the
    // checkpoint moved too, and the batch is not this follower's to apply any more.
    // (If the checkpoint cannot be read either, the batch's own error is the one to report.)
    const stored = await readCheckpoint(db, projection.name).catch(() => null);
    if (stored && !samePosition(stored.position, from.position)) return null;
    throw error;
  }
}

/** Rolls back a batch whose checkpoint another writer moved meanwhile. */
class CheckpointMoved extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
