import type { Kysely } from 'kysely';
import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import { campaignStreamId } from '../../commands/campaign-routes.js';
import {
  campaignExperimentDecider,
  campaignExperimentEvents,
  experimentStreamId,
  type CampaignExperimentCommand,
  type CampaignExperimentEvent,
  type CampaignExperimentState,
} from '../../domain/campaign-experiment-decider.js';
import { experimentDecisionDue } from '../../domain/campaign-experiment.js';
import { campaignDecider, campaignEvents, type CampaignCommand, type CampaignEvent, type CampaignState, type Channel } from '../../domain/campaign.js';
import { isDomainError } from '../../domain/domain-error.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { CampaignsTable } from '../../projections/campaigns/campaigns-table.js';
import { ExperimentReader } from '../../projections/campaigns/experiment-reader.js';
import { experimentsOf } from '../../projections/campaigns/experiment-views.js';

/** Active campaigns looked at per round at most. */
const MAX_PER_ROUND = 200;

/**
 * Chooses the winners of the A/B/n experiments whose test window is over (or whose campaign is ending): the figures
 * of each variant's test share come from the experiments read model, the campaign as its stream has it now, and the
 * experiment decider records the winner (CampaignVariantWinnerChosen, stream experiment-<campaign id>), which the
 * fan-out turns into the rest of the audience's messages. Run by the campaign clock before it completes ended
 * campaigns, so an experiment cut short by its campaign's end still records its figures. A winner already recorded
 * (another process, a read model a little behind) is recorded once; a campaign canceled meanwhile gets none.
 */
export class ExperimentJudge {
  private readonly campaignStreams: CommandHandler<CampaignCommand, CampaignEvent, CampaignState>;
  private readonly handler: CommandHandler<CampaignExperimentCommand, CampaignExperimentEvent, CampaignExperimentState>;
  private readonly campaigns: Kysely<CampaignsTable>;
  private readonly reader: ExperimentReader;

  constructor(
    store: EventStore,
    db: SharedDatabase,
    private readonly logger: Logger,
  ) {
    this.campaignStreams = new CommandHandler(store, campaignDecider, campaignEvents);
    this.handler = new CommandHandler(store, campaignExperimentDecider, campaignExperimentEvents);
    this.campaigns = db as Kysely<CampaignsTable>;
    this.reader = new ExperimentReader(db);
  }

  /** One round; returns how many winners it recorded. */
  async tick(now = new Date()): Promise<number> {
    const active = await this.campaigns
      .selectFrom('campaigns')
      .select(['id', 'status', 'start_date', 'end_date', 'channels'])
      .where('status', '=', 'active')
      .orderBy('start_date')
      .limit(MAX_PER_ROUND)
      .execute();
    let decided = 0;
    for (const row of active) {
      const campaign = { id: row.id, status: row.status, start_date: row.start_date.toISOString(), end_date: row.end_date.toISOString(), channels: row.channels as Channel[] };
      const declared = experimentsOf(campaign);
      if (declared.length === 0) continue;
      const { activated_at } = await this.reader.window(row.id);
      if (!activated_at) continue;
      const decisions = await this.reader.decisions(row.id);
      for (const { index, experiment } of declared) {
        if (decisions.has(index)) continue;
        const due = Math.min(experimentDecisionDue(activated_at.toISOString(), experiment).getTime(), row.end_date.getTime());
        if (due > now.getTime()) continue;
        decided += await this.decide(row.id, index, now);
      }
    }
    return decided;
  }

  private async decide(campaignId: string, channelIndex: number, now: Date): Promise<number> {
    const counts = [...(await this.reader.counts(campaignId, 'test')).values()];
    const { state, events } = await this.campaignStreams.load(campaignStreamId(campaignId));
    if (state.status === 'none') return 0;
    const activated = events.findLast((e) => e.type === 'CampaignActivated')?.data as { activated_at: string } | undefined;
    const campaign = { status: state.status, activated_at: activated?.activated_at ?? null, start_date: state.start_date, end_date: state.end_date, channels: state.channels };
    const source = `experiment-judge:${campaignId}:${channelIndex}`;
    const context: CommandContext = { correlationId: source, causationId: source, actor: 'experiment-judge', now };
    try {
      const result = await this.handler.handle(
        experimentStreamId(campaignId),
        { type: 'ChooseVariantWinner', campaign_id: campaignId, campaign, channel_index: channelIndex, counts, now: now.toISOString() },
        context,
      );
      if (result.appended > 0) this.logger.info({ campaign_id: campaignId, channel: channelIndex }, 'experiment winner chosen');
      return result.appended > 0 ? 1 : 0;
    } catch (error) {
      if (!isDomainError(error)) throw error;
      this.logger.info({ campaign_id: campaignId, channel: channelIndex, code: error.code }, 'experiment left undecided by the judge');
      return 0;
    }
  }
}
