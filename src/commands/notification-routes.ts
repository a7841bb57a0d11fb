import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDomainError } from '../domain/domain-error.js';
import {
  notificationDecider,
  notificationEvents,
  type NotificationCommand,
  type NotificationEvent,
  type NotificationState,
} from '../domain/notification.js';
import { comparePositions, formatPosition, type EventStore, type Position } from '../infrastructure/event-store/event-store.js';
import { ApiError, type ErrorDetail } from '../infrastructure/http/api-error.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { CommandHandler, type CommandContext } from './command-handler.js';
import { maxBatchSize, notificationIdFor, notifyBodySchema, parseNotifyBody, type ParsedRecipient } from './notification-requests.js';
import { commandContext } from './request-context.js';
import { newId } from '../infrastructure/ids/new-id.js';

export const notificationStreamId = (notificationId: string) => `notification-${notificationId}`;

/**
 * Which templates exist and their current version: an unknown template_id is refused at request time rather than at
 * send time, and the version current at request time is the one rendered.
 */
export interface TemplateDirectory {
  /** The version a new notification uses, or null when there is no usable template of that id. */
  currentVersion(templateId: string): Promise<number | null>;
}

const resultSchema = z.object({
  index: z.number().int(),
  notification_id: z.uuid().nullable(),
  status: z.enum(['pending', 'duplicate', 'rejected']).describe('duplicate: this client_id was already requested; the existing notification is named'),
  error: z.object({ error: z.string(), message: z.string(), details: z.array(z.object({ path: z.string(), message: z.string() })) }).optional(),
});

const responseSchema = z.object({
  status: z.enum(['accepted', 'partially_accepted']),
  accepted: z.number().int(),
  rejected: z.number().int(),
  notifications: z.array(resultSchema),
  position: z.string().nullable().describe('Pass as min_position to GET /notifications to read your own write'),
});

/**
 * Requests of one batch in flight at once: the event store gathers concurrent appends into one transaction
 * (coalescing-event-store.ts), so this is how many recipients share a round trip.
 */
const appendConcurrency = 200;

export function registerNotificationCommandRoutes(app: FastifyInstance, store: EventStore, templates: TemplateDirectory): void {
  const handler = new CommandHandler<NotificationCommand, NotificationEvent, NotificationState>(store, notificationDecider, notificationEvents);
  const server = app.withTypeProvider<ZodTypeProvider>();

  server.post(
    '/api/communication/notify',
    {
      config: { scope: 'notifications:send' },
      schema: {
        tags: ['notifications'],
        summary: `Send one notification, or a batch of up to ${maxBatchSize} recipients (each answered on its own)`,
        headers: z.object({ 'idempotency-key': z.string().optional() }),
        body: notifyBodySchema,
        response: { 202: responseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = new Date();
      const context = commandContext(request, now);
      const owner = request.apiKey?.id ?? 'anonymous';
      const parsed = parseNotifyBody(request.body);
      const batch = request.body.recipients !== undefined;
      await checkTemplates(parsed, templates, batch);

      const results = await mapWithConcurrency(parsed, appendConcurrency, (entry) =>
        requestOne(handler, entry, owner, context, batch ? `recipients.${entry.index}.` : ''),
      );
      const accepted = results.filter((r) => r.result.status !== 'rejected');
      if (accepted.length === 0) {
        const details = results.flatMap((r) => r.result.error?.details ?? []);
        if (!batch) {
          const only = results[0]!.result.error!;
          throw new ApiError(only.error, only.message, only.details, only.error === 'validation_failed' ? 400 : 422);
        }
        throw new ApiError('batch_rejected', 'No recipient of the batch could be accepted', details, 422);
      }
      const last = accepted.map((r) => r.position).filter((p): p is Position => p !== null).sort(comparePositions).at(-1);
      const position = last ? formatPosition(last) : null;
      if (position) reply.header('x-position', position);
      return reply.status(202).send({
        status: accepted.length === results.length ? 'accepted' : 'partially_accepted',
        accepted: accepted.length,
        rejected: results.length - accepted.length,
        notifications: results.map((r) => r.result),
        position,
      });
    },
  );
}

type Result = z.infer<typeof resultSchema>;

async function requestOne(
  handler: CommandHandler<NotificationCommand, NotificationEvent, NotificationState>,
  entry: ParsedRecipient,
  owner: string,
  context: CommandContext,
  prefix: string,
): Promise<{ result: Result; position: Position | null }> {
  if (!entry.request) {
    const code = entry.errors.some((e) => e.message.startsWith('unknown template')) ? 'template_not_found' : 'validation_failed';
    return { result: { index: entry.index, notification_id: null, status: 'rejected', error: { error: code, message: describe(entry.errors), details: entry.errors } }, position: null };
  }
  const notificationId = entry.clientId ? notificationIdFor(owner, entry.clientId) : newId();
  try {
    const outcome = await handler.handle(
      notificationStreamId(notificationId),
      { type: 'RequestNotification', notification_id: notificationId, request: entry.request, now: context.now.toISOString() },
      context,
      { creates: true },
    );
    return { result: { index: entry.index, notification_id: notificationId, status: 'pending' }, position: outcome.position };
  } catch (error) {
    if (isDomainError(error) && error.code === 'notification_already_exists') {
      return { result: { index: entry.index, notification_id: notificationId, status: 'duplicate' }, position: null };
    }
    if (isDomainError(error)) {
      const details = error.details.map((d) => ({ ...d, path: `${prefix}${d.path}` }));
      return { result: { index: entry.index, notification_id: null, status: 'rejected', error: { error: error.code, message: error.message, details } }, position: null };
    }
    throw error;
  }
}

async function checkTemplates(entries: ParsedRecipient[], templates: TemplateDirectory, batch: boolean): Promise<void> {
  const known = new Map<string, number | null>();
  for (const entry of entries) {
    const id = entry.request?.template_id;
    if (!id || !entry.request) continue;
    if (!known.has(id)) known.set(id, await templates.currentVersion(id));
    const version = known.get(id);
    if (version === null || version === undefined) {
      entry.errors.push({ path: batch ? `recipients.${entry.index}.template_id` : 'template_id', message: `unknown template ${id}` });
      delete entry.request;
      continue;
    }
    entry.request.template_version = version;
  }
}

function describe(details: ErrorDetail[]): string {
  return `Invalid ${details.map((d) => d.path).join(', ')}`;
}

async function mapWithConcurrency<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index]!);
      }
    }),
  );
  return results;
}
