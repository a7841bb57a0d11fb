import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { suppressionReasons } from '../../domain/consent.js';
import { MAX_PUSH_TOKEN_LENGTH, notificationChannels, recipientProblem } from '../../domain/notification.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { ConsentsReader } from './consents-reader.js';

export const consentViewSchema = z.object({
  recipient: z.string().describe('Normalized: trimmed, lower-cased'),
  channel: z.enum(notificationChannels),
  granted: z.boolean().nullable().describe('null: never recorded (no marketing consent)'),
  source: z.string().nullable().describe('Who recorded the current consent state'),
  consent_at: z.string().nullable(),
  suppressed: z.boolean(),
  suppression_reason: z.enum(suppressionReasons).nullable().describe('The most restrictive active suppression'),
  suppressions: z.array(z.object({ reason: z.enum(suppressionReasons), source: z.string(), at: z.string() })),
  updated_at: z.string(),
  revision: z.number().int(),
  erased: z.boolean().describe('The address was erased (GDPR): recipient shows "[erased]" and no message goes to it'),
});

const query = z
  .object({
    recipient: z.string().trim().min(1).max(MAX_PUSH_TOKEN_LENGTH),
    channel: z.enum(notificationChannels).optional().describe('One channel; all channels when absent'),
    ...consistencyQuery,
  })
  .superRefine((q, ctx) => {
    const problem = q.channel ? recipientProblem(q.channel, q.recipient) : null;
    if (problem) ctx.addIssue({ code: 'custom', path: ['recipient'], message: problem });
  });

export function registerConsentQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const reader = new ConsentsReader(db);

  server.get(
    '/api/communication/consents',
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags: ['consents'],
        summary: 'Consent and suppressions of one recipient, on one channel or all (an empty list: nothing recorded)',
        querystring: query,
        response: { 200: z.object({ consents: z.array(consentViewSchema), position: z.string().nullable() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, 'consents', request, reply, request.query);
      const { recipient, channel } = request.query;
      return { consents: await reader.findAll(recipient, channel ? [channel] : notificationChannels), position };
    },
  );
}
