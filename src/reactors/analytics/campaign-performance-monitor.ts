import { RepeatingRound } from '../../infrastructure/time/repeating-round.js';
import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import { CommandHandler } from '../../commands/command-handler.js';
import {
  campaignPerformanceDecider,
  campaignPerformanceEvents,
  performanceStreamId,
  type CampaignPerformanceEvent,
  type CampaignPerformanceState,
  type EvaluateCampaignPerformance,
} from '../../domain/campaign-performance.js';
import { parseSuccessMetrics, type CampaignFigures } from '../../domain/success-metrics.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { AnalyticsTables } from '../../projections/analytics/analytics-tables.js';

/** The change of each campaign this monitor last judged (analytics_campaigns.changed_seq). */
export interface PerformanceChecksTable {
  campaign_performance_checks: { campaign_id: string; evaluated_seq: string };
}

export const performanceChecksMigrations: Record<string, Migration> = {
  '0201_campaign_performance_checks': {
    async up(db: SharedDatabase) {
      await db.schema
        .createTable('campaign_performance_checks')
        .ifNotExists()
        .addColumn('campaign_id', 'uuid', (c) => c.primaryKey())
        .addColumn('evaluated_seq', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};

export interface CampaignPerformanceMonitorOptions {
  /** Between two looks for campaigns whose figures changed. Default 2 s. */
  intervalMs?: number;
  /** Campaigns judged per round. Default 100. */
  batchSize?: number;
  now?: () => Date;
}

type Tables = AnalyticsTables & PerformanceChecksTable;

/**
 * Judges a campaign's figures against its success_metrics and budget after the analytics read model changed them,
 * and records the crossings (campaign-performance.ts decides which are news). It follows the read model's change
 * sequence rather than the events, so a burst of ten thousand deliveries is one judgement, not ten thousand.
 *
 * Safe to run in several processes: two monitors judging the same change decide the same events against the same
 * stream revision, and the second append is refused, then decided again on the new state, which adds nothing.
 */
export class CampaignPerformanceMonitor {
  private readonly handler: CommandHandler<EvaluateCampaignPerformance, CampaignPerformanceEvent, CampaignPerformanceState>;
  private readonly db: Kysely<Tables>;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly now: () => Date;

  private readonly rounds: RepeatingRound;

  constructor(
    store: EventStore,
    db: SharedDatabase,
    private readonly logger: Logger,
    options: CampaignPerformanceMonitorOptions = {},
  ) {
    this.handler = new CommandHandler(store, campaignPerformanceDecider, campaignPerformanceEvents);
    this.db = db as Kysely<Tables>;
    this.intervalMs = options.intervalMs ?? 2_000;
    this.batchSize = options.batchSize ?? 100;
    this.now = options.now ?? (() => new Date());
    this.rounds = new RepeatingRound(() => this.tick(), this.intervalMs, (err) => this.logger.error({ err }, 'campaign performance round failed; trying again next round'));
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }

  /** One round: judges every campaign changed since it was last judged; returns how many events were recorded. */
  async tick(): Promise<number> {
    let recorded = 0;
    for (;;) {
      const changed = await this.db
        .selectFrom('analytics_campaigns as a')
        .leftJoin('campaign_performance_checks as c', 'c.campaign_id', 'a.campaign_id')
        .select(['a.campaign_id', 'a.budget', 'a.success_metrics', 'a.changed_seq'])
        .where((eb) => eb.or([eb('c.evaluated_seq', 'is', null), eb('a.changed_seq', '>', eb.ref('c.evaluated_seq'))]))
        .orderBy('a.changed_seq')
        .limit(this.batchSize)
        .execute();
      for (const campaign of changed) {
        recorded += await this.judge(campaign.campaign_id, Number(campaign.budget), campaign.success_metrics);
        await this.db
          .insertInto('campaign_performance_checks')
          .values({ campaign_id: campaign.campaign_id, evaluated_seq: campaign.changed_seq })
          .onConflict((oc) => oc.column('campaign_id').doUpdateSet({ evaluated_seq: campaign.changed_seq }))
          .execute();
      }
      if (changed.length < this.batchSize || !this.rounds.running) return recorded;
    }
  }

  private async judge(campaignId: string, budget: number, successMetrics: unknown): Promise<number> {
    // Campaigns created before success_metrics had a shape may hold anything: judge the rules that parse.
    const { problems, ...metrics } = parseSuccessMetrics(successMetrics);
    if (problems.length > 0) this.logger.debug({ campaign_id: campaignId, problems }, 'success_metrics entries ignored');
    if (metrics.rules.length === 0 && budget <= 0) return 0;
    const figures = await this.figures(campaignId);
    const now = this.now();
    const context = { correlationId: `performance:${campaignId}`, causationId: `performance:${campaignId}`, actor: 'performance-monitor', now };
    const result = await this.handler.handle(
      performanceStreamId(campaignId),
      { type: 'EvaluateCampaignPerformance', campaign_id: campaignId, success_metrics: metrics, figures, budget, now: now.toISOString() },
      context,
    );
    if (result.appended > 0) this.logger.info({ campaign_id: campaignId, events: result.appended }, 'campaign performance alerts recorded');
    return result.appended;
  }

  /** The campaign's figures since it began, summed from its weekly buckets. */
  private async figures(campaignId: string): Promise<CampaignFigures> {
    const columns = ['sent', 'delivered', 'bounced', 'unique_opens', 'unique_clicks', 'conversions', 'revenue', 'likes', 'shares', 'comments', 'reach', 'cost'] as const;
    const row = await this.db
      .selectFrom('analytics_weekly')
      .select(columns.map((column) => sql<number>`coalesce(sum(${sql.ref(column)}), 0)`.as(column)))
      .where('campaign_id', '=', campaignId)
      .executeTakeFirstOrThrow();
    return Object.fromEntries(columns.map((column) => [column, Number(row[column])])) as unknown as CampaignFigures;
  }

}
