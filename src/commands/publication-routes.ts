import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { publicationDecider, publicationStatuses, type Platform, type PublicationState } from '../domain/publication.js';
import { validatePublication, type ValidationResult } from '../domain/publication-validation.js';
import { formatPosition, type EventStore, type Position } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { checkOutboundUrl, outboundRefusalOf, type OutboundCheckOptions } from '../infrastructure/http/outbound-guard.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import type { BestTimes } from '../projections/engagement/best-times.js';
import { parsePublicationId, platformPublicationId } from '../projections/publications/publication-ids.js';
import { PublicationPublisher, publicationStreamId } from './publication-publisher.js';
import type { PublicationSlotBooker } from './publication-slot-booker.js';
import {
  cancelBodySchema,
  invalidPublicationSchema,
  publishBodySchema,
  rescheduleBodySchema,
  suggestionSchema,
  toUtc,
  violationSchema,
  type PublishBody,
} from './publication-requests.js';
import { commandContext } from './request-context.js';
import { utcText } from '../infrastructure/time/utc-text.js';
import { newId } from '../infrastructure/ids/new-id.js';

export { publicationStreamId };

const publishedSchema = z.object({
  publication_id: z.uuid(),
  status: z.enum(publicationStatuses),
  publication_ids: z.record(z.string(), z.string()).describe('Per platform, e.g. {"facebook": "fb_<uuid>"}: each works with GET /publications/{id}'),
  scheduled_time: z.string().describe('UTC'),
  rescheduled_reason: z.string().nullable().describe('Why the time differs from the one asked (quota, minimum gap), or null'),
  position: z.string().nullable().describe('Pass as min_position to a query to read your own write'),
});

const idParams = z.object({ id: z.string().min(1).max(100).describe('The publication uuid or a per-platform id (fb_<uuid>, ig_<uuid>...)') });

export interface PublicationRouteOptions {
  store: EventStore;
  booker: PublicationSlotBooker;
  /** Platforms with a connector in platforms.json: publishing elsewhere is refused up front. */
  configuredPlatforms: ReadonlySet<Platform>;
  logger: Logger;
  /** Platforms fetch media from the internet: media_urls must be public (plus COMM_OUTBOUND_ALLOWLIST). */
  outbound: OutboundCheckOptions;
  /** Best posting times from past engagement: offered with ?suggest_times=true (absent: never offered). */
  bestTimes?: BestTimes;
}

const suggestedTimeSchema = z.object({
  platform: z.string(),
  scheduled_time: z.string().describe('UTC: send it back as scheduled_time'),
  scheduled_time_local: z.string().describe('The same time in Europe/Paris'),
  day: z.string(),
  hour: z.number().int().describe('Europe/Paris'),
  posts: z.number().int().describe('Past measured posts of this platform in this weekday × hour'),
  interactions_per_post: z.number(),
  lift: z.number().nullable().describe("interactions_per_post over the platform's mean"),
});

/** Opt-in, so that existing clients keep the exact response they know. */
const suggestQuery = z.object({
  suggest_times: z
    .enum(['true', 'false'])
    .optional()
    .describe('true: add suggested_times, the next best posting times of each platform from past engagement (GET /insights/best-times)'),
});

/**
 * POST /api/communication/publish (the spec's request and response), its dry run /publish/validate, and cancel /
 * reschedule of one publication. Content is checked against each platform's rules first (422 with each violation and
 * an alternative that passes); then the slot is booked under the per-account quotas and gaps, which may move this
 * publication or lower-priority ones (PublicationRescheduled records why).
 */
export function registerPublicationCommandRoutes(app: FastifyInstance, options: PublicationRouteOptions): void {
  const { store, booker, configuredPlatforms, logger, outbound, bestTimes } = options;
  const publisher = new PublicationPublisher(store, booker, logger);
  const handler = publisher.handler;
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['publications'];

  const checkContent = (body: PublishBody): ValidationResult => {
    const unconfigured = body.platforms.map((platform, index) => ({ platform, index })).filter((p) => !configuredPlatforms.has(p.platform));
    if (unconfigured.length > 0) {
      throw new ApiError(
        'platform_not_configured',
        `No account is configured for ${unconfigured.map((p) => p.platform).join(', ')} (platforms.json)`,
        unconfigured.map((p) => ({ path: `platforms.${p.index}`, message: `${p.platform} has no entry in platforms.json` })),
        422,
      );
    }
    return validatePublication({ content: body.content, platforms: body.platforms });
  };
  const suggestions = async (query: z.infer<typeof suggestQuery>, body: PublishBody, now: Date) =>
    query.suggest_times === 'true' && bestTimes ? { suggested_times: await bestTimes.suggestions(body.platforms, now) } : {};
  const refuse = (reply: FastifyReply, result: ValidationResult) =>
    reply.status(422).send({
      error: 'publication_invalid' as const,
      message: `The content breaks ${result.violations.length} platform rule(s); see violations, and suggestion for a version that passes`,
      details: result.violations.map((v) => ({ path: `platforms.${v.platform}.${v.field}`, message: v.message })),
      violations: result.violations,
      suggestion: result.suggestion,
    });

  server.post(
    '/api/communication/publish',
    {
      config: { scope: 'publications:write' },
      schema: {
        tags,
        summary: 'Schedule content on social platforms (now when scheduled_time is absent)',
        headers: z.object({ 'idempotency-key': z.string().optional() }),
        querystring: suggestQuery,
        body: publishBodySchema,
        response: {
          202: publishedSchema.extend({ suggested_times: z.array(suggestedTimeSchema).optional().describe('With ?suggest_times=true') }),
          ...errorResponses,
          422: invalidPublicationSchema.or(errorResponses[422]),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const result = checkContent(body);
      if (!result.valid) return refuse(reply, result);
      await checkMediaUrls(body.content.media_urls, outbound);
      const id = body.id ?? newId();
      const now = new Date();
      const requested = body.scheduled_time ? toUtc(body.scheduled_time) : now.toISOString();
      const context = commandContext(request, now);
      const { platforms, content, targeting, campaign_id, priority } = body;
      const { booking, ...outcome } = await publisher.publish(id, { content, platforms, scheduled_time: requested, targeting, campaign_id, priority }, context);
      const state = outcome.state;
      reply.header('location', `/api/communication/publications/${id}`);
      return reply.status(202).send({
        publication_id: id,
        status: state.status === 'none' ? 'scheduled' : state.status,
        publication_ids: Object.fromEntries(platforms.map((p) => [p, platformPublicationId(p, id)])),
        scheduled_time: utcText(booking.at),
        rescheduled_reason: booking.reason,
        position: positionText(outcome.position),
        ...(await suggestions(request.query, body, now)),
      });
    },
  );

  server.post(
    '/api/communication/publish/validate',
    {
      config: { scope: 'publications:write' },
      schema: {
        tags,
        summary: 'Check content against each platform’s rules without scheduling anything',
        querystring: suggestQuery,
        body: publishBodySchema,
        response: {
          200: z.object({
            valid: z.boolean(),
            violations: z.array(violationSchema),
            suggestion: suggestionSchema,
            suggested_times: z.array(suggestedTimeSchema).optional().describe('With ?suggest_times=true: the next best times of each platform'),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const body = request.body;
      const result = checkContent(body);
      await checkMediaUrls(body.content.media_urls, outbound);
      // The rules the decider applies on scheduling (a body or a medium, not in the past...) answer as POST /publish does.
      const now = new Date();
      const scheduled_time = body.scheduled_time ? toUtc(body.scheduled_time) : now.toISOString();
      const { content, platforms, targeting, campaign_id, priority } = body;
      publicationDecider.decide(
        { type: 'SchedulePublication', publication_id: newId(), request: { content, platforms, scheduled_time, targeting, campaign_id, priority }, now: now.toISOString() },
        publicationDecider.initialState(),
      );
      return { valid: result.valid, violations: result.violations, suggestion: result.suggestion, ...(await suggestions(request.query, body, now)) };
    },
  );

  server.post(
    '/api/communication/publications/:id/cancel',
    {
      config: { scope: 'publications:write' },
      schema: {
        tags,
        summary: 'Cancel the platforms still waiting (those already publishing finish)',
        params: idParams,
        body: cancelBodySchema,
        response: { 200: publishedSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = publicationIdOf(request.params.id);
      const now = new Date();
      const result = await handler.handle(
        publicationStreamId(id),
        { type: 'CancelPublication', publication_id: id, reason: request.body?.reason, now: now.toISOString() },
        commandContext(request, now),
      );
      booker.forget(id);
      return describe(id, result.state, result.position, null);
    },
  );

  server.post(
    '/api/communication/publications/:id/reschedule',
    {
      config: { scope: 'publications:write' },
      schema: {
        tags,
        summary: 'Move a publication that has not started to another time (quotas and gaps still apply)',
        params: idParams,
        body: rescheduleBodySchema,
        response: { 200: publishedSchema, ...errorResponses },
      },
    },
    async (request) => {
      const id = publicationIdOf(request.params.id);
      const now = new Date();
      const context = commandContext(request, now);
      const loaded = await handler.load(publicationStreamId(id));
      if (loaded.state.status === 'none') throw new ApiError('publication_not_found', `Publication ${id} does not exist`, [], 404);
      const current = loaded.state;
      const wanted = toUtc(request.body.scheduled_time);
      const platforms = current.platforms.map((p) => p.platform);
      const { booking, result } = await booker.book({ publicationId: id, platforms, at: Date.parse(wanted), priority: current.priority }, async (booking) => {
        const reason = [request.body.reason || 'rescheduled through the API', booking.reason].filter(Boolean).join('; ');
        const rescheduled = await handler.handle(
          publicationStreamId(id),
          { type: 'ReschedulePublication', publication_id: id, scheduled_time: new Date(booking.at).toISOString(), reason, now: now.toISOString() },
          context,
          { loaded },
        );
        const movedAt = await publisher.moveOthers(booking.moves, context);
        return { state: rescheduled.state, position: movedAt ?? rescheduled.position };
      });
      return describe(id, result.state, result.position, booking.reason);
    },
  );
}

/** A media URL on this host or the private network would make us (X, LinkedIn downloads) or the platforms probe it. */
async function checkMediaUrls(urls: readonly string[] | undefined, outbound: OutboundCheckOptions): Promise<void> {
  const refusals = await Promise.all(
    (urls ?? []).map((url) =>
      checkOutboundUrl(url, outbound).then(
        () => null,
        (error: unknown) => {
          const refusal = outboundRefusalOf(error);
          if (!refusal) throw error;
          return refusal;
        },
      ),
    ),
  );
  const refused = refusals.flatMap((refusal, index) => (refusal ? [{ path: `content.media_urls.${index}`, message: refusal.reason }] : []));
  if (refused.length > 0) throw new ApiError('media_url_refused', `${refused.length} media URL(s) cannot be fetched: they must be public`, refused, 422);
}

function publicationIdOf(text: string): string {
  const parsed = parsePublicationId(text);
  if (!parsed) throw new ApiError('validation_failed', 'Not a publication id', [{ path: 'params.id', message: 'expected a uuid or a per-platform id such as fb_<uuid>' }]);
  return parsed.publicationId;
}

function positionText(position: Position | null): string | null {
  return position ? formatPosition(position) : null;
}

function describe(id: string, state: PublicationState, position: Position | null, reason: string | null) {
  if (state.status === 'none') throw new ApiError('publication_not_found', `Publication ${id} does not exist`, [], 404);
  return {
    publication_id: id,
    status: state.status,
    publication_ids: Object.fromEntries(state.platforms.map((p) => [p.platform, platformPublicationId(p.platform, id)])),
    scheduled_time: utcText(state.scheduled_time),
    rescheduled_reason: reason,
    position: positionText(position),
  };
}
