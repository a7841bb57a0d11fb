import { sql, type Kysely } from 'kysely';
import { ALL_CAMPAIGNS, emptyFigures, figureColumns, NO_CAMPAIGN, type AnalyticsTables, type Figures } from './analytics-tables.js';
import { periodEnd, periodText, type PeriodRange } from './analytics-period.js';
import { parisMidnight } from './paris-calendar.js';

export const groupDimensions = ['campaign', 'channel', 'platform'] as const;
export type GroupDimension = (typeof groupDimensions)[number];

export interface AnalyticsFilters {
  /** A campaign id, or NO_CAMPAIGN for messages sent outside campaigns. */
  campaign_id?: string;
  channel?: string;
  platform?: string;
}

/** The figures of one period (and group), with the rates computed from them. */
export interface Metrics {
  sent: number;
  delivered: number;
  failed: number;
  bounced: number;
  skipped: number;
  unique_opens: number;
  unique_clicks: number;
  opens: number;
  clicks: number;
  delivery_rate: number | null;
  open_rate: number | null;
  click_rate: number | null;
  bounce_rate: number | null;
  engagement: { likes: number; shares: number; comments: number; reach: number; impressions: number; clicks: number };
  conversions: { count: number; revenue: number; currency: 'EUR' };
  cost: { amount: number; currency: 'EUR'; records: number; not_in_eur: number };
}

export interface SeriesRow extends Metrics {
  period_start: string;
  period_end: string;
  campaign_id?: string | null;
  channel?: string | null;
  platform?: string | null;
}

export interface BudgetView {
  campaign_id: string;
  budget: number;
  /** Spend recorded since the campaign began, in euros (whatever the query's range). */
  spent: number;
  remaining: number;
  /** spent / budget; null without a budget. */
  consumed_rate: number | null;
  currency: 'EUR';
}

/** Past this, the answer is refused: ask for a coarser granularity, fewer groups or a shorter range. */
export const MAX_SERIES_ROWS = 10_000;

export class TooManyRows extends Error {}

/** One period (and group) of buckets, summed. */
export interface BucketSum {
  start: Date;
  /** The period's first day (day and week), or its start (hour). */
  period: Date | string;
  campaign_id?: string;
  channel?: string;
  platform?: string;
  figures: Figures;
}

/**
 * Reads the buckets for a range from the table of the granularity, summed per period and the requested groups in
 * SQL. A query that neither filters nor groups by campaign reads the ALL_CAMPAIGNS rows, already summed over campaigns.
 */
export async function readBuckets(db: Kysely<AnalyticsTables>, range: PeriodRange, filters: AnalyticsFilters, groupBy: GroupDimension[]): Promise<BucketSum[]> {
  const groups = groupBy.map((dimension) => (dimension === 'campaign' ? 'campaign_id' : dimension));
  const { table, period, from, to } = {
    hour: { table: 'analytics_hourly', period: 'hour', from: range.from, to: range.to },
    day: { table: 'analytics_daily', period: 'day', from: range.fromDay, to: range.toDay },
    week: { table: 'analytics_weekly', period: 'week', from: range.fromDay, to: range.toDay },
  }[range.granularity] as { table: 'analytics_hourly'; period: 'hour'; from: Date | string; to: Date | string };
  const groupRefs = groups.map((group) => sql.ref(group));
  // Dates as text: the driver would turn them into JavaScript dates at local midnight.
  const periodColumn = range.granularity === 'hour' ? sql<Date | string>`hour` : sql<Date | string>`${sql.ref(period)}::text`;
  let query = db
    .selectFrom(table)
    .select([periodColumn.as('period'), ...groupRefs.map((ref, index) => ref.as(groups[index]!)), ...figureColumns.map((column) => sql<number>`sum(${sql.ref(column)})::float8`.as(column))])
    .where(sql.ref(period), '>=', from)
    .where(sql.ref(period), '<', to);
  if (filters.campaign_id) query = query.where('campaign_id', '=', filters.campaign_id);
  else if (groups.includes('campaign_id')) query = query.where('campaign_id', '<>', ALL_CAMPAIGNS);
  else query = query.where('campaign_id', '=', ALL_CAMPAIGNS);
  if (filters.channel) query = query.where('channel', '=', filters.channel);
  if (filters.platform) query = query.where('platform', '=', filters.platform);
  // Sums as float8 (exact for any count below 2^53): the driver hands them over as numbers, not numeric strings.
  const rows: Record<string, unknown>[] = await query.groupBy([sql.ref(period), ...groupRefs]).limit(MAX_SERIES_ROWS + 1).execute();
  if (rows.length > MAX_SERIES_ROWS) throw new TooManyRows();
  const byCampaign = groups.includes('campaign_id');
  const byChannel = groups.includes('channel');
  const byPlatform = groups.includes('platform');
  // Sorted on keys computed once per row: a wide answer has thousands of rows (every campaign × channel × platform ×
  // period), and building the keys in each comparison took longer than the query itself.
  const keyed = rows.map((row) => {
    const period = typeof row.period === 'string' ? row.period : new Date(row.period as Date);
    const sum: BucketSum = { start: typeof period === 'string' ? parisMidnight(period) : period, period, figures: figuresOf(row) };
    if (byCampaign) sum.campaign_id = row.campaign_id as string;
    if (byChannel) sum.channel = row.channel as string;
    if (byPlatform) sum.platform = row.platform as string;
    return { sum, time: sum.start.getTime(), campaign: sum.campaign_id ?? '', channel: sum.channel ?? '', platform: sum.platform ?? '' };
  });
  keyed.sort((a, b) => a.time - b.time || compareText(a.campaign, b.campaign) || compareText(a.channel, b.channel) || compareText(a.platform, b.platform));
  return keyed.map((k) => k.sum);
}

/** The series as the API shows it. */
export function seriesOf(range: PeriodRange, sums: BucketSum[]): SeriesRow[] {
  // A wide answer repeats each period for every group: its texts are worked out once per period.
  const periods = new Map<number, { period_start: string; period_end: string }>();
  return sums.map((sum) => {
    let texts = periods.get(sum.start.getTime());
    if (!texts) {
      texts = { period_start: periodText(range.granularity, sum.start), period_end: periodText(range.granularity, periodEnd(range.granularity, sum.period)) };
      periods.set(sum.start.getTime(), texts);
    }
    // Object.assign, not `{ ...metrics }` followed by more properties: V8 builds that on a slow path, per row.
    const row: SeriesRow = Object.assign({ period_start: texts.period_start, period_end: texts.period_end }, metricsOf(sum.figures));
    if (sum.campaign_id !== undefined) row.campaign_id = sum.campaign_id === NO_CAMPAIGN ? null : sum.campaign_id;
    if (sum.channel !== undefined) row.channel = sum.channel || null;
    if (sum.platform !== undefined) row.platform = sum.platform || null;
    return row;
  });
}

/** Budgets of the campaigns, with everything they spent so far. */
export async function readBudgets(db: Kysely<AnalyticsTables>, campaignIds: string[]): Promise<BudgetView[]> {
  const ids = campaignIds.filter((id) => id !== NO_CAMPAIGN);
  if (ids.length === 0) return [];
  const campaigns = await db.selectFrom('analytics_campaigns').select(['campaign_id', 'budget', 'spent']).where('campaign_id', 'in', ids).orderBy('campaign_id').execute();
  return campaigns.map((row) => {
    const budget = Number(row.budget);
    const spent = Number(row.spent);
    return { campaign_id: row.campaign_id, budget, spent: money(spent), remaining: money(budget - spent), consumed_rate: budget > 0 ? ratio(spent / budget) : null, currency: 'EUR' as const };
  });
}

export function totalsOf(sums: BucketSum[]): Metrics {
  const total = emptyFigures();
  for (const sum of sums) for (const column of figureColumns) total[column] += sum.figures[column];
  return metricsOf(total);
}

export function metricsOf(f: Figures): Metrics {
  const rate = (numerator: number, denominator: number) => (denominator > 0 ? ratio(numerator / denominator) : null);
  return {
    sent: f.sent,
    delivered: f.delivered,
    failed: f.failed,
    bounced: f.bounced,
    skipped: f.skipped,
    unique_opens: f.unique_opens,
    unique_clicks: f.unique_clicks,
    opens: f.opens,
    clicks: f.clicks,
    delivery_rate: rate(f.delivered, f.sent),
    open_rate: rate(f.unique_opens, f.delivered),
    click_rate: rate(f.unique_clicks, f.delivered),
    bounce_rate: rate(f.bounced, f.sent),
    engagement: { likes: f.likes, shares: f.shares, comments: f.comments, reach: f.reach, impressions: f.impressions, clicks: f.engagement_clicks },
    conversions: { count: f.conversions, revenue: money(f.revenue), currency: 'EUR' },
    cost: { amount: Math.round(f.cost * 10_000) / 10_000, currency: 'EUR', records: f.spend_records, not_in_eur: f.spend_other_currency },
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function figuresOf(row: Record<string, unknown>): Figures {
  const figures = {} as Figures;
  for (const column of figureColumns) figures[column] = Number(row[column] ?? 0);
  return figures;
}

function ratio(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}

function money(value: number): number {
  return Math.round(value * 100) / 100;
}
