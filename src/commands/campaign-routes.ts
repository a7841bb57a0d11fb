import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  campaignDecider,
  campaignEvents,
  campaignFieldsSchema,
  campaignStatuses,
  campaignUpdateSchema,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignState,
} from '../domain/campaign.js';
import { formatPosition, type EventStore } from '../infrastructure/event-store/event-store.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { CommandHandler, type HandleResult } from './command-handler.js';
import { commandContext, ifMatchRevision } from './request-context.js';
import { newId } from '../infrastructure/ids/new-id.js';

const base = '/api/communication/campaigns';

export const campaignStreamId = (campaignId: string) => `campaign-${campaignId}`;

const commandResultSchema = z.object({
  campaign_id: z.uuid(),
  status: z.enum(campaignStatuses),
  revision: z.number().int().describe('Send it back as If-Match to make sure nobody changed the campaign meanwhile'),
  position: z.string().nullable().describe('Pass as min_position to a query to read your own write'),
});

const idParams = z.object({ id: z.uuid() });

export function registerCampaignCommandRoutes(app: FastifyInstance, store: EventStore): void {
  const handler = new CommandHandler<CampaignCommand, CampaignEvent, CampaignState>(store, campaignDecider, campaignEvents);
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['campaigns'];

  const respond = (reply: FastifyReply, campaignId: string, result: HandleResult<CampaignState>, status = 200) => {
    const position = result.position ? formatPosition(result.position) : null;
    reply.header('etag', `"${result.revision}"`);
    if (position) reply.header('x-position', position);
    return reply.status(status).send({
      campaign_id: campaignId,
      status: result.state.status === 'none' ? 'draft' : result.state.status,
      revision: result.revision,
      position,
    });
  };

  server.post(
    base,
    {
      config: { scope: 'campaigns:write' },
      schema: {
        tags,
        summary: 'Create a campaign (draft)',
        headers: z.object({ 'idempotency-key': z.string().optional() }),
        body: campaignFieldsSchema.extend({ id: z.uuid().optional().describe('Client-chosen id; generated when absent') }).strict(),
        response: { 201: commandResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id = newId(), ...fields } = request.body;
      const now = new Date();
      const result = await handler.handle(
        campaignStreamId(id),
        { type: 'CreateCampaign', campaign_id: id, fields, now: now.toISOString() },
        commandContext(request, now),
        { creates: true },
      );
      reply.header('location', `${base}/${id}`);
      return respond(reply, id, result, 201);
    },
  );

  server.patch(
    `${base}/:id`,
    {
      config: { scope: 'campaigns:write' },
      schema: {
        tags,
        summary: 'Change a draft or scheduled campaign (only the fields sent)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
        body: campaignUpdateSchema.strict().refine((b) => Object.keys(b).length > 0, 'send at least one field to change'),
        response: { 200: commandResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const result = await handler.handle(
        campaignStreamId(request.params.id),
        { type: 'UpdateCampaign', campaign_id: request.params.id, changes: request.body, now: now.toISOString() },
        commandContext(request, now),
        { expectedRevision: ifMatchRevision(request) },
      );
      return respond(reply, request.params.id, result);
    },
  );

  const transitions = [
    ['schedule', 'ScheduleCampaign', 'Schedule a draft campaign (needs at least one channel and a future end date)'],
    ['activate', 'ActivateCampaign', 'Start a scheduled campaign'],
    ['complete', 'CompleteCampaign', 'Close an active campaign'],
    ['cancel', 'CancelCampaign', 'Cancel a campaign that has not ended'],
  ] as const;
  for (const [action, type, summary] of transitions) {
    server.post(
      `${base}/:id/${action}`,
      {
        config: { scope: 'campaigns:write' },
        schema: {
          tags,
          summary,
          params: idParams,
          headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
          body: z.strictObject({ reason: z.string().max(1_000).optional() }).nullish(),
          response: { 200: commandResultSchema, ...errorResponses },
        },
      },
      async (request, reply) => {
        const now = new Date();
        const command = { type, campaign_id: request.params.id, now: now.toISOString(), reason: request.body?.reason } as CampaignCommand;
        const result = await handler.handle(campaignStreamId(request.params.id), command, commandContext(request, now), {
          expectedRevision: ifMatchRevision(request),
        });
        return respond(reply, request.params.id, result);
      },
    );
  }
}
