import { sql, type Kysely } from 'kysely';
import type { VariantCounts, WinnerChosen } from '../../domain/campaign-experiment.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { ExperimentsTables } from './experiments-tables.js';

export interface ExperimentWindow {
  activated_at: Date | null;
  closed_status: string | null;
}

/** What the experiments read model knows of one campaign: its variants' figures, when it went live, its winners. */
export class ExperimentReader {
  private readonly db: Kysely<ExperimentsTables>;

  constructor(db: SharedDatabase) {
    this.db = db as Kysely<ExperimentsTables>;
  }

  /** Per variant, the figures of its messages in one phase (test: the test share; rest: the winner sent to the rest). */
  async counts(campaignId: string, phase: 'test' | 'rest'): Promise<Map<string, VariantCounts>> {
    const rows = await this.db
      .selectFrom('experiment_notifications')
      .select((eb) => [
        'variant_id',
        eb.fn.countAll<string>().as('requested'),
        sql<string>`count(*) filter (where sent)`.as('sent'),
        sql<string>`count(*) filter (where delivered)`.as('delivered'),
        sql<string>`count(*) filter (where failed)`.as('failed'),
        sql<string>`count(*) filter (where opened)`.as('unique_opens'),
        sql<string>`count(*) filter (where clicked)`.as('unique_clicks'),
        sql<string>`count(*) filter (where converted)`.as('conversions'),
      ])
      .where('campaign_id', '=', campaignId)
      .where('phase', '=', phase)
      .groupBy('variant_id')
      .execute();
    return new Map(
      rows.map((row) => [
        row.variant_id,
        {
          variant_id: row.variant_id,
          requested: Number(row.requested),
          sent: Number(row.sent),
          delivered: Number(row.delivered),
          failed: Number(row.failed),
          unique_opens: Number(row.unique_opens),
          unique_clicks: Number(row.unique_clicks),
          conversions: Number(row.conversions),
        },
      ]),
    );
  }

  async window(campaignId: string): Promise<ExperimentWindow> {
    const row = await this.db.selectFrom('experiment_campaigns').select(['activated_at', 'closed_status']).where('campaign_id', '=', campaignId).executeTakeFirst();
    return row ?? { activated_at: null, closed_status: null };
  }

  /** The recorded winners, by channel index. */
  async decisions(campaignId: string): Promise<Map<number, WinnerChosen>> {
    const rows = await this.db.selectFrom('experiment_decisions').select(['channel_index', 'decision']).where('campaign_id', '=', campaignId).execute();
    return new Map(rows.map((row) => [row.channel_index, row.decision as WinnerChosen]));
  }
}
