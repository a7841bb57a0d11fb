import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventFilter, EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { ensureCheckpoint, readCheckpoint, samePosition, writeCheckpoint, type Checkpoint } from '../projections/checkpoints.js';

/**
 * A reactor turns events into work outside the database: jobs on the message bus, integration events, webhooks.
 * Its effects cannot share a transaction with its checkpoint, so delivery is at-least-once: after a crash the
 * events since the last checkpoint are handled again. Handlers make that harmless (a bus job's msgId is derived from
 * the event id, so JetStream drops the repeat).
 */
export interface ReactorDefinition {
  /** Unique among reactors and projections: it names the checkpoint row. */
  readonly name: string;
  readonly filter: EventFilter;
  handle(event: RecordedEvent): Promise<void>;
}

export interface ReactorOptions {
  batchSize?: number;
  retryDelayMs?: number;
}

export class Reactor {
  private running = false;
  private loop: Promise<void> | null = null;
  private stopSubscription: (() => Promise<void>) | null = null;
  private checkpoint: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };
  private lastError: string | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly db: SharedDatabase,
    readonly definition: ReactorDefinition,
    private readonly logger: Logger,
    private readonly options: ReactorOptions = {},
  ) {}

  get state(): { checkpoint: Checkpoint; running: boolean; lastError: string | null } {
    return { checkpoint: this.checkpoint, running: this.running, lastError: this.lastError };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await ensureCheckpoint(this.db, this.checkpointName);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopSubscription?.();
    await this.loop;
    this.loop = null;
  }

  private get checkpointName(): string {
    return `reactor:${this.definition.name}`;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.followOnce();
      } catch (error) {
        this.lastError = (error as Error).message;
        this.logger.error({ err: error, reactor: this.definition.name }, 'reactor failed; resuming from its checkpoint');
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs ?? 1000).unref());
      }
    }
  }

  private async followOnce(): Promise<void> {
    this.checkpoint = await readCheckpoint(this.db, this.checkpointName);
    const subscription = this.store.subscribe({
      after: this.checkpoint.position ?? 'start',
      filter: this.definition.filter,
      batchSize: this.options.batchSize ?? 100,
    });
    this.stopSubscription = () => subscription.close();
    try {
      for await (const batch of subscription) {
        for (const event of batch) {
          if (!this.running) return;
          await this.definition.handle(event);
          // A checkpoint per event: a crash repeats at most the one event whose effect may already have happened.
          const next: Checkpoint = { position: event.position, eventsApplied: this.checkpoint.eventsApplied + 1, lastEventAt: event.createdAt };
          const moved = await this.db.transaction().execute(async (trx) => {
            const stored = await readCheckpoint(trx, this.checkpointName, true);
            if (!samePosition(stored.position, this.checkpoint.position)) return true;
            await writeCheckpoint(trx, this.checkpointName, next);
            return false;
          });
          if (moved) return; // another instance handled it: follow from the stored checkpoint
          this.checkpoint = next;
          this.lastError = null;
        }
      }
      // The store ended the subscription (closed, or lost): resume after the retry delay, never in a tight loop.
      if (this.running) throw new Error('event subscription ended');
    } finally {
      this.stopSubscription = null;
      await subscription.close();
    }
  }
}
