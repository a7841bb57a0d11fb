import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import { planChannel, type WebPlan } from '../../domain/campaign-channels.js';
import type { Channel } from '../../domain/campaign.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { CampaignsTable } from '../campaigns/campaigns-table.js';

const promotionSchema = z.object({
  campaign_id: z.uuid(),
  title: z.string(),
  body: z.string(),
  image_url: z.string().nullable(),
  link_url: z.string().nullable(),
  starts_at: z.string(),
  ends_at: z.string(),
});

/** How long a browser or CDN may keep the feed: a new promotion shows on the website within a minute. */
const MAX_AGE_SECONDS = 60;

/**
 * GET /api/communication/promotions: the web channel of every active campaign, for the restaurant's website. Public
 * (the website calls it from browsers, with no key to hide), so it shows only what the campaign publishes: the web
 * channel's title, text, image and link, and the campaign's dates. Neither the campaign's name, budget, audience nor
 * any other channel appears. Read from the campaigns read model, so it follows launches and cancellations.
 */
export function registerPromotionFeedRoutes(app: FastifyInstance, db: SharedDatabase): void {
  const campaigns = db as Kysely<CampaignsTable>;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/communication/promotions',
    {
      config: { public: true },
      schema: {
        tags: ['campaigns'],
        summary: 'Public feed of the active promotions (web channels of active campaigns), highest priority first',
        security: [],
        response: { 200: z.object({ promotions: z.array(promotionSchema), generated_at: z.string() }) },
      },
    },
    async (_request, reply) => {
      const now = new Date();
      const rows = await campaigns
        .selectFrom('campaigns')
        .select(['id', 'channels', 'start_date', 'end_date'])
        .where('status', '=', 'active')
        .where('start_date', '<=', now)
        .where('end_date', '>', now)
        .where(sql<boolean>`channels @> '[{"type": "web"}]'::jsonb`)
        .orderBy('priority', 'desc')
        .orderBy('start_date')
        .orderBy('id')
        .limit(100)
        .execute();
      const promotions = rows.flatMap((row) => {
        const window = { start_date: row.start_date.toISOString(), end_date: row.end_date.toISOString() };
        return (row.channels as Channel[]).flatMap((channel, index) => {
          if (channel.type !== 'web') return [];
          const planned = planChannel(channel, index, window);
          if (!('plan' in planned)) return [];
          const { title, body, image_url, link_url } = planned.plan as WebPlan;
          return [{ campaign_id: row.id, title, body, image_url, link_url, starts_at: window.start_date, ends_at: window.end_date }];
        });
      });
      reply.header('cache-control', `public, max-age=${MAX_AGE_SECONDS}`);
      return { promotions, generated_at: now.toISOString() };
    },
  );
}
