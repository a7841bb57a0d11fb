import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import {
  isLimit,
  judge,
  kindOf,
  operators,
  ruleKey,
  successMetricNames,
  type CampaignFigures,
  type SuccessMetrics,
  type SuccessRule,
} from './success-metrics.js';

/**
 * Campaign performance: what the module has told the outside world about a campaign's results, one stream per
 * campaign (`performance-<campaign id>`), kept apart from the campaign's own stream so that judging figures never
 * contends with editing the campaign.
 *
 * An alert marks a change of a rule's status, so each crossing is announced once, and crossing back then again
 * announces again. A rule is pending until its sample is big enough (see success-metrics.ts); its first status is
 * announced when it is news: a goal met (threshold reached) or a target missed (underperforming). A limit (<=, <)
 * respected from the start is the expected state and raises nothing; exceeding it does, and so does coming back
 * within it afterwards. A total (conversions, likes…) below its goal is on its way, not underperforming.
 *
 * Budget: CampaignBudgetConsumed once per threshold (80 %, 100 %) per budget amount: a budget raised later is judged
 * anew. A campaign without a budget (0) raises none.
 */

export const BUDGET_ALERT_THRESHOLDS = [0.8, 1] as const;

export function performanceStreamId(campaignId: string): string {
  return `performance-${campaignId}`;
}

const timestamp = z.iso.datetime({ offset: true });

const ruleFields = {
  campaign_id: z.uuid(),
  metric: z.enum(successMetricNames as [string, ...string[]]),
  operator: z.enum(operators),
  threshold: z.number().min(0),
  /** The metric's value when it was judged: a fraction for rates, a count (or euros for revenue) for totals. */
  value: z.number(),
  /** Messages the rate was computed on (its denominator); null for totals. */
  sample_size: z.number().int().min(0).nullable(),
  /** The minimum sample that applied. */
  min_sample: z.number().int().min(1),
  evaluated_at: timestamp,
};

/** A success target is met: a goal reached, or a limit respected again after it was exceeded. */
export const CampaignThresholdReached = defineEvent('CampaignThresholdReached', 1, z.object(ruleFields));
/** A success target is missed: a rate below its goal, or a limit exceeded. */
export const CampaignUnderperforming = defineEvent('CampaignUnderperforming', 1, z.object(ruleFields));
/** The campaign's recorded spend reached a share of its budget. */
export const CampaignBudgetConsumed = defineEvent(
  'CampaignBudgetConsumed',
  1,
  z.object({
    campaign_id: z.uuid(),
    /** The share of the budget crossed: 0.8 or 1. */
    threshold: z.number().positive(),
    budget: z.number().positive(),
    /** Spend recorded so far (SpendRecorded events in euros). */
    spent: z.number().min(0),
    currency: z.literal('EUR'),
    consumed_rate: z.number().min(0),
    evaluated_at: timestamp,
  }),
);

export const campaignPerformanceEvents = {
  CampaignThresholdReached,
  CampaignUnderperforming,
  CampaignBudgetConsumed,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type CampaignPerformanceEvent = EventOf<(typeof campaignPerformanceEvents)[keyof typeof campaignPerformanceEvents]>;

export interface EvaluateCampaignPerformance {
  type: 'EvaluateCampaignPerformance';
  campaign_id: string;
  success_metrics: SuccessMetrics;
  figures: CampaignFigures;
  /** Euros; 0: no budget. */
  budget: number;
  now: string;
}

export interface CampaignPerformanceState {
  /** The announced status of each rule, by ruleKey; absent: pending. */
  rules: Readonly<Record<string, 'met' | 'missed'>>;
  /** Budget thresholds announced, as budgetKey(). */
  budget: ReadonlySet<string>;
}

export const campaignPerformanceDecider: Decider<EvaluateCampaignPerformance, CampaignPerformanceEvent, CampaignPerformanceState> = {
  initialState: () => ({ rules: {}, budget: new Set() }),
  decide,
  evolve,
};

function decide(command: EvaluateCampaignPerformance, state: CampaignPerformanceState): CampaignPerformanceEvent[] {
  const { campaign_id, figures, now } = command;
  const { rules, min_sample } = command.success_metrics;
  const events: CampaignPerformanceEvent[] = [];
  for (const rule of rules) {
    const judged = judge(rule, figures, min_sample);
    if (judged.status === 'unjudged' || judged.value === null) continue;
    const announced = state.rules[ruleKey(rule)];
    if (judged.status === announced) continue;
    if (judged.status === 'met' && announced === undefined && isLimit(rule)) continue;
    if (judged.status === 'missed' && kindOf(rule.metric) === 'total' && !isLimit(rule)) continue;
    const data = { campaign_id, ...ruleData(rule), value: round(judged.value), sample_size: judged.sample, min_sample, evaluated_at: now };
    events.push(judged.status === 'met' ? { type: 'CampaignThresholdReached', data } : { type: 'CampaignUnderperforming', data });
  }
  if (command.budget > 0) {
    const rate = figures.cost / command.budget;
    for (const threshold of BUDGET_ALERT_THRESHOLDS) {
      if (rate < threshold || state.budget.has(budgetKey(threshold, command.budget))) continue;
      events.push({
        type: 'CampaignBudgetConsumed',
        data: { campaign_id, threshold, budget: command.budget, spent: round(figures.cost), currency: 'EUR', consumed_rate: round(rate), evaluated_at: now },
      });
    }
  }
  return events;
}

function evolve(state: CampaignPerformanceState, event: CampaignPerformanceEvent): CampaignPerformanceState {
  switch (event.type) {
    case 'CampaignThresholdReached':
      return { ...state, rules: { ...state.rules, [ruleKey(event.data as SuccessRule)]: 'met' } };
    case 'CampaignUnderperforming':
      return { ...state, rules: { ...state.rules, [ruleKey(event.data as SuccessRule)]: 'missed' } };
    case 'CampaignBudgetConsumed':
      return { ...state, budget: new Set(state.budget).add(budgetKey(event.data.threshold, event.data.budget)) };
  }
}

function ruleData(rule: SuccessRule): Pick<SuccessRule, 'metric' | 'operator' | 'threshold'> {
  return { metric: rule.metric, operator: rule.operator, threshold: rule.threshold };
}

function budgetKey(threshold: number, budget: number): string {
  return `${threshold}@${budget}`;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
