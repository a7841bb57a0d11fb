import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { apiKeyPresetNames, apiKeyPresets } from '../infrastructure/auth/api-key-presets.js';
import { scopes, type ApiKeyStore, type ApiKeySummary } from '../infrastructure/auth/api-keys.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { forgetIdempotencyClaim, type IdempotencyTable } from '../infrastructure/http/idempotency.js';

const base = '/api/communication/api-keys';
const tags = ['api keys'];
/** The key ensureAdminKey keeps in step with COMM_ADMIN_API_KEY or the data dir: revoking it here would not last a restart. */
const bootstrapKeyId = 'admin';

const createBody = z
  .object({
    name: z.string().trim().min(1).max(100).describe('Who or what uses the key, e.g. "CRM"'),
    scopes: z
      .array(z.enum(scopes))
      .min(1)
      .refine((list) => new Set(list).size === list.length, 'must not repeat a scope')
      .optional()
      .describe('The scopes granted; give either scopes or preset'),
    preset: z.enum(apiKeyPresetNames).optional().describe(`Read-only scope sets: ${describePresets()}`),
    expires_at: z.iso.datetime({ offset: true }).optional().describe('After this instant the key is refused (401)'),
  })
  .superRefine((body, context) => {
    if (body.scopes && body.preset) context.addIssue({ code: 'custom', path: ['preset'], message: 'give either scopes or preset, not both' });
    if (!body.scopes && !body.preset) context.addIssue({ code: 'custom', path: ['scopes'], message: 'give scopes or a preset' });
  });

const keyView = z.object({
  id: z.string(),
  prefix: z.string().describe('The key starts with cm_<prefix>_: how to recognise it in logs'),
  name: z.string(),
  scopes: z.array(z.enum(scopes)),
  status: z.enum(['active', 'revoked', 'expired']),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  last_used_at: z.string().nullable().describe('To the minute'),
  revoked_at: z.string().nullable(),
});

const createdView = keyView.extend({
  key: z.string().describe('The key itself: shown in this response only, store it now'),
});

const keyParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a key id or prefix')
    .refine((value) => !/^cm_[0-9a-f]{8}_/.test(value), 'give the prefix (the 8 characters after cm_), never the whole key')
    .describe("The key's id or prefix"),
});

export function registerApiKeyRoutes(app: FastifyInstance, keys: ApiKeyStore, db: Kysely<IdempotencyTable>): void {
  const server = app.withTypeProvider<ZodTypeProvider>();

  server.post(
    base,
    {
      config: { scope: 'admin' },
      // Registered on the route so that it runs after the global Idempotency-Key claim.
      // The created key is in the response: an Idempotency-Key record would keep it, in plain text, to replay it.
      preValidation: async (request) => forgetIdempotencyClaim(request, db),
      schema: {
        tags,
        summary: 'Create an API key (shown once); Idempotency-Key is not replayed here, as that would keep the key',
        body: createBody,
        response: { 201: createdView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const expiresAt = request.body.expires_at ? new Date(request.body.expires_at) : null;
      if (expiresAt && expiresAt.getTime() <= now.getTime()) {
        throw new ApiError('validation_failed', 'expires_at must be in the future', [{ path: 'body.expires_at', message: 'must be in the future' }]);
      }
      const granted = request.body.scopes ?? [...apiKeyPresets[request.body.preset!]];
      const { key, record } = await keys.create(request.body.name, granted, expiresAt);
      request.log.info({ key_prefix: record.prefix, scopes: granted, by: request.apiKey?.prefix }, 'API key created');
      reply.header('location', `${base}/${record.id}`).header('cache-control', 'no-store');
      return reply.status(201).send({ ...toView(record, now), key });
    },
  );

  server.get(
    base,
    {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Every API key, revoked and expired ones included (never the key nor its hash)', response: { 200: z.object({ api_keys: z.array(keyView) }), ...errorResponses } },
    },
    async () => {
      const now = new Date();
      return { api_keys: (await keys.list()).map((summary) => toView(summary, now)) };
    },
  );

  server.delete(
    `${base}/:id`,
    {
      config: { scope: 'admin' },
      schema: { tags, summary: 'Revoke an API key, at once in this process and within 10 s in the others', params: keyParams, response: { 204: z.null(), ...errorResponses } },
    },
    async (request, reply) => {
      const found = await keys.find(request.params.id);
      if (!found) throw new ApiError('api_key_not_found', `No API key ${request.params.id}`, [{ path: 'params.id', message: 'not found' }], 404);
      if (found.id === bootstrapKeyId) {
        throw new ApiError('api_key_protected', 'The admin key comes from COMM_ADMIN_API_KEY or the data dir: change it there', [{ path: 'params.id', message: 'the bootstrap admin key' }], 422);
      }
      await keys.revoke(found.id);
      request.log.info({ key_prefix: found.prefix, by: request.apiKey?.prefix }, 'API key revoked');
      return reply.status(204).send(null);
    },
  );
}

function toView(summary: ApiKeySummary, now: Date): z.infer<typeof keyView> {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  const expired = summary.expires_at !== null && summary.expires_at.getTime() <= now.getTime();
  return {
    id: summary.id,
    prefix: summary.prefix,
    name: summary.name,
    scopes: summary.scopes,
    status: summary.revoked_at ? 'revoked' : expired ? 'expired' : 'active',
    created_at: summary.created_at.toISOString(),
    expires_at: iso(summary.expires_at),
    last_used_at: iso(summary.last_used_at),
    revoked_at: iso(summary.revoked_at),
  };
}

function describePresets(): string {
  return Object.entries(apiKeyPresets)
    .map(([name, list]) => `${name} (${list.join(', ')})`)
    .join('; ');
}
