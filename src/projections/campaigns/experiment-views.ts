import { z } from 'zod';
import { planChannel } from '../../domain/campaign-channels.js';
import {
  chooseWinner,
  experimentDecisionDue,
  experimentMetrics,
  explainWinner,
  winnerReasons,
  type ExperimentPlan,
  type VariantCounts,
} from '../../domain/campaign-experiment.js';
import type { Channel } from '../../domain/campaign.js';
import type { ExperimentReader } from './experiment-reader.js';

const count = z.number().int();
const variantFiguresSchema = z.object({
  requested: count,
  sent: count,
  delivered: count,
  failed: count,
  unique_opens: count,
  unique_clicks: count,
  conversions: count,
  sample: count.describe('The rate denominator: delivered, or sent when no variant has a delivery reported (rate_base)'),
  rate: z.number().nullable().describe('The experiment metric over the sample, 4 decimals; null for an empty sample'),
});

const decisionSchema = z.object({
  winner_variant_id: z.string(),
  reason: z.enum(winnerReasons),
  explanation: z.string(),
  rate_base: z.enum(['delivered', 'sent']),
  decided_at: z.string(),
  variants: z.array(variantFiguresSchema.extend({ variant_id: z.string(), template_id: z.string() })).describe('The figures as they were when the winner was chosen'),
});

export const experimentStatuses = ['pending', 'testing', 'decided', 'stopped'] as const;

export const experimentViewSchema = z.object({
  channel_index: z.number().int(),
  channel: z.enum(['email', 'sms']),
  metric: z.enum(experimentMetrics),
  test_share: z.number(),
  test_window_hours: z.number(),
  min_sample: z.number().int(),
  status: z
    .enum(experimentStatuses)
    .describe('pending: the campaign has not gone live; testing: the test share has the variants; decided: the winner goes to the rest; stopped: the campaign ended or was canceled before a winner'),
  test_started_at: z.string().nullable(),
  decision_due_at: z.string().nullable(),
  variants: z.array(
    z.object({
      variant_id: z.string(),
      template_id: z.string(),
      data: z.record(z.string(), z.unknown()),
      test: variantFiguresSchema.describe('The test share that got this variant, as of now'),
      rest: variantFiguresSchema.nullable().describe('The rest of the audience, sent the winner after the decision (null for the others)'),
    }),
  ),
  rate_base: z.enum(['delivered', 'sent']),
  leader: z
    .object({ variant_id: z.string(), reason: z.enum(winnerReasons), explanation: z.string() })
    .nullable()
    .describe('While testing: the variant that would win if the window closed now, and why'),
  winner: decisionSchema.nullable(),
});
export type ExperimentView = z.infer<typeof experimentViewSchema>;

export interface CampaignForExperiments {
  id: string;
  status: string;
  start_date: string;
  end_date: string;
  channels: Channel[];
}

/** The experiments a campaign declares, by channel index (channels that do not plan are left out). */
export function experimentsOf(campaign: CampaignForExperiments): { index: number; channel: 'email' | 'sms'; experiment: ExperimentPlan }[] {
  return campaign.channels.flatMap((channel, index) => {
    const planned = planChannel(channel, index, campaign);
    if (!('plan' in planned)) return [];
    const plan = planned.plan;
    if ((plan.type !== 'email' && plan.type !== 'sms') || !plan.experiment) return [];
    return [{ index, channel: plan.type, experiment: plan.experiment }];
  });
}

/** Each experiment of the campaign with its status, the figures of each variant, and the winner and why. */
export async function experimentViews(reader: ExperimentReader, campaign: CampaignForExperiments): Promise<ExperimentView[]> {
  const declared = experimentsOf(campaign);
  if (declared.length === 0) return [];
  const [test, rest, window, decisions] = await Promise.all([
    reader.counts(campaign.id, 'test'),
    reader.counts(campaign.id, 'rest'),
    reader.window(campaign.id),
    reader.decisions(campaign.id),
  ]);
  return declared.map(({ index, channel, experiment }) => {
    const live = chooseWinner(experiment, [...test.values()]);
    const decision = decisions.get(index);
    const started = window.activated_at?.toISOString() ?? null;
    const status = decision ? 'decided' : !started ? (campaign.status === 'canceled' ? 'stopped' : 'pending') : window.closed_status || campaign.status !== 'active' ? 'stopped' : 'testing';
    return {
      channel_index: index,
      channel,
      metric: experiment.metric,
      test_share: experiment.test_share,
      test_window_hours: experiment.test_window_hours,
      min_sample: experiment.min_sample,
      status,
      test_started_at: started,
      decision_due_at: started ? experimentDecisionDue(started, experiment).toISOString() : null,
      variants: experiment.variants.map((variant, i) => {
        const { variant_id: _id, template_id: _template, ...figures } = live.variants[i]!;
        const sent = rest.get(variant.variant_id);
        return { ...variant, test: figures, rest: sent ? restFigures(sent, experiment, live.rate_base) : null };
      }),
      rate_base: live.rate_base,
      leader: status === 'testing' ? { variant_id: live.winner_variant_id, reason: live.reason, explanation: explainWinner({ ...live, metric: experiment.metric, min_sample: experiment.min_sample }) } : null,
      winner: decision
        ? {
            winner_variant_id: decision.winner_variant_id,
            reason: decision.reason,
            explanation: explainWinner(decision),
            rate_base: decision.rate_base,
            decided_at: decision.decided_at,
            variants: decision.variants,
          }
        : null,
    };
  });
}

function restFigures(counts: VariantCounts, experiment: ExperimentPlan, base: 'delivered' | 'sent'): z.infer<typeof variantFiguresSchema> {
  const sample = counts[base];
  const hits = { open_rate: counts.unique_opens, click_rate: counts.unique_clicks, conversion_rate: counts.conversions }[experiment.metric];
  const { variant_id: _id, ...figures } = counts;
  return { ...figures, sample, rate: sample === 0 ? null : Math.round((Math.min(hits, sample) / sample) * 10_000) / 10_000 };
}
