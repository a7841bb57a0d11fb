import type { Kysely } from 'kysely';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { NotificationsTable } from '../../projections/notifications/notifications-table.js';

/**
 * A campaign's notifications still pending, from the notifications read model, in pages (keyset on the id): what a
 * cancellation has left to stop. The revision is the stream's, for the cancellation's expected revision.
 */
export class PendingCampaignNotifications {
  private readonly db: Kysely<NotificationsTable>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<NotificationsTable>;
  }

  async *pages(campaignId: string, pageSize: number): AsyncGenerator<{ notification_id: string; revision: number }[]> {
    let after: string | null = null;
    for (;;) {
      let query = this.db
        .selectFrom('notifications')
        .select(['id', 'revision'])
        .where('campaign_id', '=', campaignId)
        .where('status', '=', 'pending')
        .orderBy('id')
        .limit(pageSize);
      if (after !== null) query = query.where('id', '>', after);
      const rows = await query.execute();
      if (rows.length === 0) return;
      yield rows.map((row) => ({ notification_id: row.id, revision: row.revision }));
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1]!.id;
    }
  }
}
