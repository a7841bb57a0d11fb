import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  templateContentSchema,
  templateDecider,
  templateEvents,
  templateIdSchema,
  templateKinds,
  templateStatuses,
  type TemplateCommand,
  type TemplateEvent,
  type TemplateState,
} from '../domain/template.js';
import type { Scope } from '../infrastructure/auth/api-keys.js';
import { formatPosition, type EventStore } from '../infrastructure/event-store/event-store.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import { CommandHandler, type HandleResult } from './command-handler.js';
import { commandContext, ifMatchRevision } from './request-context.js';

const base = '/api/communication/templates';

/** Publishing and archiving templates. A dedicated templates:write scope would separate them from sending. */
export const templateWriteScope: Scope = 'notifications:send';

export const templateStreamId = (templateId: string) => `template-${templateId}`;

const commandResultSchema = z.object({
  template_id: z.string(),
  version: z.number().int().describe('The latest version (1-based)'),
  kind: z.enum(templateKinds),
  status: z.enum(templateStatuses),
  revision: z.number().int().describe('Send it back as If-Match to make sure nobody published meanwhile'),
  position: z.string().nullable().describe('Pass as min_position to a query to read your own write; null when nothing changed'),
});

const idParams = z.object({ id: templateIdSchema });
const content = templateContentSchema.shape;

/** The body of PUT: the spec's template fields (absent or null: the template has no such field) and sample data. */
export const publishTemplateBodySchema = z
  .object({
    kind: z.enum(templateKinds).optional().describe('marketing (consent required) or transactional; required for the first version, then fixed'),
    subject: content.subject.optional(),
    body_html: content.body_html.optional().describe('Handlebars; every value is HTML-escaped (raw output {{{x}}} is refused)'),
    body_text: content.body_text.optional().describe('Plain text; derived from body_html when absent'),
    sms: content.sms.optional().describe('A marketing SMS must carry a STOP mention, e.g. "STOP au 36111"'),
    push: content.push.optional(),
    sample_data: content.sample_data.optional().describe('Example variables, rendered by the preview'),
  })
  .strict();

export function registerTemplateCommandRoutes(app: FastifyInstance, store: EventStore): void {
  const handler = new CommandHandler<TemplateCommand, TemplateEvent, TemplateState>(store, templateDecider, templateEvents);
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['templates'];

  const respond = (reply: FastifyReply, templateId: string, result: HandleResult<TemplateState>, status = 200) => {
    const state = result.state;
    if (state.status === 'none') throw new Error(`Template ${templateId}: a successful command left no state`);
    const position = result.position ? formatPosition(result.position) : null;
    reply.header('etag', `"${result.revision}"`);
    if (position) reply.header('x-position', position);
    return reply.status(status).send({
      template_id: templateId,
      version: state.latest_version,
      kind: state.kind,
      status: state.status,
      revision: result.revision,
      position,
    });
  };

  server.put(
    `${base}/:id`,
    {
      config: { scope: templateWriteScope },
      schema: {
        tags,
        summary: 'Publish a new version of a template (201 for the first one; the same content again changes nothing)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
        body: publishTemplateBodySchema,
        response: { 200: commandResultSchema, 201: commandResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { kind, sample_data, ...fields } = request.body;
      const now = new Date();
      const result = await handler.handle(
        templateStreamId(id),
        {
          type: 'PublishTemplateVersion',
          template_id: id,
          kind,
          content: {
            subject: fields.subject ?? null,
            body_html: fields.body_html ?? null,
            body_text: fields.body_text ?? null,
            sms: fields.sms ?? null,
            push: fields.push ?? null,
            sample_data: sample_data ?? {},
          },
          now: now.toISOString(),
        },
        commandContext(request, now),
        { expectedRevision: ifMatchRevision(request) },
      );
      const created = result.appended > 0 && result.revision === 0;
      if (created) reply.header('location', `${base}/${id}`);
      return respond(reply, id, result, created ? 201 : 200);
    },
  );

  server.post(
    `${base}/:id/archive`,
    {
      config: { scope: templateWriteScope },
      schema: {
        tags,
        summary: 'Archive a template: it is no longer used without a version number (publishing a new version restores it)',
        params: idParams,
        headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
        body: z.strictObject({ reason: z.string().max(1_000).optional() }).nullish(),
        response: { 200: commandResultSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const now = new Date();
      const result = await handler.handle(
        templateStreamId(id),
        { type: 'ArchiveTemplate', template_id: id, reason: request.body?.reason, now: now.toISOString() },
        commandContext(request, now),
        { expectedRevision: ifMatchRevision(request) },
      );
      return respond(reply, id, result);
    },
  );
}
