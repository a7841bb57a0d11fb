import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { analyticsChannels } from '../../domain/conversion.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { granularities, instantOf, maxRangeDays, periodRange, periodText } from './analytics-period.js';
import { analyticsProjection } from './analytics-projection.js';
import { groupDimensions, MAX_SERIES_ROWS, readBudgets, readBuckets, seriesOf, totalsOf, TooManyRows, type GroupDimension } from './analytics-query.js';
import { NO_CAMPAIGN, type AnalyticsTables } from './analytics-tables.js';
import { ANALYTICS_TIME_ZONE } from './paris-calendar.js';

const instant = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);
const count = z.number();
const rate = z.number().nullable();

const metricsSchema = z.object({
  sent: count.describe('Messages the provider accepted; posts published'),
  delivered: count.describe('Messages the provider reported delivered'),
  failed: count.describe('Messages refused or undelivered (bounces included); posts failed for good'),
  bounced: count,
  skipped: count.describe('Notifications not sent on purpose (consent, suppression)'),
  unique_opens: count.describe('Notifications opened at least once'),
  unique_clicks: count,
  opens: count.describe('Every open reported'),
  clicks: count,
  delivery_rate: rate.describe('delivered / sent'),
  open_rate: rate.describe('unique_opens / delivered'),
  click_rate: rate.describe('unique_clicks / delivered'),
  bounce_rate: rate.describe('bounced / sent'),
  engagement: z.object({ likes: count, shares: count, comments: count, reach: count, impressions: count, clicks: count }),
  conversions: z.object({ count, revenue: count, currency: z.literal('EUR') }),
  cost: z.object({
    amount: count.describe('Spend recorded in euros'),
    currency: z.literal('EUR'),
    records: count.describe('Messages with a recorded spend'),
    not_in_eur: count.describe('Spend records in another currency, not in amount'),
  }),
});

const seriesRowSchema = metricsSchema.extend({
  period_start: z.string(),
  period_end: z.string(),
  campaign_id: z.string().nullable().optional(),
  channel: z.string().nullable().optional(),
  platform: z.string().nullable().optional(),
});

const analyticsResponseSchema = z.object({
  granularity: z.enum(granularities),
  time_zone: z.literal(ANALYTICS_TIME_ZONE),
  from: z.string().describe('First instant covered (whole periods)'),
  to: z.string().describe('First instant after the range'),
  filters: z.object({ campaign_id: z.string().nullable(), channel: z.string().nullable(), platform: z.string().nullable() }),
  group_by: z.array(z.enum(groupDimensions)),
  totals: metricsSchema,
  series: z.array(seriesRowSchema),
  budgets: z.array(
    z.object({
      campaign_id: z.string(),
      budget: count,
      spent: count.describe('Since the campaign began, whatever the range'),
      remaining: count,
      consumed_rate: rate,
      currency: z.literal('EUR'),
    }),
  ),
  position: z.string().nullable(),
});

const groupByParam = z
  .string()
  .default('none')
  .transform((value, ctx) => {
    if (value === 'none' || value === '') return [] as GroupDimension[];
    const parts = [...new Set(value.split(',').map((part) => part.trim()))];
    const unknown = parts.filter((part) => !groupDimensions.includes(part as GroupDimension));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown ${unknown.join(', ')}; use campaign, channel, platform (comma-separated) or none` });
      return z.NEVER;
    }
    return groupDimensions.filter((dimension) => parts.includes(dimension));
  });

const analyticsQuery = z.object({
  campaign_id: z.union([z.uuid(), z.literal('none')]).optional().describe('A campaign, or "none" for messages sent outside campaigns'),
  channel: z.enum(analyticsChannels).optional(),
  platform: z
    .string()
    .regex(/^[a-z0-9_]{1,50}$/, 'a provider (sendgrid, twilio…) or a social platform (facebook…)')
    .optional()
    .describe('The notification provider or the social platform'),
  from: instant.optional().describe('Inclusive; a date is the start of that Europe/Paris day. Default: a range per granularity ending at `to`'),
  to: instant.optional().describe('Exclusive. Default: now'),
  granularity: z.enum(granularities).default('day').describe('hour (UTC hours), day or week (Europe/Paris days, ISO weeks)'),
  group_by: groupByParam.describe('Dimensions of each series row: comma-separated campaign, channel, platform; default none (one row per period)'),
  ...consistencyQuery,
});

/**
 * GET /api/communication/analytics (spec "Endpoints exposés"): sent, delivered, failed, rates, engagement, conversions
 * and spend per period, campaign, channel and platform, with totals and the campaigns' budgets.
 */
export function registerAnalyticsQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions, now: () => Date = () => new Date()): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const read = db as Kysely<AnalyticsTables>;

  server.get(
    '/api/communication/analytics',
    {
      config: { scope: 'analytics:read' },
      schema: {
        tags: ['analytics'],
        summary: 'Campaign performance: messages, rates, engagement, conversions and spend per period, campaign, channel and platform',
        querystring: analyticsQuery,
        response: { 200: analyticsResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const q = request.query;
      for (const name of ['from', 'to'] as const) {
        const text = q[name];
        if (text !== undefined && Number.isNaN(instantOf(text).getTime())) {
          throw new ApiError('invalid_range', `${name} is not a date`, [{ path: `querystring.${name}`, message: 'not a calendar date or time' }], 400);
        }
      }
      const range = periodRange(q.granularity, q.from, q.to, now());
      if (range.from >= range.to) {
        throw new ApiError('invalid_range', 'to must be after from', [{ path: 'querystring.to', message: 'must be after from' }], 400);
      }
      const maxDays = maxRangeDays[q.granularity];
      if (range.to.getTime() - range.from.getTime() > (maxDays + 1) * 86_400_000) {
        throw new ApiError('invalid_range', `A ${q.granularity} series covers at most ${maxDays} days`, [
          { path: 'querystring.from', message: `at most ${maxDays} days before to with granularity ${q.granularity}${q.granularity === 'week' ? '' : '; ask for a coarser granularity'}` },
        ], 400);
      }
      const position = await ensureReadPosition(positions, analyticsProjection.name, request, reply, q);
      const filters = { campaign_id: q.campaign_id === 'none' ? NO_CAMPAIGN : q.campaign_id, channel: q.channel, platform: q.platform };
      let sums;
      try {
        sums = await readBuckets(read, range, filters, q.group_by);
      } catch (error) {
        if (!(error instanceof TooManyRows)) throw error;
        throw new ApiError('too_many_rows', `The answer would have more than ${MAX_SERIES_ROWS} rows`, [
          { path: 'querystring.group_by', message: 'group by fewer dimensions, filter, or ask for a coarser granularity or a shorter range' },
        ], 400);
      }
      const campaigns = filters.campaign_id ? [filters.campaign_id] : [...new Set(sums.map((sum) => sum.campaign_id).filter((id): id is string => id !== undefined))];
      const body: z.infer<typeof analyticsResponseSchema> = {
        granularity: q.granularity,
        time_zone: ANALYTICS_TIME_ZONE,
        from: periodText(q.granularity, range.from),
        to: periodText(q.granularity, range.to),
        filters: { campaign_id: q.campaign_id ?? null, channel: q.channel ?? null, platform: q.platform ?? null },
        group_by: q.group_by,
        totals: totalsOf(sums),
        series: seriesOf(range, sums),
        budgets: await readBudgets(read, campaigns),
        position,
      };
      // Plain JSON.stringify: a series can hold thousands of rows, which the response schema (the type above, and the
      // OpenAPI document) would otherwise check one by one on every request.
      reply.serializer((payload: unknown) => JSON.stringify(payload));
      return body;
    },
  );
}
