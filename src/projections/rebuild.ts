import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventStore } from '../infrastructure/event-store/event-store.js';
import { ensureCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoints.js';
import type { Projection } from './projection.js';
import { applyBatch } from './projector.js';

export interface RebuildResult {
  projection: string;
  events: number;
  durationMs: number;
}

/**
 * Empties a read model and replays every matching event into it. A live projector of the same projection notices
 * that its checkpoint moved and follows from wherever the rebuild leaves it.
 */
export async function rebuildProjection(store: EventStore, db: SharedDatabase, projection: Projection, batchSize = 5000): Promise<RebuildResult> {
  const started = performance.now();
  await ensureCheckpoint(db, projection.name);
  let checkpoint: Checkpoint = { position: null, eventsApplied: 0, lastEventAt: null };
  await db.transaction().execute(async (trx) => {
    await projection.reset(trx);
    await writeCheckpoint(trx, projection.name, checkpoint);
  });
  let events = 0;
  for (;;) {
    const batch = await store.readAll({ after: checkpoint.position ?? 'start', maxCount: batchSize, filter: projection.filter });
    if (batch.length === 0) break;
    const next = await applyBatch(db, projection, checkpoint, batch);
    if (!next) throw new Error(`Rebuild of ${projection.name} interrupted: another rebuild moved its checkpoint`);
    checkpoint = next;
    events += batch.length;
  }
  return { projection: projection.name, events, durationMs: performance.now() - started };
}
