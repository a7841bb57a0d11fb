import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { platformSchema } from '../domain/publication-events.js';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { errorResponses, errorSchema } from '../infrastructure/http/error-schemas.js';
import { forgetIdempotencyClaim } from '../infrastructure/http/idempotency.js';
import type { OAuthConnections } from './oauth-connections.js';
import { commandContext } from './request-context.js';

const base = '/api/communication/connections';
const tags = ['connections'];
const params = z.object({ platform: platformSchema.describe('facebook, instagram, twitter, google_business or linkedin') });

const startedView = z.object({
  platform: platformSchema,
  authorization_url: z.string().describe("Open it in the browser of someone who administers the account; the platform sends the browser back to the callback"),
  state_expires_at: z.string().describe('The flow must be finished before then'),
});

/** What the platform adds to the redirect: code and state, or error (and vendor extras such as Google's scope). */
const callbackQuery = z.looseObject({
  code: z.string().min(1).max(4_096).optional(),
  state: z.string().min(1).max(512).optional(),
  error: z.string().min(1).max(500).optional(),
  error_description: z.string().max(2_000).optional(),
});

const connectedView = z.object({
  platform: platformSchema,
  account: z.string(),
  status: z.literal('connected'),
  scopes: z.array(z.string()),
  expires_at: z.string().nullable().describe('When the access token expires; refreshed before then when refreshable'),
  refreshable: z.boolean().describe('false: Facebook and Instagram, reconnect before expires_at (an alert comes 7 days before)'),
  position: z.string().nullable().describe('Pass as min_position to GET /api/communication/connections'),
});

/**
 * Connecting platform accounts with OAuth 2.0 (authorization code). Starting needs the admin scope; the callback is
 * reached by the platform's redirect of the administrator's browser, which carries no API key: the single-use state
 * made by the start authenticates it instead (see test/infrastructure/http/route-auth.test.ts).
 */
export function registerOAuthRoutes(app: FastifyInstance, connections: OAuthConnections, db: SharedDatabase): void {
  const server = app.withTypeProvider<ZodTypeProvider>();

  server.post(
    `${base}/:platform/authorize`,
    {
      config: { scope: 'admin' },
      // The answer holds a live state: an Idempotency-Key record would keep it, in clear, to replay it. A retry starts another flow.
      preValidation: async (request) => forgetIdempotencyClaim(request, db),
      schema: { tags, summary: 'Start connecting a platform account: answers the URL of its consent screen', params, response: { 200: startedView, ...errorResponses } },
    },
    async (request, reply) => {
      const started = await connections.start(request.params.platform, request.apiKey?.prefix ?? null);
      // The URL holds a live state: no cache may keep it.
      reply.header('cache-control', 'no-store');
      return { platform: request.params.platform, authorization_url: started.authorizationUrl, state_expires_at: started.stateExpiresAt.toISOString() };
    },
  );

  server.get(
    `${base}/:platform/authorize`,
    {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Start connecting a platform account: redirects (302) to its consent screen', params, response: { 302: z.null(), ...errorResponses } },
    },
    async (request, reply) => {
      const started = await connections.start(request.params.platform, request.apiKey?.prefix ?? null);
      return reply.header('cache-control', 'no-store').redirect(started.authorizationUrl, 302);
    },
  );

  server.get(
    `${base}/:platform/callback`,
    {
      config: { public: true },
      schema: {
        tags,
        summary: "Where the platform sends the browser back: checks the state, exchanges the code, keeps the tokens in the vault",
        params,
        querystring: callbackQuery,
        response: { 200: connectedView, 400: errorSchema, 409: errorSchema, 422: errorSchema, 502: errorSchema },
      },
    },
    async (request, reply) => {
      const connected = await connections.complete(request.params.platform, request.query, commandContext(request));
      reply.header('cache-control', 'no-store');
      return {
        platform: connected.platform,
        account: connected.account,
        status: 'connected' as const,
        scopes: connected.scopes,
        expires_at: connected.expiresAt?.toISOString() ?? null,
        refreshable: connected.refreshable,
        position: connected.position,
      };
    },
  );
}
