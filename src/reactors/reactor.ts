import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventFilter, EventStore, RecordedEvent } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { CheckpointFollower } from '../projections/checkpoint-follower.js';
import { moveCheckpoint } from '../projections/checkpoints.js';
import type { LeaseOptions } from '../projections/follower-lease.js';

/**
 * A reactor turns events into work outside the database: jobs on the message bus, integration events, webhooks.
 * Its effects cannot share a transaction with its checkpoint, so delivery is at-least-once: after a crash the
 * events since the last checkpoint (at most one batch) are handled again. Handlers make that harmless (a bus job's msgId is derived from
 * the event id, so JetStream drops the repeat).
 */
export interface ReactorDefinition {
  /** Unique among reactors: it names the checkpoint row (`reactor:<name>`). */
  readonly name: string;
  readonly filter: EventFilter;
  handle(event: RecordedEvent): Promise<void>;
}

export interface ReactorOptions extends LeaseOptions {
  batchSize?: number;
  retryDelayMs?: number;
  /** Events of one batch handled at once (default 1: in order). Use more only when order does not matter. */
  concurrency?: number;
  /**
   * With concurrency above 1: keep the events of one stream in order (each stream's events one after the other, up to
   * `concurrency` streams at once), for reactors whose readers expect an aggregate's events in the order recorded.
   */
  inOrderPerStream?: boolean;
  /** Never wait for slower followers of the log in this process (see SubscribeOptions.leads). */
  leads?: boolean;
}

export class Reactor extends CheckpointFollower {
  private readonly concurrency: number;
  private readonly inOrderPerStream: boolean;

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
      leases: options.leases,
      leaseRetryMs: options.leaseRetryMs,
      leads: options.leads,
    });
    this.concurrency = options.concurrency ?? 1;
    this.inOrderPerStream = options.inOrderPerStream ?? false;
  }

  protected async handleBatch(batch: RecordedEvent[]): Promise<boolean> {
    const name = `reactor:${this.definition.name}`;
    if (this.inOrderPerStream && this.concurrency > 1) {
      await forEachWithConcurrency([...byStream(batch).values()], this.concurrency, async (events) => {
        for (const event of events) await this.definition.handle(event);
      });
    } else {
      await forEachWithConcurrency(batch, this.concurrency, (event) => this.definition.handle(event));
    }
    // One checkpoint per batch, written even when stopping (the whole batch was handled). After a crash the batch is
    // handled again, which handlers make harmless.
    const last = batch[batch.length - 1]!;
    const next = await moveCheckpoint(this.db, name, this.checkpoint.position, { position: last.position, applied: batch.length, lastEventAt: last.createdAt });
    if (next) this.checkpoint = next;
    return next !== null;
  }
}

/** The batch's events grouped by stream, each group in the batch's (global) order. */
function byStream(batch: RecordedEvent[]): Map<string, RecordedEvent[]> {
  const groups = new Map<string, RecordedEvent[]>();
  for (const event of batch) {
    const group = groups.get(event.streamId);
    if (group) group.push(event);
    else groups.set(event.streamId, [event]);
  }
  return groups;
}

/** Runs fn over items, at most `limit` at a time; the first failure fails the whole batch (it will be retried). */
async function forEachWithConcurrency<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
