import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { campaignStatuses, channelSchema } from '../../domain/campaign.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { ReadPositions } from '../read-positions.js';
import type { CampaignsTable } from './campaigns-table.js';

const base = '/api/communication/campaigns';

export const campaignViewSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  status: z.enum(campaignStatuses),
  start_date: z.string(),
  end_date: z.string(),
  target_audience: z.record(z.string(), z.unknown()),
  budget: z.number(),
  success_metrics: z.record(z.string(), z.unknown()),
  channels: z.array(channelSchema),
  priority: z.number().int(),
  revision: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});
type CampaignView = z.infer<typeof campaignViewSchema>;

const listQuery = z.object({
  status: z
    .string()
    .optional()
    .describe(`Comma-separated statuses among ${campaignStatuses.join(', ')}; e.g. status=active for the active campaigns`)
    .transform((value, ctx) => {
      if (!value) return undefined;
      const list = value.split(',').map((s) => s.trim());
      const unknown = list.filter((s) => !(campaignStatuses as readonly string[]).includes(s));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown status ${unknown.join(', ')}` });
      return list;
    }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
  ...consistencyQuery,
});

export function registerCampaignQueryRoutes(app: FastifyInstance, db: Kysely<CampaignsTable>, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['campaigns'];

  server.get(
    base,
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags,
        summary: 'List campaigns, newest first (filter by status, e.g. ?status=active)',
        querystring: listQuery,
        response: {
          200: z.object({ campaigns: z.array(campaignViewSchema), next_cursor: z.string().nullable(), position: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, 'campaigns', request, reply, request.query);
      const { status, limit, cursor } = request.query;
      let query = db.selectFrom('campaigns').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
      if (status) query = query.where('status', 'in', status);
      if (cursor) {
        const after = decodeCursor(cursor);
        query = query.where((eb) =>
          eb.or([eb('created_at', '<', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '<', after.id)])]),
        );
      }
      const rows = await query.execute();
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        campaigns: page.map(toView),
        next_cursor: rows.length > limit && last ? encodeCursor(last.created_at, last.id) : null,
        position,
      };
    },
  );

  server.get(
    `${base}/:id`,
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags,
        summary: 'One campaign',
        params: z.object({ id: z.uuid() }),
        querystring: z.object(consistencyQuery),
        response: { 200: campaignViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, 'campaigns', request, reply, request.query);
      const row = await db.selectFrom('campaigns').selectAll().where('id', '=', request.params.id).executeTakeFirst();
      if (!row) throw new ApiError('campaign_not_found', `Campaign ${request.params.id} does not exist`, [], 404);
      reply.header('etag', `"${row.revision}"`);
      return toView(row);
    },
  );
}

function toView(row: CampaignsTable['campaigns']): CampaignView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status as CampaignView['status'],
    start_date: row.start_date.toISOString(),
    end_date: row.end_date.toISOString(),
    target_audience: row.target_audience as Record<string, unknown>,
    budget: Number(row.budget),
    success_metrics: row.success_metrics as Record<string, unknown>,
    channels: row.channels as CampaignView['channels'],
    priority: row.priority,
    revision: row.revision,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
