import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { comparePositions, type Position } from '../infrastructure/event-store/event-store.js';
import { readCheckpoint } from './checkpoints.js';
import type { Projector } from './projector.js';

/**
 * What position each read model reflects, and waiting for one (read-your-writes). A projection this process follows
 * answers from memory; one followed by another process (a projector process, or the lease holder while this one
 * stands by) is polled through its checkpoint row.
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
    const projector = this.followedHere(projection);
    if (projector) return projector.position;
    return (await readCheckpoint(this.db, projection)).position;
  }

  async waitFor(projection: string, position: Position, timeoutMs: number): Promise<boolean> {
    const projector = this.followedHere(projection);
    if (projector) return projector.waitFor(position, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = (await readCheckpoint(this.db, projection)).position;
      if (current && comparePositions(current, position) >= 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, this.pollIntervalMs));
    }
  }

  private followedHere(projection: string): Projector | undefined {
    const projector = this.local.get(projection);
    return projector?.state.running ? projector : undefined;
  }
}
