import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { comparePositions, type Position } from '../infrastructure/event-store/event-store.js';
import { readCheckpoint } from './checkpoints.js';
import type { Projector } from './projector.js';

/**
 * What position each read model reflects, and waiting for one (read-your-writes). A projection running in this
 * process answers from memory; one running in a separate projector process is polled through its checkpoint row.
 */
export class ReadPositions {
  private readonly local = new Map<string, Projector>();

  constructor(
    private readonly db: SharedDatabase,
    projectors: Projector[],
    private readonly pollIntervalMs = 25,
  ) {
    for (const projector of projectors) this.local.set(projector.projection.name, projector);
  }

  async current(projection: string): Promise<Position | null> {
    const projector = this.local.get(projection);
    if (projector) return projector.position;
    return (await readCheckpoint(this.db, projection)).position;
  }

  async waitFor(projection: string, position: Position, timeoutMs: number): Promise<boolean> {
    const projector = this.local.get(projection);
    if (projector) return projector.waitFor(position, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = (await readCheckpoint(this.db, projection)).position;
      if (current && comparePositions(current, position) >= 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }
}
