import { RepeatingRound } from '../../infrastructure/time/repeating-round.js';
import type { Kysely } from 'kysely';
import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import { campaignStreamId } from '../../commands/campaign-routes.js';
import { campaignDecider, campaignEvents, type CampaignCommand, type CampaignEvent, type CampaignState } from '../../domain/campaign.js';
import { isDomainError } from '../../domain/domain-error.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { CampaignsTable } from '../../projections/campaigns/campaigns-table.js';
import { ExperimentJudge } from './experiment-judge.js';

/** Campaigns moved per round at most: far more than a restaurant starts or ends at once. */
const MAX_PER_ROUND = 200;

/**
 * Keeps campaigns on their dates: a scheduled campaign whose start date has come is activated (which fans its channels
 * out), an active one whose end date has passed is completed. It reads the campaigns read model and sends the
 * commands a person would; the decider decides again on the stream, so a campaign canceled meanwhile, or moved by
 * another process running the same clock, is left as it is. Each round first chooses the winners of the A/B/n
 * experiments whose test window is over (experiment-judge.ts).
 */
export class CampaignClock {
  private readonly handler: CommandHandler<CampaignCommand, CampaignEvent, CampaignState>;
  private readonly db: Kysely<CampaignsTable>;

  private readonly rounds: RepeatingRound;
  private readonly judge: ExperimentJudge;

  constructor(
    store: EventStore,
    db: SharedDatabase,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {
    this.handler = new CommandHandler(store, campaignDecider, campaignEvents);
    this.db = db as Kysely<CampaignsTable>;
    this.judge = new ExperimentJudge(store, db, logger);
    this.rounds = new RepeatingRound(() => this.tick(), intervalMs, (err) => this.logger.error({ err }, 'campaign clock round failed; trying again next round'));
  }

  start(): void {
    this.rounds.start();
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }

  /** One round; returns how many campaigns it moved, and experiments it decided. */
  async tick(now = new Date()): Promise<number> {
    // Winners before completions: an experiment whose campaign ends now still gets its figures recorded.
    const decided = await this.judge.tick(now);
    const due = await this.db
      .selectFrom('campaigns')
      .select(['id', 'status'])
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'scheduled'), eb('start_date', '<=', now), eb('end_date', '>', now)]),
          eb.and([eb('status', '=', 'active'), eb('end_date', '<=', now)]),
        ]),
      )
      .orderBy('start_date')
      .limit(MAX_PER_ROUND)
      .execute();
    let moved = 0;
    for (const campaign of due) {
      const type = campaign.status === 'scheduled' ? 'ActivateCampaign' : 'CompleteCampaign';
      const context: CommandContext = { correlationId: `campaign-clock:${campaign.id}`, causationId: `campaign-clock:${campaign.id}`, actor: 'campaign-clock', now };
      try {
        const result = await this.handler.handle(campaignStreamId(campaign.id), { type, campaign_id: campaign.id, now: now.toISOString() }, context);
        moved += result.appended > 0 ? 1 : 0;
      } catch (error) {
        if (!isDomainError(error)) throw error;
        this.logger.info({ campaign_id: campaign.id, code: error.code }, 'campaign left as it is by the clock');
      }
    }
    return moved + decided;
  }

}
