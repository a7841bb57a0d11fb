import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DomainErrorDetail } from './domain-error.js';
import { defineEvent } from './event-schema.js';

/**
 * A/B/n test of a campaign's e-mail or SMS channel (`config.experiment`):
 *
 *   {"variants": [{"id": "A"}, {"id": "B", "template_id": "promo_v2"}, {"id": "C", "data": {"promo_title": "…"}}],
 *    "test_share": 0.2, "metric": "open_rate", "test_window_hours": 24, "min_sample": 50}
 *
 * A variant is the channel's message with its own template (`template_id`) and/or template variables (`data`, merged
 * over the channel's): a subject or a text differs through the template's variables, or through another template. A
 * variant with neither is the channel's message as it is (the control).
 *
 * When the campaign goes live, each audience member is placed by a hash of the campaign, the channel and the customer
 * (experimentBucket): the test share gets the variants, spread evenly, and the rest is held back. The split is the
 * same on every replay and whoever reads the audience. After the test window, the winner on the metric goes to the
 * rest (CampaignVariantWinnerChosen, chooseWinner); a campaign canceled or ended before then sends the rest nothing.
 */

export const experimentMetrics = ['open_rate', 'click_rate', 'conversion_rate'] as const;
export type ExperimentMetric = (typeof experimentMetrics)[number];

/** SMS providers report no opens: an SMS test can only be judged on clicks (tracked links) or conversions. */
export const metricsPerChannel: Record<'email' | 'sms', readonly ExperimentMetric[]> = {
  email: experimentMetrics,
  sms: ['click_rate', 'conversion_rate'],
};

export const MAX_VARIANTS = 10;
/** The smallest rate denominator per variant for a winner on figures; below it the first variant goes to the rest. */
export const DEFAULT_EXPERIMENT_MIN_SAMPLE = 50;
const VARIANT_LETTERS = 'ABCDEFGHIJ';

export const variantIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, - and _ (1 to 40)');

const variantConfigSchema = z.strictObject({
  id: variantIdSchema.optional().describe('Defaults to A, B, C… in order; unique within the campaign'),
  template_id: z.string().trim().min(1).max(200).optional().describe("Another template; default: the channel's"),
  data: z.record(z.string(), z.unknown()).optional().describe("Template variables merged over the channel's"),
});

export const experimentConfigSchema = z.strictObject({
  variants: z.array(variantConfigSchema).min(2, 'an experiment needs at least 2 variants').max(MAX_VARIANTS),
  test_share: z.number().gt(0, 'must be more than 0').lt(1, 'must be less than 1').describe('Share of the audience that gets the variants'),
  metric: z.enum(experimentMetrics),
  test_window_hours: z.number().positive().max(24 * 30).describe('Hours after the campaign goes live before the winner is chosen'),
  min_sample: z.number().int().min(1).max(1_000_000).optional(),
});

export interface ExperimentVariant {
  variant_id: string;
  template_id: string;
  data: Record<string, unknown>;
}

export interface ExperimentPlan {
  metric: ExperimentMetric;
  test_share: number;
  test_window_hours: number;
  min_sample: number;
  variants: ExperimentVariant[];
}

/**
 * The channel's experiment, or its problems (paths under channels.<index>.config.experiment). The channel's template
 * and variables are what a variant changes.
 */
export function planExperiment(
  raw: unknown,
  channel: 'email' | 'sms',
  index: number,
  base: { template_id: string; data: Record<string, unknown> },
): { experiment: ExperimentPlan } | { problems: DomainErrorDetail[] } {
  const at = (field: string) => [`channels.${index}.config.experiment`, field].filter(Boolean).join('.');
  const parsed = experimentConfigSchema.safeParse(raw);
  if (!parsed.success) return { problems: parsed.error.issues.map((issue) => ({ path: at(issue.path.map(String).join('.')), message: issue.message })) };
  const config = parsed.data;
  const problems: DomainErrorDetail[] = [];
  if (!metricsPerChannel[channel].includes(config.metric)) {
    problems.push({ path: at('metric'), message: `${channel} reports no ${config.metric.replace('_rate', 's')}: use ${metricsPerChannel[channel].join(' or ')}` });
  }
  const variants = config.variants.map((v, i) => ({
    variant_id: v.id ?? VARIANT_LETTERS[i]!,
    template_id: v.template_id ?? base.template_id,
    data: { ...base.data, ...(v.data ?? {}) },
  }));
  const seen = new Map<string, number>();
  const contents = new Map<string, number>();
  variants.forEach((variant, i) => {
    const twin = seen.get(variant.variant_id);
    if (twin !== undefined) problems.push({ path: at(`variants.${i}.id`), message: `${variant.variant_id} is already the id of variants.${twin}` });
    else seen.set(variant.variant_id, i);
    const content = JSON.stringify([variant.template_id, variant.data]);
    const same = contents.get(content);
    if (same !== undefined) problems.push({ path: at(`variants.${i}`), message: `sends the same message as variants.${same}: give it another template_id or data` });
    else contents.set(content, i);
  });
  if (problems.length > 0) return { problems };
  return {
    experiment: {
      metric: config.metric,
      test_share: config.test_share,
      test_window_hours: config.test_window_hours,
      min_sample: config.min_sample ?? DEFAULT_EXPERIMENT_MIN_SAMPLE,
      variants,
    },
  };
}

/** A number in [0, 1) fixed by the campaign, the channel and the customer. */
export function experimentBucket(campaignId: string, channelIndex: number, customerId: string): number {
  const digest = createHash('sha256').update(`experiment:${campaignId}:${channelIndex}:${customerId}`).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}

/** The variant a bucket gets during the test, or null for the rest (held back until the winner is known). */
export function variantOfBucket(experiment: ExperimentPlan, bucket: number): ExperimentVariant | null {
  if (bucket >= experiment.test_share) return null;
  const n = experiment.variants.length;
  return experiment.variants[Math.min(n - 1, Math.floor((bucket / experiment.test_share) * n))]!;
}

/** When the winner is due: the test window after the campaign went live. */
export function experimentDecisionDue(activatedAt: string, experiment: Pick<ExperimentPlan, 'test_window_hours'>): Date {
  return new Date(Date.parse(activatedAt) + Math.round(experiment.test_window_hours * 3_600_000));
}

// ---- the decision -------------------------------------------------------------------------------------------------

/** What the test share of one variant did (its notifications, as the experiments read model counts them). */
export interface VariantCounts {
  variant_id: string;
  requested: number;
  sent: number;
  delivered: number;
  failed: number;
  unique_opens: number;
  unique_clicks: number;
  conversions: number;
}

export const winnerReasons = ['highest_rate', 'tie', 'insufficient_sample', 'no_data'] as const;
export type WinnerReason = (typeof winnerReasons)[number];

const count = z.number().int().min(0);
const variantFiguresSchema = z.object({
  variant_id: variantIdSchema,
  template_id: z.string(),
  requested: count,
  sent: count,
  delivered: count,
  failed: count,
  unique_opens: count,
  unique_clicks: count,
  conversions: count,
  /** The rate's denominator: delivered, or sent when the provider reports no deliveries (see rate_base). */
  sample: count,
  /** The metric over the sample, 4 decimals; null when the sample is 0. */
  rate: z.number().min(0).nullable(),
});
export type VariantFigures = z.infer<typeof variantFiguresSchema>;

/**
 * The winner of an experiment and the figures it rests on. reason: highest_rate (one variant has the highest rate,
 * every sample reached min_sample), tie (several share the highest rate: the first of them in the declared order),
 * insufficient_sample (a variant's sample is below min_sample: the first variant), no_data (nothing to compare: the
 * first variant).
 */
export const CampaignVariantWinnerChosen = defineEvent(
  'CampaignVariantWinnerChosen',
  1,
  z.object({
    campaign_id: z.uuid(),
    channel_index: z.number().int().min(0),
    channel: z.enum(['email', 'sms']),
    metric: z.enum(experimentMetrics),
    winner_variant_id: variantIdSchema,
    reason: z.enum(winnerReasons),
    rate_base: z.enum(['delivered', 'sent']),
    min_sample: z.number().int().min(1),
    test_share: z.number().gt(0).lt(1),
    variants: z.array(variantFiguresSchema).min(2),
    test_started_at: z.iso.datetime({ offset: true }),
    decided_at: z.iso.datetime({ offset: true }),
  }),
);
export type WinnerChosen = z.infer<typeof CampaignVariantWinnerChosen.schema>;

const metricCount: Record<ExperimentMetric, (c: VariantCounts) => number> = {
  open_rate: (c) => c.unique_opens,
  click_rate: (c) => c.unique_clicks,
  conversion_rate: (c) => c.conversions,
};

/**
 * Rates are over delivered messages, as in the analytics; when no variant has a delivery reported (SMTP, providers
 * without delivery reports), over sent ones, so that such an experiment can still be judged.
 */
export function chooseWinner(
  experiment: ExperimentPlan,
  counts: readonly VariantCounts[],
): Pick<WinnerChosen, 'winner_variant_id' | 'reason' | 'rate_base' | 'variants'> {
  const byId = new Map(counts.map((c) => [c.variant_id, c]));
  const all = experiment.variants.map((v): VariantCounts & { template_id: string } => ({
    ...(byId.get(v.variant_id) ?? { variant_id: v.variant_id, requested: 0, sent: 0, delivered: 0, failed: 0, unique_opens: 0, unique_clicks: 0, conversions: 0 }),
    template_id: v.template_id,
  }));
  const rate_base = all.some((c) => c.delivered > 0) ? 'delivered' : 'sent';
  const figures = all.map((c) => {
    const sample = c[rate_base];
    const hits = Math.min(metricCount[experiment.metric](c), sample);
    return { ...c, sample, hits, rate: sample === 0 ? null : Math.round((hits / sample) * 10_000) / 10_000 };
  });
  const variants: VariantFigures[] = figures.map(({ hits: _hits, ...f }) => f);
  const first = experiment.variants[0]!.variant_id;
  if (figures.every((f) => f.sample === 0)) return { winner_variant_id: first, reason: 'no_data', rate_base, variants };
  if (figures.some((f) => f.sample < experiment.min_sample)) return { winner_variant_id: first, reason: 'insufficient_sample', rate_base, variants };
  // Compared as exact fractions (cross products), not as rounded rates.
  const better = (a: (typeof figures)[number], b: (typeof figures)[number]) => a.hits * b.sample - b.hits * a.sample;
  const best = figures.reduce((top, f) => (better(f, top) > 0 ? f : top));
  const tied = figures.filter((f) => better(f, best) === 0).length > 1;
  return { winner_variant_id: best.variant_id, reason: tied ? 'tie' : 'highest_rate', rate_base, variants };
}

/** A sentence for people: why this variant won. */
export function explainWinner(decision: Pick<WinnerChosen, 'winner_variant_id' | 'reason' | 'metric' | 'min_sample' | 'rate_base' | 'variants'>): string {
  const rates = decision.variants.map((v) => `${v.variant_id} ${v.rate === null ? 'n/a' : v.rate} (${v.sample} ${decision.rate_base})`).join(', ');
  switch (decision.reason) {
    case 'highest_rate':
      return `${decision.winner_variant_id} has the highest ${decision.metric}: ${rates}`;
    case 'tie':
      return `several variants share the highest ${decision.metric}; the first of them in the declared order wins: ${rates}`;
    case 'insufficient_sample':
      return `a variant has fewer than ${decision.min_sample} ${decision.rate_base} messages, too few to compare; the first variant is kept: ${rates}`;
    case 'no_data':
      return `no variant has a message ${decision.rate_base} yet; the first variant is kept`;
  }
}
