import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { Migration } from 'kysely/migration';
import type { EventFilter, RecordedEvent } from '../infrastructure/event-store/event-store.js';

/**
 * A projection turns events into read-model rows. The projector hands it batches in global order and commits
 * apply() together with the checkpoint, so a batch is applied exactly once even if the process dies mid-way.
 */
export interface Projection {
  readonly name: string;
  readonly filter: EventFilter;
  /** Kysely migrations creating its tables; names must sort after the shared ones (0001…). */
  readonly migrations: Record<string, Migration>;
  /** Removes every row it wrote (for a rebuild). */
  reset(trx: SharedDatabase): Promise<void>;
  apply(events: RecordedEvent[], trx: SharedDatabase): Promise<void>;
}
