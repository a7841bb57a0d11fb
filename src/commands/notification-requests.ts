import { z } from 'zod';
import { notificationChannels, notificationRequestSchema, recipientProblem, type NotificationRequest } from '../domain/notification.js';
import { issueDetails } from '../infrastructure/config/format-issues.js';
import type { ErrorDetail } from '../infrastructure/http/api-error.js';
import { seededUuid } from './command-handler.js';

/** Most recipients one POST /notify may carry. */
export const maxBatchSize = 1_000;

const clientId = z.string().min(1).max(200).describe('Your id for this message: sending it again with the same client_id does nothing twice');

/** The body of POST /api/communication/notify: one notification, or a batch sharing template and channel. */
export const notifyBodySchema = z
  .object({
    template_id: z.string().trim().min(1).max(200).optional(),
    channel: z.enum(notificationChannels).optional(),
    campaign_id: z.uuid().optional(),
    recipient: z.string().optional().describe('One notification: the recipient (email, E.164 phone, push subscription)'),
    data: z.record(z.string(), z.unknown()).optional().describe('Template variables'),
    client_id: clientId.optional(),
    recipients: z
      .array(z.unknown())
      .min(1)
      .max(maxBatchSize)
      .optional()
      .describe(`A batch of up to ${maxBatchSize}: [{recipient, data, client_id?, template_id?, channel?}], each answered on its own`),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.recipients && body.recipient !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['recipient'], message: 'send either recipient or recipients, not both' });
    }
    if (!body.recipients && body.recipient === undefined) {
      ctx.addIssue({ code: 'custom', path: ['recipient'], message: 'required (or send recipients for a batch)' });
    }
  });
export type NotifyBody = z.infer<typeof notifyBodySchema>;

const batchEntrySchema = z
  .object({
    recipient: z.string(),
    data: z.record(z.string(), z.unknown()).optional(),
    client_id: clientId.optional(),
    template_id: z.string().trim().min(1).max(200).optional(),
    channel: z.enum(notificationChannels).optional(),
  })
  .strict();

export interface ParsedRecipient {
  index: number;
  request?: NotificationRequest;
  clientId?: string;
  errors: ErrorDetail[];
}

/**
 * Turns the body into one request per recipient. A bad entry of a batch is reported with its index and field and
 * does not stop the others.
 */
export function parseNotifyBody(body: NotifyBody): ParsedRecipient[] {
  const defaults = { template_id: body.template_id, channel: body.channel, campaign_id: body.campaign_id };
  if (!body.recipients) {
    return [toRequest(0, { ...defaults, recipient: body.recipient, data: body.data ?? {} }, body.client_id, '')];
  }
  return body.recipients.map((entry, index) => {
    const prefix = `recipients.${index}`;
    const parsed = batchEntrySchema.safeParse(entry);
    if (!parsed.success) return { index, errors: issueDetails(parsed.error.issues, prefix) };
    const { client_id, ...fields } = parsed.data;
    // Object.assign, not `{ ...defaults, ...fields, data }`: V8 builds a spread followed by properties on a slow path.
    return toRequest(index, Object.assign({}, defaults, fields, { data: { ...(body.data ?? {}), ...(fields.data ?? {}) } }), client_id, `${prefix}.`);
  });
}

function toRequest(index: number, candidate: Record<string, unknown>, clientId: string | undefined, prefix: string): ParsedRecipient {
  const parsed = notificationRequestSchema.safeParse(candidate);
  if (!parsed.success) return { index, errors: issueDetails(parsed.error.issues, prefix.replace(/\.$/, '')) };
  const problem = recipientProblem(parsed.data.channel, parsed.data.recipient);
  if (problem) return { index, errors: [{ path: `${prefix}recipient`, message: problem }] };
  return { index, request: parsed.data, clientId, errors: [] };
}

/**
 * A client id names one notification for one API key: the notification id is derived from both, so a repeated
 * request finds the notification it already made.
 */
export function notificationIdFor(owner: string, clientId: string): string {
  return seededUuid(`${owner}\u0000${clientId}`);
}
