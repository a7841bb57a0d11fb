import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { formatPosition, parsePosition, type Position } from '../../infrastructure/event-store/event-store.js';

interface FanoutProgressTable {
  campaign_fanout_progress: {
    campaign_id: string;
    /** Position of the last notification request the fan-out appended (its original position, for a repeat). */
    last_position: string;
    /** Requests the last fan-out found in the store (new or repeated). */
    requested: number;
    updated_at: Date;
  };
}

export const campaignFanoutProgressMigrations: Record<string, Migration> = {
  '0210_campaign_fanout_progress': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('campaign_fanout_progress')
        .ifNotExists()
        .addColumn('campaign_id', 'uuid', (c) => c.primaryKey())
        .addColumn('last_position', 'text', (c) => c.notNull())
        .addColumn('requested', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
        .execute();
    },
  },
};

/**
 * How far a campaign's fan-out got in the event store: the position of the last notification it requested. A
 * cancellation waits for the notifications read model to reach it, so that every request is there to be canceled (a
 * projection's checkpoint moves only with the events it follows: the store's head would be no use).
 */
export class CampaignFanoutProgress {
  private readonly db: Kysely<FanoutProgressTable>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<FanoutProgressTable>;
  }

  async record(campaignId: string, position: Position, requested: number): Promise<void> {
    await this.db
      .insertInto('campaign_fanout_progress')
      .values({ campaign_id: campaignId, last_position: formatPosition(position), requested, updated_at: new Date() })
      .onConflict((oc) =>
        oc.column('campaign_id').doUpdateSet((eb) => ({
          last_position: eb.ref('excluded.last_position'),
          requested: eb.ref('excluded.requested'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  async lastPosition(campaignId: string): Promise<Position | null> {
    const row = await this.db.selectFrom('campaign_fanout_progress').select('last_position').where('campaign_id', '=', campaignId).executeTakeFirst();
    return row ? parsePosition(row.last_position) : null;
  }
}
