import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { metricNames, type MetricName } from '../../domain/engagement.js';
import { platformSchema, type Platform } from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { ApiError } from '../../infrastructure/http/api-error.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { engagementProjection } from './engagement-projection.js';
import type { EngagementRow, EngagementTable } from './engagement-table.js';

const counter = z.number().nullable();
const countersSchema = z.object({ likes: counter, shares: counter, comments: counter, reach: counter, clicks: counter, impressions: counter });
type Counters = z.infer<typeof countersSchema>;

const platformEngagementSchema = countersSchema.extend({
  post_id: z.string(),
  post_url: z.string().nullable(),
  published_at: z.string(),
  /** null until the platform's counters were first recorded. */
  measured_at: z.string().nullable(),
});

const engagementViewSchema = z.object({
  publication_id: z.uuid(),
  platforms: z.partialRecord(platformSchema, platformEngagementSchema),
  totals: countersSchema.describe('Sums over the platforms; null when no platform reports the counter'),
});

/** GET /api/communication/publications/{id}/engagement: the counters of each published post of a publication. */
export function registerEngagementQueryRoutes(app: FastifyInstance, db: SharedDatabase, positions: ReadPositions): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const read = db as Kysely<EngagementTable>;

  server.get(
    '/api/communication/publications/:id/engagement',
    {
      config: { scope: 'publications:read' },
      schema: {
        tags: ['publications'],
        summary: 'Engagement of a publication: likes, shares, comments, reach, clicks and impressions per platform, and totals',
        params: z.object({ id: z.uuid() }),
        querystring: z.object(consistencyQuery),
        response: { 200: engagementViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(positions, engagementProjection.name, request, reply, request.query);
      const id = request.params.id;
      const rows = await read.selectFrom('publication_engagement').selectAll().where('publication_id', '=', id).orderBy('platform').execute();
      if (rows.length === 0) {
        throw new ApiError('publication_not_published', `Publication ${id} does not exist or has no platform published yet`, [
          { path: 'id', message: 'no published platform' },
        ], 404);
      }
      const platforms: Partial<Record<Platform, z.infer<typeof platformEngagementSchema>>> = {};
      for (const row of rows) platforms[row.platform as Platform] = toPlatformView(row);
      return { publication_id: id, platforms, totals: totalsOf(rows) };
    },
  );
}

function toPlatformView(row: EngagementRow): z.infer<typeof platformEngagementSchema> {
  return {
    post_id: row.post_id,
    post_url: row.post_url,
    published_at: row.published_at.toISOString(),
    ...countersOf(row),
    measured_at: row.measured_at ? row.measured_at.toISOString() : null,
  };
}

function countersOf(row: EngagementRow): Counters {
  return Object.fromEntries(metricNames.map((name) => [name, row[name]])) as Counters;
}

function totalsOf(rows: EngagementRow[]): Counters {
  const sum = (name: MetricName): number | null => {
    const known = rows.map((row) => row[name]).filter((value): value is number => value !== null);
    return known.length === 0 ? null : known.reduce((total, value) => total + value, 0);
  };
  return Object.fromEntries(metricNames.map((name) => [name, sum(name)])) as Counters;
}
