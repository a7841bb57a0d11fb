import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { comparePositions, type EventFilter, type EventStore, type Position } from '../infrastructure/event-store/event-store.js';
import { readAllCheckpoints, type Checkpoint } from './checkpoints.js';

/** A projection or reactor whose progress operations watch. */
export interface FollowedCheckpoint {
  kind: 'projection' | 'reactor';
  name: string;
  /** Its row in projection_checkpoints (`<projection>` or `reactor:<name>`). */
  checkpointName: string;
  filter: EventFilter;
  /** The instance in this process, when there is one: fresher than the stored row, and it knows its last error. */
  local?: { readonly state: { checkpoint: Checkpoint; running: boolean; lastError: string | null } };
}

export interface FollowerLag {
  kind: 'projection' | 'reactor';
  name: string;
  runningHere: boolean;
  position: Position | null;
  eventsApplied: number;
  /** Events it has still to handle, counted up to the cap. */
  pendingEvents: number;
  pendingCapped: boolean;
  /** Age of the oldest event it has still to handle; 0 when caught up. */
  lagMs: number;
  lastError: string | null;
}

/**
 * How far behind the store's head each follower is. A follower at the head costs no read; one behind costs one
 * filtered read of at most `cap` events, so the status route and a metrics scrape stay cheap however far behind it is.
 */
export async function measureFollowerLag(
  store: EventStore,
  db: SharedDatabase,
  followers: FollowedCheckpoint[],
  options: { cap?: number; head?: Position | null; now?: () => number } = {},
): Promise<FollowerLag[]> {
  const cap = options.cap ?? 1_000;
  const now = options.now ?? Date.now;
  const [stored, head] = await Promise.all([readAllCheckpoints(db), options.head !== undefined ? options.head : store.headPosition()]);
  return Promise.all(
    followers.map(async (follower) => {
      const local = follower.local?.state;
      const checkpoint = local?.checkpoint ?? stored.get(follower.checkpointName) ?? { position: null, eventsApplied: 0, lastEventAt: null };
      const atHead = head === null || (checkpoint.position !== null && comparePositions(checkpoint.position, head) >= 0);
      const pending = atHead ? [] : await store.readAll({ after: checkpoint.position ?? 'start', filter: follower.filter, maxCount: cap });
      return {
        kind: follower.kind,
        name: follower.name,
        runningHere: local?.running ?? false,
        position: checkpoint.position,
        eventsApplied: checkpoint.eventsApplied,
        pendingEvents: pending.length,
        pendingCapped: pending.length === cap,
        lagMs: pending[0] ? Math.max(0, now() - pending[0].createdAt.getTime()) : 0,
        lastError: local?.lastError ?? null,
      };
    }),
  );
}
