import type { Channel, CampaignStatus } from './campaign.js';
import { planChannel } from './campaign-channels.js';
import { CampaignVariantWinnerChosen, chooseWinner, experimentDecisionDue, type VariantCounts, type WinnerChosen } from './campaign-experiment.js';
import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import type { EventCatalogue } from './event-schema.js';

/**
 * The decisions of a campaign's A/B/n experiments, one stream per campaign (`experiment-<campaign id>`), kept apart
 * from the campaign's own stream (as its performance alerts are) so that judging figures never contends with editing
 * the campaign. One winner per channel, recorded once: the same decision asked again records nothing.
 *
 * The campaign is given by the caller as it was just read (its status, when it went live, its channels): a winner is
 * chosen while the campaign is active, once the channel's test window is over, or once the campaign's end date has
 * come (the figures are then kept, and the rest of the audience is not sent anything).
 */

export function experimentStreamId(campaignId: string): string {
  return `experiment-${campaignId}`;
}

export const campaignExperimentEvents = { CampaignVariantWinnerChosen } satisfies EventCatalogue;
export type CampaignExperimentEvent = { type: 'CampaignVariantWinnerChosen'; data: WinnerChosen };

export interface ExperimentCampaignFacts {
  status: CampaignStatus;
  /** When the campaign went live (CampaignActivated), null if it has not. */
  activated_at: string | null;
  start_date: string;
  end_date: string;
  channels: Channel[];
}

export type CampaignExperimentCommand = {
  type: 'ChooseVariantWinner';
  campaign_id: string;
  campaign: ExperimentCampaignFacts;
  channel_index: number;
  /** What each variant's test share did, as the experiments read model counted it. */
  counts: VariantCounts[];
  now: string;
};

export interface CampaignExperimentState {
  decided: number[];
}

export const campaignExperimentDecider: Decider<CampaignExperimentCommand, CampaignExperimentEvent, CampaignExperimentState> = {
  initialState: () => ({ decided: [] }),
  decide,
  evolve: (state, event) => ({ decided: [...state.decided, event.data.channel_index] }),
};

function decide(command: CampaignExperimentCommand, state: CampaignExperimentState): CampaignExperimentEvent[] {
  const { campaign, channel_index } = command;
  const path = `channels.${channel_index}.config.experiment`;
  const channel = campaign.channels[channel_index];
  const planned = channel ? planChannel(channel, channel_index, campaign) : null;
  const plan = planned && 'plan' in planned ? planned.plan : undefined;
  if (!plan || (plan.type !== 'email' && plan.type !== 'sms') || !plan.experiment) {
    throw new DomainError('experiment_not_found', `Channel ${channel_index} of the campaign has no experiment`, [{ path, message: 'no experiment on this channel' }]);
  }
  if (state.decided.includes(channel_index)) return [];
  if (campaign.status !== 'active' || campaign.activated_at === null) {
    throw new DomainError('invalid_transition', `A ${campaign.status} campaign's experiment cannot be decided`, [
      { path: 'status', message: 'the winner is chosen while the campaign is active' },
    ]);
  }
  const due = experimentDecisionDue(campaign.activated_at, plan.experiment);
  if (Date.parse(command.now) < Math.min(due.getTime(), Date.parse(campaign.end_date))) {
    throw new DomainError('experiment_window_open', `The test window lasts until ${due.toISOString()}`, [
      { path: `${path}.test_window_hours`, message: `the winner is chosen after ${due.toISOString()}` },
    ]);
  }
  const decision = chooseWinner(plan.experiment, command.counts);
  return [
    {
      type: 'CampaignVariantWinnerChosen',
      data: {
        campaign_id: command.campaign_id,
        channel_index,
        channel: plan.type,
        metric: plan.experiment.metric,
        winner_variant_id: decision.winner_variant_id,
        reason: decision.reason,
        rate_base: decision.rate_base,
        min_sample: plan.experiment.min_sample,
        test_share: plan.experiment.test_share,
        variants: decision.variants,
        test_started_at: new Date(campaign.activated_at).toISOString(),
        decided_at: command.now,
      },
    },
  ];
}
