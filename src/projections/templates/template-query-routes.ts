import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notificationChannels } from '../../domain/notification-events.js';
import { templateKinds, templateStatuses } from '../../domain/template.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import type { TemplateCatalogue, TemplateVersionView } from './template-catalogue.js';

const base = '/api/communication/templates';
const projection = 'templates';

/** File template ids may use capitals (the config format allows them); API ids are lower-case. */
const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a template id: letters, digits, _ and -') });
const origin = z.enum(['config', 'api']).describe('config: a file template of COMM_CONFIG_DIR/templates (version 0); api: published through the API');
const channels = z.array(z.enum(notificationChannels));

export const templateSummarySchema = z.object({
  id: z.string(),
  kind: z.enum(templateKinds),
  status: z.enum(templateStatuses),
  latest_version: z.number().int().describe('0 for a file template'),
  source: origin,
  channels,
  has_default: z.boolean().describe('A file template exists under this id (API versions override it)'),
  updated_at: z.string().nullable(),
});

export const templateViewSchema = z.object({
  id: z.string(),
  version: z.number().int(),
  latest_version: z.number().int(),
  kind: z.enum(templateKinds),
  status: z.enum(templateStatuses),
  source: origin,
  has_default: z.boolean(),
  channels,
  subject: z.string().nullable(),
  body_html: z.string().nullable(),
  body_text: z.string().nullable(),
  sms: z.string().nullable(),
  push: z.object({ title: z.string(), body: z.string() }).nullable(),
  sample_data: z.record(z.string(), z.unknown()),
  published_at: z.string().nullable(),
  revision: z.number().int().nullable().describe('Send it back as If-Match when publishing the next version'),
});

const renderedSchema = z.object({
  subject: z.string().optional(),
  html: z.string().optional(),
  text: z.string().optional().describe('body_text, or derived from the HTML'),
  sms: z.string().optional(),
  push: z.object({ title: z.string(), body: z.string() }).optional(),
});

const versionQuery = z.coerce.number().int().min(0).max(1_000_000).optional();

export function registerTemplateQueryRoutes(app: FastifyInstance, catalogue: TemplateCatalogue, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['templates'];

  server.get(
    base,
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags,
        summary: 'List the notification templates: published through the API, and the file templates (version 0)',
        querystring: z.object({
          kind: z.enum(templateKinds).optional(),
          status: z.enum(templateStatuses).optional(),
          ...consistencyQuery,
        }),
        response: { 200: z.object({ templates: z.array(templateSummarySchema), position: z.string().nullable() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, projection, request, reply, request.query);
      const { kind, status } = request.query;
      const templates = (await catalogue.list()).filter((t) => (!kind || t.kind === kind) && (!status || t.status === status));
      return { templates, position };
    },
  );

  server.get(
    `${base}/:id`,
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags,
        summary: 'One template: its latest version, or ?version=N (0: the file template)',
        params: idParams,
        querystring: z.object({ version: versionQuery, ...consistencyQuery }),
        response: { 200: templateViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, projection, request, reply, request.query);
      const view = await catalogue.describe(request.params.id, request.query.version);
      if (view.revision !== null) reply.header('etag', `"${view.revision}"`);
      return toView(view);
    },
  );

  server.post(
    `${base}/:id/preview`,
    {
      config: { scope: 'notifications:read' },
      schema: {
        tags,
        summary: "Render a template with the given data, or with the template's sample data (422 missing_variable names what is missing)",
        params: idParams,
        querystring: z.object(consistencyQuery),
        body: z
          .strictObject({
            data: z.record(z.string(), z.unknown()).optional().describe('Template variables; default: the sample data'),
            version: z.number().int().min(0).optional().describe('Default: the latest version'),
          })
          .nullish(),
        response: {
          200: z.object({
            template_id: z.string(),
            version: z.number().int(),
            source: origin,
            kind: z.enum(templateKinds),
            channels,
            used_sample_data: z.boolean(),
            rendered: renderedSchema,
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, projection, request, reply, request.query);
      const template = await catalogue.get(request.params.id, request.body?.version, { allowArchived: true });
      const data = request.body?.data;
      const rendered = template.render(data ?? template.content.sample_data);
      return {
        template_id: template.id,
        version: template.version,
        source: template.source,
        kind: template.kind,
        channels: template.channels,
        used_sample_data: data === undefined,
        rendered,
      };
    },
  );
}

function toView(view: TemplateVersionView): z.infer<typeof templateViewSchema> {
  return {
    id: view.id,
    version: view.version,
    latest_version: view.latest_version,
    kind: view.kind,
    status: view.status,
    source: view.source,
    has_default: view.has_default,
    channels: view.channels,
    ...view.content,
    published_at: view.published_at,
    revision: view.revision,
  };
}
