import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventFilter, EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { CheckpointFollower } from '../projections/checkpoint-follower.js';
import { readCheckpoint, samePosition, writeCheckpoint, type Checkpoint } from '../projections/checkpoints.js';

/**
 * A reactor turns events into work outside the database: jobs on the message bus, integration events, webhooks.
 * Its effects cannot share a transaction with its checkpoint, so delivery is at-least-once: after a crash the
 * events since the last checkpoint are handled again. Handlers make that harmless (a bus job's msgId is derived from
 * the event id, so JetStream drops the repeat).
 */
export interface ReactorDefinition {
  /** Unique among reactors: it names the checkpoint row (`reactor:<name>`). */
  readonly name: string;
  readonly filter: EventFilter;
  handle(event: RecordedEvent): Promise<void>;
}

export interface ReactorOptions {
  batchSize?: number;
  retryDelayMs?: number;
}

export class Reactor extends CheckpointFollower {
  constructor(
    store: EventStore,
    db: SharedDatabase,
    readonly definition: ReactorDefinition,
    logger: Logger,
    options: ReactorOptions = {},
  ) {
    super(store, db, logger, {
      checkpointName: `reactor:${definition.name}`,
      filter: definition.filter,
      batchSize: options.batchSize ?? 100,
      retryDelayMs: options.retryDelayMs ?? 1000,
    });
  }

  protected async handleBatch(batch: RecordedEvent[]): Promise<boolean> {
    const name = `reactor:${this.definition.name}`;
    for (const event of batch) {
      if (!this.running) return true;
      await this.definition.handle(event);
      // A checkpoint per event: a crash repeats at most the one event whose effect may already have happened.
      const next: Checkpoint = { position: event.position, eventsApplied: this.checkpoint.eventsApplied + 1, lastEventAt: event.createdAt };
      const saved = await this.db.transaction().execute(async (trx) => {
        const stored = await readCheckpoint(trx, name, true);
        if (!samePosition(stored.position, this.checkpoint.position)) return false;
        await writeCheckpoint(trx, name, next);
        return true;
      });
      if (!saved) return false;
      this.checkpoint = next;
    }
    return true;
  }
}
