import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { utcText } from '../../infrastructure/time/utc-text.js';
import { ANALYTICS_TIME_ZONE } from '../analytics/paris-calendar.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { BestTimes, DEFAULT_LOOKBACK_DAYS, DEFAULT_MIN_POSTS } from './best-times.js';
import { engagementProjection } from './engagement-projection.js';
import { weekdayNames } from './posting-slots.js';

const DAY_MS = 86_400_000;

const slotSchema = z.object({
  weekday: z.number().int().describe('ISO weekday: 1 = Monday … 7 = Sunday (Europe/Paris)'),
  day: z.enum(weekdayNames),
  hour: z.number().int().describe('Hour of the day, Europe/Paris (18 = 18:00–18:59)'),
  posts: z.number().int().describe('Measured posts published in this slot'),
  likes: z.number(),
  shares: z.number(),
  comments: z.number(),
  clicks: z.number(),
  interactions: z.number().describe('likes + shares + comments + clicks'),
  interactions_per_post: z.number(),
  reach_per_post: z.number().nullable(),
  engagement_rate: z.number().nullable().describe('interactions / reach, over the posts that report reach'),
  lift: z.number().nullable().describe('interactions_per_post over the mean of every post of the period'),
});

const bestTimesQuery = z.object({
  platform: platformSchema,
  days: z.coerce.number().int().min(7).max(3 * 365).default(DEFAULT_LOOKBACK_DAYS).describe('How many days back posts count'),
  min_posts: z.coerce.number().int().min(1).max(1_000).default(DEFAULT_MIN_POSTS).describe('Posts a slot needs to be ranked'),
  limit: z.coerce.number().int().min(1).max(168).default(5),
  ...consistencyQuery,
});

/**
 * GET /api/communication/insights/best-times?platform=facebook: the weekday × hour slots (Europe/Paris) whose past
 * posts drew the most interactions per post, with the figures they rest on.
 */
export function registerBestTimesRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const bestTimes = new BestTimes(db);
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/communication/insights/best-times',
    {
      config: { scope: 'analytics:read' },
      schema: {
        tags: ['analytics'],
        summary: 'Best posting times of a platform, from past engagement (weekday × hour, Europe/Paris)',
        querystring: bestTimesQuery,
        response: {
          200: z.object({
            platform: platformSchema,
            time_zone: z.literal(ANALYTICS_TIME_ZONE),
            from: z.string(),
            to: z.string(),
            ranked_by: z.literal('interactions_per_post'),
            min_posts: z.number().int(),
            posts: z.number().int().describe('Measured posts of the period'),
            interactions_per_post: z.number().nullable().describe('Over every post of the period: the baseline of lift'),
            slots: z.array(slotSchema).describe('Best first; only slots with at least min_posts posts'),
            slots_below_min_posts: z.number().int().describe('Slots with posts, but too few to rank'),
            position: z.string().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, engagementProjection.name, request, reply, request.query);
      const { platform, days, min_posts, limit } = request.query;
      const to = new Date();
      const from = new Date(to.getTime() - days * DAY_MS);
      const ranking = await bestTimes.ranking(platform, { from, to, minPosts: min_posts });
      return {
        platform,
        time_zone: ANALYTICS_TIME_ZONE,
        from: utcText(from),
        to: utcText(to),
        ranked_by: 'interactions_per_post' as const,
        min_posts,
        posts: ranking.posts,
        interactions_per_post: ranking.interactions_per_post,
        slots: ranking.ranked.slice(0, limit),
        slots_below_min_posts: ranking.below_min_posts,
        position,
      };
    },
  );
}
