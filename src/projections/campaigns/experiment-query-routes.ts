import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { campaignStatuses, type Channel } from '../../domain/campaign.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import type { CampaignsTable } from './campaigns-table.js';
import { ExperimentReader } from './experiment-reader.js';
import { experimentViews, experimentViewSchema } from './experiment-views.js';
import { experimentsProjection } from './experiments-projection.js';

/**
 * GET /api/communication/campaigns/{id}/experiments: the campaign's A/B/n experiments, each with its status, the
 * figures of every variant (test share, and the rest once the winner goes to it), and the winner with the figures it
 * was chosen on and why.
 */
export function registerExperimentQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const campaigns = db as Kysely<CampaignsTable>;
  const reader = new ExperimentReader(db);
  app.withTypeProvider<ZodTypeProvider>().get(
    '/api/communication/campaigns/:id/experiments',
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags: ['campaigns'],
        summary: "A campaign's A/B/n experiments: each variant's figures, the status, the winner and why",
        params: z.object({ id: z.uuid() }),
        querystring: z.object(consistencyQuery),
        response: {
          200: z.object({ campaign_id: z.uuid(), campaign_status: z.enum(campaignStatuses), experiments: z.array(experimentViewSchema), position: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, experimentsProjection.name, request, reply, request.query);
      const row = await campaigns.selectFrom('campaigns').selectAll().where('id', '=', request.params.id).executeTakeFirst();
      if (!row) throw new ApiError('campaign_not_found', `Campaign ${request.params.id} does not exist`, [], 404);
      const campaign = { id: row.id, status: row.status, start_date: row.start_date.toISOString(), end_date: row.end_date.toISOString(), channels: row.channels as Channel[] };
      return {
        campaign_id: row.id,
        campaign_status: row.status as (typeof campaignStatuses)[number],
        experiments: await experimentViews(reader, campaign),
        position,
      };
    },
  );
}
