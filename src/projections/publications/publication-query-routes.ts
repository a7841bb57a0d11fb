import { utcText } from '../../infrastructure/time/utc-text.js';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql, type Kysely } from 'kysely';
import { z } from 'zod';
import {
  platformSchema,
  platformStatuses,
  publicationContentSchema,
  publicationStatuses,
  publishErrorClasses,
  targetingSchema,
  type Platform,
} from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import type { ReadPositions } from '../read-positions.js';
import { parsePublicationId, publicationIdsOf } from './publication-ids.js';
import type { PublicationsTable } from './publications-table.js';

const base = '/api/communication/publications';
/** The restaurant's time zone: scheduled_time_local is what the staff read on their calendar. */
const localTimeZone = 'Europe/Paris';

type Row = PublicationsTable['publications'];
type PlatformRow = PublicationsTable['publication_platforms'];

const platformViewSchema = z.object({
  status: z.enum(platformStatuses),
  attempts: z.number().int(),
  started_at: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  post_id: z.string().nullable(),
  post_url: z.string().nullable(),
  published_at: z.string().nullable(),
  error: z.object({ class: z.enum(publishErrorClasses), message: z.string(), at: z.string() }).nullable(),
});

const publicationViewSchema = z.object({
  publication_id: z.uuid(),
  /** The platform the id asked for pointed at (fb_<uuid> → facebook), or the calendar's platform filter. */
  platform: platformSchema.nullable(),
  status: z.enum(publicationStatuses),
  scheduled_time: z.string().describe('UTC, e.g. 2025-04-20T18:30:00Z'),
  scheduled_time_local: z.string().describe(`${localTimeZone} with its offset, e.g. 2025-04-20T20:30:00+02:00`),
  content: publicationContentSchema,
  targeting: targetingSchema.nullable(),
  campaign_id: z.string().nullable(),
  priority: z.number().int(),
  publication_ids: z.partialRecord(platformSchema, z.string()).describe('Per-platform ids, e.g. {"facebook": "fb_<uuid>"}'),
  platforms: z.partialRecord(platformSchema, platformViewSchema),
  requested_at: z.string(),
  canceled_at: z.string().nullable(),
  cancel_reason: z.string().nullable(),
});
type PublicationView = z.infer<typeof publicationViewSchema>;

// A "+" left unencoded in a query string arrives as a space: "…T20:30:00 02:00" is read back as "+02:00".
const queryTimestamp = z.preprocess(
  (value) => (typeof value === 'string' ? value.replace(/ (\d{2}:?\d{2})$/, '+$1') : value),
  z.iso.datetime({ offset: true }),
);

const calendarQuery = z
  .object({
    from: queryTimestamp.optional().describe('Scheduled at or after (ISO 8601, offset accepted); goes with `to`'),
    to: queryTimestamp.optional().describe('Scheduled before; after `from`, at most one year after it'),
    platform: platformSchema.optional(),
    status: z
      .string()
      .optional()
      .describe(`Comma-separated publication statuses among ${publicationStatuses.join(', ')}`)
      .transform((value, ctx) => {
        if (!value) return undefined;
        const list = value.split(',').map((s) => s.trim());
        const unknown = list.filter((s) => !(publicationStatuses as readonly string[]).includes(s));
        if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown status ${unknown.join(', ')}` });
        return list;
      }),
    campaign_id: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
    ...consistencyQuery,
  })
  .superRefine((q, ctx) => {
    if (q.from === undefined && q.to === undefined) return;
    if (q.from === undefined || q.to === undefined) {
      const missing = q.from === undefined ? 'from' : 'to';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'from and to go together' });
      return;
    }
    const from = new Date(q.from);
    if (Date.parse(q.to) <= from.getTime()) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
      return;
    }
    const yearLater = new Date(from);
    yearLater.setUTCFullYear(from.getUTCFullYear() + 1);
    if (Date.parse(q.to) > yearLater.getTime()) ctx.addIssue({ code: 'custom', path: ['to'], message: 'the period must not exceed one year' });
  });

const idParams = z.object({
  id: z.string().max(100).refine((id) => parsePublicationId(id) !== null, 'must be a publication uuid or a per-platform id such as fb_<uuid>'),
});

export function registerPublicationQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const read = db as Kysely<PublicationsTable>;
  const tags = ['publications'];

  server.get(
    base,
    {
      config: { scope: 'publications:read' },
      schema: {
        tags,
        summary: 'The publication calendar: publications of a period by scheduled time, filtered by platform, status, campaign',
        querystring: calendarQuery,
        response: {
          200: z.object({ items: z.array(publicationViewSchema), next_cursor: z.string().nullable(), position: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const position = await ensureReadPosition(positions, 'publications', request, reply, request.query);
      const q = request.query;
      const platform = q.platform;
      // Filtered by platform, the period and the order come from the platform rows' index.
      const time = sql.ref<Date>(platform ? 'pp.scheduled_time' : 'p.scheduled_time');
      let query = read
        .selectFrom('publications as p')
        .selectAll('p')
        .$if(platform !== undefined, (qb) =>
          qb.innerJoin('publication_platforms as pp', (join) => join.onRef('pp.publication_id', '=', 'p.id').on('pp.platform', '=', platform!)),
        )
        .orderBy(time)
        .orderBy('p.id')
        .limit(q.limit + 1);
      if (q.from && q.to) query = query.where(time, '>=', new Date(q.from)).where(time, '<', new Date(q.to));
      if (q.status) query = query.where('p.status', 'in', q.status);
      if (q.campaign_id) query = query.where('p.campaign_id', '=', q.campaign_id);
      if (q.cursor) {
        const after = decodeCursor(q.cursor);
        query = query.where((eb) => eb.or([eb(time, '>', after.at), eb.and([eb(time, '=', after.at), eb('p.id', '>', after.id)])]));
      }
      const rows = await query.execute();
      const page = rows.slice(0, q.limit);
      const platformsOf = await loadPlatforms(read, page.map((row) => row.id));
      const last = page.at(-1);
      return {
        items: page.map((row) => toView(row, platformsOf.get(row.id) ?? [], platform ?? null)),
        next_cursor: rows.length > q.limit && last ? encodeCursor(last.scheduled_time, last.id) : null,
        position,
      };
    },
  );

  server.get(
    `${base}/:id`,
    {
      config: { scope: 'publications:read' },
      schema: {
        tags,
        summary: 'One publication and its per-platform status, by its uuid or a per-platform id (fb_<uuid>, ig_<uuid>...)',
        params: idParams,
        querystring: z.object(consistencyQuery),
        response: { 200: publicationViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, 'publications', request, reply, request.query);
      const { publicationId, platform } = parsePublicationId(request.params.id)!;
      const row = await read.selectFrom('publications').selectAll().where('id', '=', publicationId).executeTakeFirst();
      const platforms = row ? ((await loadPlatforms(read, [row.id])).get(row.id) ?? []) : [];
      // fb_<uuid> of a publication that is not for facebook names nothing.
      if (!row || (platform && !platforms.some((p) => p.platform === platform))) {
        throw new ApiError('publication_not_found', `Publication ${request.params.id} does not exist`, [], 404);
      }
      reply.header('etag', `"${row.revision}"`);
      return toView(row, platforms, platform);
    },
  );
}

async function loadPlatforms(read: Kysely<PublicationsTable>, ids: string[]): Promise<Map<string, PlatformRow[]>> {
  const byPublication = new Map<string, PlatformRow[]>();
  if (ids.length === 0) return byPublication;
  const rows = await read.selectFrom('publication_platforms').selectAll().where('publication_id', 'in', ids).orderBy('sort_order').execute();
  for (const row of rows) {
    const list = byPublication.get(row.publication_id);
    if (list) list.push(row);
    else byPublication.set(row.publication_id, [row]);
  }
  return byPublication;
}

function toView(row: Row, platformRows: PlatformRow[], platform: Platform | null): PublicationView {
  const platforms = platformRows.map((p) => p.platform as Platform);
  return {
    publication_id: row.id,
    platform,
    status: row.status as PublicationView['status'],
    scheduled_time: utc(row.scheduled_time),
    scheduled_time_local: local(row.scheduled_time),
    content: row.content as PublicationView['content'],
    targeting: row.targeting as PublicationView['targeting'],
    campaign_id: row.campaign_id,
    priority: row.priority,
    publication_ids: publicationIdsOf(row.id, platforms),
    platforms: Object.fromEntries(platformRows.map((p) => [p.platform, toPlatformView(p)])),
    requested_at: utc(row.requested_at),
    canceled_at: row.canceled_at ? utc(row.canceled_at) : null,
    cancel_reason: row.cancel_reason,
  };
}

function toPlatformView(row: PlatformRow): z.infer<typeof platformViewSchema> {
  const at = (value: Date | null) => (value ? utc(value) : null);
  return {
    status: row.status as z.infer<typeof platformViewSchema>['status'],
    attempts: row.attempts,
    started_at: at(row.started_at),
    next_attempt_at: at(row.next_attempt_at),
    post_id: row.post_id,
    post_url: row.post_url,
    published_at: at(row.published_at),
    error:
      row.last_error_class === null
        ? null
        : {
            class: row.last_error_class as (typeof publishErrorClasses)[number],
            message: row.last_error_message ?? '',
            at: at(row.last_error_at) ?? '',
          },
  };
}

/** ISO 8601 in UTC, without milliseconds when there are none (2025-04-20T18:30:00Z, as the spec writes it). */
function utc(value: Date): string {
  return utcText(value);
}

const localParts = new Intl.DateTimeFormat('en-US', {
  timeZone: localTimeZone,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'longOffset',
});

/** The same instant as wall-clock time in localTimeZone with its offset, e.g. 2025-04-20T20:30:00+02:00. */
function local(value: Date): string {
  const parts = Object.fromEntries(localParts.formatToParts(value).map((p) => [p.type, p.value]));
  // longOffset is "GMT+02:00", or plain "GMT" at offset zero.
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : (parts.timeZoneName ?? 'GMT+00:00').slice(3);
  const millis = value.getUTCMilliseconds();
  const fraction = millis === 0 ? '' : `.${String(millis).padStart(3, '0')}`;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${fraction}${offset}`;
}
