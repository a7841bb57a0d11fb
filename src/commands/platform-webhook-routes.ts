import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { isDomainError } from '../domain/domain-error.js';
import {
  engagementDecider,
  engagementEvents,
  engagementStreamId,
  type EngagementCommand,
  type EngagementEvent,
  type EngagementState,
} from '../domain/engagement.js';
import type { PlatformsConfig } from '../infrastructure/config/config-files.js';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { EventStore } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import { errorSchema } from '../infrastructure/http/error-schemas.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import {
  answerFacebookSubscription,
  FACEBOOK_SIGNATURE_HEADER,
  FacebookPayloadError,
  parseFacebookFeed,
  verifyFacebookSignature,
  type FacebookInteraction,
} from '../platforms/social/inbound/facebook-webhook.js';
import type { EngagementTable } from '../projections/engagement/engagement-table.js';
import { CommandHandler, type CommandContext } from './command-handler.js';

/**
 * /api/communication/webhooks/inbound/facebook: the Facebook Page webhook. No API key (Facebook cannot send one):
 * GET answers the subscription handshake with our verify token, POST is verified on its raw body with
 * X-Hub-Signature-256 and the app secret. Each feed change about one of our posts becomes an
 * EngagementInteractionReceived, with event ids derived from the interaction, so a redelivery records nothing new;
 * changes about other posts are acknowledged and ignored (Facebook retries anything but a 200).
 */
export interface FacebookWebhookSecrets {
  appSecret?: string;
  verifyToken?: string;
}

/** platforms.json facebook entry: app_secret signs the notifications, webhook_verify_token answers the handshake. */
export function facebookWebhookSecretsFromConfig(platforms: PlatformsConfig): FacebookWebhookSecrets {
  const facebook = platforms.facebook;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return { appSecret: text(facebook?.app_secret), verifyToken: text(facebook?.webhook_verify_token) };
}

interface Dependencies {
  store: EventStore;
  db: SharedDatabase;
  secrets: FacebookWebhookSecrets;
  logger: Logger;
}

const url = '/api/communication/webhooks/inbound/facebook';
/** Streams written at once; the interactions of one publication go one after the other (same stream). */
const STREAM_CONCURRENCY = 4;
const outcomeSchema = z.object({ received: z.number().int(), applied: z.number().int(), ignored: z.number().int() });

export async function registerPlatformWebhookRoutes(app: FastifyInstance, deps: Dependencies): Promise<void> {
  const handler = new CommandHandler<EngagementCommand, EngagementEvent, EngagementState>(deps.store, engagementDecider, engagementEvents);
  const read = deps.db as Kysely<EngagementTable>;
  const { secrets, logger } = deps;

  await app.register(async (scope) => {
    // The signature covers the exact bytes received: keep the raw body, parse it here.
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const server = scope.withTypeProvider<ZodTypeProvider>();

    server.get(
      url,
      {
        config: { public: true },
        schema: {
          tags: ['publications'],
          summary: 'Facebook webhook subscription handshake: echoes hub.challenge when hub.verify_token is ours',
          querystring: z.object({
            'hub.mode': z.string().max(100),
            'hub.verify_token': z.string().max(1_000),
            'hub.challenge': z.string().max(1_000),
          }),
          response: { 200: z.string().describe('hub.challenge, as text/plain'), 400: errorSchema, 403: errorSchema, 404: errorSchema },
        },
      },
      async (request, reply) => {
        const expectedToken = secrets.verifyToken;
        if (!expectedToken) throw notConfigured('webhook_verify_token');
        const q = request.query;
        const answer = answerFacebookSubscription({ expectedToken, mode: q['hub.mode'], verifyToken: q['hub.verify_token'], challenge: q['hub.challenge'] });
        if (!answer.ok) {
          const details = [{ path: `querystring.${answer.field}`, message: answer.reason }];
          // A wrong token is a refusal; a wrong mode or challenge is a malformed request.
          if (answer.field === 'hub.verify_token') throw new ApiError('verification_failed', 'The Facebook subscription could not be verified', details, 403);
          throw new ApiError('validation_failed', answer.reason, details);
        }
        return reply.type('text/plain; charset=utf-8').send(answer.challenge);
      },
    );

    server.post(
      url,
      {
        config: { public: true },
        schema: {
          tags: ['publications'],
          summary: 'Facebook Page feed changes (comments, reactions, shares), verified by X-Hub-Signature-256',
          response: { 200: outcomeSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema },
        },
      },
      async (request) => {
        const appSecret = secrets.appSecret;
        if (!appSecret) throw notConfigured('app_secret');
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const header = request.headers[FACEBOOK_SIGNATURE_HEADER];
        const verification = verifyFacebookSignature({ appSecret, signature: Array.isArray(header) ? header[0] : header, rawBody: raw });
        if (!verification.ok) {
          throw new ApiError('invalid_signature', `The Facebook request could not be verified: ${verification.reason}`, [
            { path: `headers.${FACEBOOK_SIGNATURE_HEADER}`, message: verification.reason },
          ], 401);
        }
        const batch = parse(raw);
        for (const problem of batch.invalid) logger.warn({ platform: 'facebook', field: problem.field, problem: problem.message }, 'malformed Facebook feed change ignored');
        const applied = await record(batch.interactions, request.id);
        const received = batch.interactions.length + batch.ignored + batch.invalid.length;
        return { received, applied, ignored: received - applied };
      },
    );
  });

  /** Records the interactions about our posts; returns how many were new. */
  async function record(interactions: FacebookInteraction[], requestId: string): Promise<number> {
    if (interactions.length === 0) return 0;
    const publications = await publicationsOf([...new Set(interactions.map((i) => i.postId))]);
    const byPublication = new Map<string, FacebookInteraction[]>();
    for (const interaction of interactions) {
      const publicationId = publications.get(interaction.postId);
      if (!publicationId) continue;
      const list = byPublication.get(publicationId);
      if (list) list.push(interaction);
      else byPublication.set(publicationId, [interaction]);
    }
    const unknown = interactions.length - [...byPublication.values()].reduce((n, list) => n + list.length, 0);
    if (unknown > 0) logger.debug({ platform: 'facebook', count: unknown }, 'Facebook feed changes about posts we did not publish ignored');
    let applied = 0;
    const groups = [...byPublication.entries()];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(STREAM_CONCURRENCY, groups.length) }, async () => {
        while (next < groups.length) {
          const [publicationId, list] = groups[next++]!;
          for (const interaction of list) if (await recordOne(publicationId, interaction, requestId)) applied++;
        }
      }),
    );
    return applied;
  }

  async function recordOne(publicationId: string, interaction: FacebookInteraction, requestId: string): Promise<boolean> {
    const { postId, interactionId, kind, verb } = interaction;
    const context: CommandContext = { correlationId: requestId, causationId: `facebook:${interactionId}`, actor: 'platform:facebook', now: new Date() };
    try {
      const result = await handler.handle(
        engagementStreamId(publicationId),
        {
          type: 'RecordEngagementInteraction',
          publication_id: publicationId,
          platform: 'facebook',
          post_id: postId,
          interaction_id: interactionId,
          kind,
          verb,
          now: context.now.toISOString(),
        },
        context,
        { eventIdSeed: `facebook:${publicationId}:${verb}:${interactionId}` },
      );
      return result.appended > 0;
    } catch (error) {
      if (!isDomainError(error)) throw error;
      logger.info({ platform: 'facebook', publication_id: publicationId, code: error.code }, 'Facebook interaction not recorded');
      return false;
    }
  }

  async function publicationsOf(postIds: string[]): Promise<Map<string, string>> {
    const rows = await read
      .selectFrom('publication_engagement')
      .select(['publication_id', 'post_id'])
      .where('platform', '=', 'facebook')
      .where('post_id', 'in', postIds)
      .execute();
    return new Map(rows.map((row) => [row.post_id, row.publication_id]));
  }
}

function parse(raw: Buffer): ReturnType<typeof parseFacebookFeed> {
  try {
    return parseFacebookFeed(raw);
  } catch (error) {
    if (error instanceof FacebookPayloadError) {
      const path = error.field === 'body' ? 'body' : `body.${error.field}`;
      throw new ApiError('validation_failed', error.message, [{ path, message: error.message }]);
    }
    throw error;
  }
}

function notConfigured(key: string): ApiError {
  return new ApiError('platform_not_configured', `The Facebook webhook is not configured: set facebook.${key} in platforms.json`, [], 404);
}
