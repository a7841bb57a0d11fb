import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { forgetIdempotencyClaim } from '../infrastructure/http/idempotency.js';
import { checkOutboundUrl, outboundRefusalOf, type OutboundCheckOptions } from '../infrastructure/http/outbound-guard.js';
import type { Keyring } from '../infrastructure/secrets/keyring.js';
import { decodeCursor, encodeCursor } from '../projections/cursor.js';
import { WebhookDeliveries, webhookDeliveryStatuses, type WebhookDeliveryRow } from './webhook-deliveries.js';
import { generateWebhookSecret } from './webhook-secrets.js';
import { WebhookSubscriptions, webhookEventTypes, type WebhookSubscription } from './webhook-subscriptions.js';

const base = '/api/communication/webhooks';
const tags = ['webhooks'];

const webhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2_000)
  .refine((url) => /^https?:\/\/[^/?#@]/i.test(url), 'must be an http:// or https:// URL with a host')
  .refine((url) => !/^https?:\/\/[^/?#]*@/i.test(url), 'must not carry credentials: receivers authenticate us by the signature');

const createBody = z.object({
  url: webhookUrl,
  event_types: z
    .array(z.enum(webhookEventTypes))
    .min(1)
    .refine((types) => new Set(types).size === types.length, 'must not repeat an event type'),
  secret: z
    .string()
    .min(16, 'must be at least 16 characters')
    .max(256)
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters')
    .optional()
    .describe('Signing secret; one is generated when absent. Shown only in this response.'),
  description: z.string().trim().max(500).optional(),
});

const subscriptionView = z.object({
  id: z.uuid(),
  url: z.string(),
  event_types: z.array(z.enum(webhookEventTypes)),
  description: z.string().nullable(),
  secret: z.string().describe('Masked, e.g. whsec_…abcd'),
  created_at: z.string(),
});

const createdView = subscriptionView.extend({
  secret: z.string().describe('The signing secret in full: shown in this response only, store it now'),
});

const deliveryView = z.object({
  id: z.uuid(),
  event_id: z.string(),
  event_type: z.enum(webhookEventTypes),
  status: z.enum(webhookDeliveryStatuses),
  attempts: z.number().int(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  first_attempt_at: z.string().nullable(),
  last_attempt_at: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
});

const idParams = z.object({ id: z.uuid() });

/**
 * `outbound`: which receivers may be registered (public addresses, plus COMM_OUTBOUND_ALLOWLIST). `keyring`: the token
 * vault's, which encrypts the webhook secrets.
 */
export function registerWebhookRoutes(app: FastifyInstance, db: SharedDatabase, outbound: OutboundCheckOptions, keyring: Keyring): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const subscriptions = new WebhookSubscriptions(db, keyring);

  server.post(
    base,
    {
      config: { scope: 'webhooks:write' },
      schema: {
        tags,
        summary: 'Register a webhook: publication successes and failures, engagement figures',
        body: createBody,
        response: { 201: createdView, ...errorResponses },
      },
      // The secret is in the response: an Idempotency-Key record would keep it, in plain text, to replay it.
      preValidation: async (request) => forgetIdempotencyClaim(request, db),
    },
    async (request, reply) => {
      await checkReceiver(request.body.url, outbound);
      const secret = request.body.secret ?? generateWebhookSecret();
      const created = await subscriptions.create({
        id: randomUUID(),
        url: request.body.url,
        event_types: request.body.event_types,
        description: request.body.description ?? null,
        secret,
      });
      reply.header('location', `${base}/${created.id}`);
      return reply.status(201).send({ ...toView(created), secret });
    },
  );

  server.get(
    base,
    {
      config: { scope: 'webhooks:read' },
      schema: { tags, summary: 'Registered webhooks (secrets masked)', response: { 200: z.object({ webhooks: z.array(subscriptionView) }), ...errorResponses } },
    },
    async () => ({ webhooks: (await subscriptions.list()).map(toView) }),
  );

  server.get(
    `${base}/:id`,
    {
      config: { scope: 'webhooks:read' },
      schema: { tags, summary: 'One registered webhook (secret masked)', params: idParams, response: { 200: subscriptionView, ...errorResponses } },
    },
    async (request) => toView(await found(subscriptions, request.params.id)),
  );

  server.delete(
    `${base}/:id`,
    {
      config: { scope: 'webhooks:write' },
      schema: { tags, summary: 'Delete a webhook; its pending deliveries are canceled', params: idParams, response: { 204: z.null(), ...errorResponses } },
    },
    async (request, reply) => {
      await db.transaction().execute(async (trx) => {
        const deleted = await new WebhookSubscriptions(trx).delete(request.params.id, new Date());
        if (!deleted) throw notFound(request.params.id);
        await new WebhookDeliveries(trx).cancelPendingOf(request.params.id);
      });
      return reply.status(204).send(null);
    },
  );

  server.get(
    `${base}/:id/deliveries`,
    {
      config: { scope: 'webhooks:read' },
      schema: {
        tags,
        summary: "A webhook's delivery log, newest first",
        params: idParams,
        querystring: z.object({
          status: z.enum(webhookDeliveryStatuses).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ deliveries: z.array(deliveryView), next_cursor: z.string().nullable() }), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const q = request.query;
      await found(subscriptions, id);
      const rows = await new WebhookDeliveries(db).page(id, { status: q.status, after: q.cursor ? decodeCursor(q.cursor) : undefined, limit: q.limit + 1 });
      const page = rows.slice(0, q.limit);
      const last = page.at(-1);
      return { deliveries: page.map(toDeliveryView), next_cursor: rows.length > q.limit && last ? encodeCursor(last.created_at, last.id) : null };
    },
  );
}

async function found(subscriptions: WebhookSubscriptions, id: string): Promise<WebhookSubscription> {
  const subscription = await subscriptions.get(id);
  if (!subscription) throw notFound(id);
  return subscription;
}

/** A receiver on this host or the private network would let callers probe it through us (SSRF). */
async function checkReceiver(url: string, outbound: OutboundCheckOptions): Promise<void> {
  try {
    await checkOutboundUrl(url, outbound);
  } catch (error) {
    const refusal = outboundRefusalOf(error);
    if (!refusal) throw error;
    throw new ApiError('validation_failed', `Invalid body: body.url (${refusal.reason})`, [{ path: 'body.url', message: refusal.reason }]);
  }
}

function notFound(id: string): ApiError {
  return new ApiError('webhook_not_found', `Webhook ${id} does not exist`, [{ path: 'params.id', message: 'no such webhook' }], 404);
}

function toView(subscription: WebhookSubscription): z.infer<typeof subscriptionView> {
  return {
    id: subscription.id,
    url: subscription.url,
    event_types: subscription.event_types,
    description: subscription.description,
    secret: subscription.masked_secret,
    created_at: subscription.created_at.toISOString(),
  };
}

function toDeliveryView(row: WebhookDeliveryRow): z.infer<typeof deliveryView> {
  const iso = (value: Date | null) => (value ? value.toISOString() : null);
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type as z.infer<typeof deliveryView>['event_type'],
    status: row.status as z.infer<typeof deliveryView>['status'],
    attempts: row.attempts,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    next_attempt_at: iso(row.next_attempt_at),
    first_attempt_at: iso(row.first_attempt_at),
    last_attempt_at: iso(row.last_attempt_at),
    created_at: row.created_at.toISOString(),
    delivered_at: iso(row.delivered_at),
  };
}
