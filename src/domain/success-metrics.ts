import { DomainError, type DomainErrorDetail } from './domain-error.js';

/**
 * A campaign's success_metrics (spec "Modèle de données principal": a JSON object): the targets its performance is
 * judged against, one per metric, e.g.
 *
 *   { "open_rate": { ">=": 0.25 }, "bounce_rate": { "<=": 0.05 }, "conversions": 40, "min_sample": 100 }
 *
 * A bare number is the metric's usual direction: at least that much for the rates and totals one wants high, at most
 * that much for bounce_rate. Rates are fractions (0.25 = 25 %). min_sample (default 50) is how many
 * messages a rate must be computed on before it is judged: 1 open out of 2 is not an open rate.
 *
 * Rates and their denominators (the notification figures of the analytics read model):
 *   delivery_rate = delivered / sent, bounce_rate = bounced / sent, open_rate = unique opens / delivered,
 *   click_rate = unique clicks / delivered.
 * Totals: conversions, revenue (euros), likes, shares, comments, reach.
 */

export const operators = ['>=', '>', '<=', '<'] as const;
export type Operator = (typeof operators)[number];

interface MetricDefinition {
  kind: 'rate' | 'total';
  /** The operator a bare number stands for. */
  usual: Operator;
}

export const successMetricDefinitions = {
  delivery_rate: { kind: 'rate', usual: '>=' },
  open_rate: { kind: 'rate', usual: '>=' },
  click_rate: { kind: 'rate', usual: '>=' },
  bounce_rate: { kind: 'rate', usual: '<=' },
  conversions: { kind: 'total', usual: '>=' },
  revenue: { kind: 'total', usual: '>=' },
  likes: { kind: 'total', usual: '>=' },
  shares: { kind: 'total', usual: '>=' },
  comments: { kind: 'total', usual: '>=' },
  reach: { kind: 'total', usual: '>=' },
} as const satisfies Record<string, MetricDefinition>;

export type SuccessMetric = keyof typeof successMetricDefinitions;
export const successMetricNames = Object.keys(successMetricDefinitions) as SuccessMetric[];

export const DEFAULT_MIN_SAMPLE = 50;
const MAX_MIN_SAMPLE = 1_000_000;
const MAX_TOTAL = 1_000_000_000;

export interface SuccessRule {
  metric: SuccessMetric;
  operator: Operator;
  threshold: number;
}

export interface SuccessMetrics {
  rules: SuccessRule[];
  min_sample: number;
}

/** The campaign's figures since it began, as the analytics read model sums them. */
export interface CampaignFigures {
  sent: number;
  delivered: number;
  bounced: number;
  unique_opens: number;
  unique_clicks: number;
  conversions: number;
  revenue: number;
  likes: number;
  shares: number;
  comments: number;
  reach: number;
  /** Spend in euros. */
  cost: number;
}

export interface Judgement {
  /** unjudged: a rate whose sample is still below min_sample. */
  status: 'met' | 'missed' | 'unjudged';
  /** The metric's value, null when it cannot be computed (no denominator). */
  value: number | null;
  /** How many messages a rate was computed on; null for totals. */
  sample: number | null;
}

/** The rules and the problems of a success_metrics object; unknown metrics and malformed targets are problems. */
export function parseSuccessMetrics(value: unknown): SuccessMetrics & { problems: DomainErrorDetail[] } {
  const problems: DomainErrorDetail[] = [];
  const rules: SuccessRule[] = [];
  let minSample = DEFAULT_MIN_SAMPLE;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { rules, min_sample: minSample, problems: [{ path: 'success_metrics', message: 'must be an object' }] };
  }
  for (const [key, target] of Object.entries(value as Record<string, unknown>)) {
    const path = `success_metrics.${key}`;
    if (key === 'min_sample') {
      if (typeof target === 'number' && Number.isInteger(target) && target >= 1 && target <= MAX_MIN_SAMPLE) minSample = target;
      else problems.push({ path, message: `must be a whole number from 1 to ${MAX_MIN_SAMPLE}` });
      continue;
    }
    if (!(key in successMetricDefinitions)) {
      problems.push({ path, message: `unknown metric; use ${successMetricNames.join(', ')} or min_sample` });
      continue;
    }
    const metric = key as SuccessMetric;
    const rule = ruleOf(metric, target);
    if (typeof rule === 'string') problems.push({ path, message: rule });
    else rules.push(rule);
  }
  return { rules, min_sample: minSample, problems };
}

/** For commands: success_metrics must follow the documented shape. */
export function assertSuccessMetrics(value: unknown): void {
  const { problems } = parseSuccessMetrics(value);
  if (problems.length > 0) {
    throw new DomainError('invalid_success_metrics', 'success_metrics must map metrics to targets, e.g. {"open_rate": {">=": 0.25}}', problems);
  }
}

/** Whether the campaign meets the rule now. A rate is not judged before its denominator reaches minSample. */
export function judge(rule: SuccessRule, figures: CampaignFigures, minSample: number): Judgement {
  const { value, sample } = valueOf(rule.metric, figures);
  if (value === null || (sample !== null && sample < minSample)) return { status: 'unjudged', value, sample };
  return { status: compare(value, rule.operator, rule.threshold) ? 'met' : 'missed', value, sample };
}

/** A goal asks for more (>=, >); a limit for less (<=, <). */
export function isLimit(rule: Pick<SuccessRule, 'operator'>): boolean {
  return rule.operator === '<=' || rule.operator === '<';
}

export function ruleKey(rule: SuccessRule): string {
  return `${rule.metric}${rule.operator}${rule.threshold}`;
}

export function kindOf(metric: SuccessMetric): 'rate' | 'total' {
  return successMetricDefinitions[metric].kind;
}

function ruleOf(metric: SuccessMetric, target: unknown): SuccessRule | string {
  const definition = successMetricDefinitions[metric];
  let operator: Operator = definition.usual;
  let threshold: unknown = target;
  if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
    const entries = Object.entries(target as Record<string, unknown>);
    if (entries.length !== 1 || !operators.includes(entries[0]![0] as Operator)) {
      return `must be a number or an object with one operator (${operators.join(', ')}), e.g. {"${definition.usual}": 0.25}`;
    }
    operator = entries[0]![0] as Operator;
    threshold = entries[0]![1];
  }
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) return 'the threshold must be a number ≥ 0';
  if (definition.kind === 'rate' && threshold > 1) return 'a rate is a fraction from 0 to 1 (0.25 = 25 %)';
  if (definition.kind === 'total' && threshold > MAX_TOTAL) return `must be at most ${MAX_TOTAL}`;
  return { metric, operator, threshold };
}

function valueOf(metric: SuccessMetric, f: CampaignFigures): { value: number | null; sample: number | null } {
  const rate = (numerator: number, denominator: number) => ({ value: denominator > 0 ? numerator / denominator : null, sample: denominator });
  switch (metric) {
    case 'delivery_rate':
      return rate(f.delivered, f.sent);
    case 'open_rate':
      return rate(f.unique_opens, f.delivered);
    case 'click_rate':
      return rate(f.unique_clicks, f.delivered);
    case 'bounce_rate':
      return rate(f.bounced, f.sent);
    default:
      return { value: f[metric], sample: null };
  }
}

function compare(value: number, operator: Operator, threshold: number): boolean {
  switch (operator) {
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
  }
}
