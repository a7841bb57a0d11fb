import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { parseTargetAudience } from '../../domain/campaign-audience.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import type { CampaignsTable } from '../campaigns/campaigns-table.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { AudienceReader, type AudienceSize } from './audience-reader.js';

const reachSchema = z.object({
  addressable: z.number().int().describe('Customers with an address on the channel'),
  consented: z.number().int().describe('Of those, how many have a marketing consent that lets a message go now'),
});

const audienceSizeSchema = z.object({
  target_audience: z.record(z.string(), z.unknown()),
  size: z.number().int().describe('CRM customers in the audience (erased customers never are)'),
  per_channel: z.object({ email: reachSchema, sms: reachSchema }),
});

/**
 * How many people a campaign would reach, before it is launched, and the CRM segments to choose from:
 *
 * - GET  /api/communication/campaigns/{id}/audience   the campaign's target_audience, sized
 * - POST /api/communication/audience/preview          {target_audience}, sized, without a campaign
 * - GET  /api/communication/segments                  the segments the CRM told us about, with their member counts
 */
export function registerAudienceQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const reader = new AudienceReader(db);
  const campaigns = db as Kysely<CampaignsTable>;
  const tags = ['campaigns'];

  server.get(
    '/api/communication/campaigns/:id/audience',
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags,
        summary: 'The size of a campaign’s audience, per channel, before it is launched',
        params: z.object({ id: z.uuid() }),
        querystring: z.object(consistencyQuery),
        response: { 200: audienceSizeSchema.extend({ campaign_id: z.uuid() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, 'campaigns', request, reply, request.query);
      const row = await campaigns.selectFrom('campaigns').select(['id', 'target_audience']).where('id', '=', request.params.id).executeTakeFirst();
      if (!row) throw new ApiError('campaign_not_found', `Campaign ${request.params.id} does not exist`, [], 404);
      const target = row.target_audience as Record<string, unknown>;
      return { campaign_id: row.id, ...(await sized(reader, target)) };
    },
  );

  server.post(
    '/api/communication/audience/preview',
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags,
        summary: 'The size of a target audience, per channel, without a campaign',
        body: z.strictObject({ target_audience: z.record(z.string(), z.unknown()) }),
        response: { 200: audienceSizeSchema, ...errorResponses },
      },
    },
    async (request) => sized(reader, request.body.target_audience),
  );

  server.get(
    '/api/communication/segments',
    {
      config: { scope: 'campaigns:read' },
      schema: {
        tags,
        summary: 'The CRM segments a target audience can name, with their member counts',
        response: {
          200: z.object({ segments: z.array(z.object({ segment_id: z.string(), name: z.string(), members: z.number().int(), updated_at: z.string() })) }),
          ...errorResponses,
        },
      },
    },
    async () => ({ segments: (await reader.segments()).map((s) => ({ ...s, updated_at: s.updated_at.toISOString() })) }),
  );
}

/** The audience sized, or the rule it breaks (the same codes as a launch). */
async function sized(reader: AudienceReader, target: Record<string, unknown>): Promise<{ target_audience: Record<string, unknown> } & Omit<AudienceSize, 'segment_known'>> {
  if (Object.keys(target).length === 0) {
    throw new ApiError('campaign_has_no_audience', 'The campaign names no target audience', [{ path: 'target_audience', message: 'name a CRM segment or customers' }], 422);
  }
  const parsed = parseTargetAudience(target);
  if ('problems' in parsed) throw new ApiError('invalid_target_audience', 'The target audience is not one this service understands', parsed.problems, 422);
  const size = await reader.size(parsed.audience);
  if (!size.segment_known) {
    throw new ApiError('unknown_segment', `The CRM has no segment ${parsed.audience.segment}`, [{ path: 'target_audience.segment', message: 'unknown segment' }], 422);
  }
  return { target_audience: target, size: size.size, per_channel: size.per_channel };
}
