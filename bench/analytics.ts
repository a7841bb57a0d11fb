import { createHash, randomUUID } from 'node:crypto';
import { campaignFieldsSchema } from '../src/domain/campaign.js';
import { createKysely, migrateToLatest } from '../src/infrastructure/database/kysely.js';
import { createPostgresClient } from '../src/infrastructure/database/postgres-client.js';
import { createPostgresEventStore } from '../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../src/infrastructure/logging/logger.js';
import { analyticsProjection } from '../src/projections/analytics/analytics-projection.js';
import { checkpointMigrations } from '../src/projections/checkpoints.js';
import { Projector } from '../src/projections/projector.js';
import { startService } from './service-process.js';

export interface AnalyticsBench {
  events: number;
  notifications: number;
  loadMs: number;
  catchUp: { durationMs: number; eventsPerSecond: number; batchSize: number };
  hourlyRows: number;
  dailyRows: number;
  queries: QueryRun[];
  /** Every group of every day: the largest answer. */
  largest: QueryRun;
}

export interface QueryRun {
  concurrency: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** The query shape with the highest p99. */
  slowest: { shape: string; p99: number };
}

const CAMPAIGNS = 20;
const DAYS = 90;
/** The data ends here; queries ask for ranges before it. */
const END = Date.parse('2026-09-30T22:00:00Z');
const START = END - DAYS * 86_400_000;
const EVENTS_PER_NOTIFICATION = 4;
const CHUNK = 50_000;

/**
 * 1. Writes `events` notification events straight into the PostgreSQL event store (SQL, 200,000 rows per statement):
 *    each notification requested, sent, delivered (or bounced), opened; 21 campaigns (one is "none"), e-mail through
 *    SendGrid or Mailjet, SMS through Twilio or OVH, push through FCM, spread over 90 days.
 * 2. Runs the analytics projector from the start until it has caught up: the catch-up rate.
 * 3. Starts the service (api role only) and asks GET /api/communication/analytics with varied filters, granularities
 *    and groupings: p50 and p99 over real HTTP requests, one at a time, then 8 at a time.
 */
export async function benchAnalytics(url: string, events: number): Promise<AnalyticsBench> {
  const notifications = Math.ceil(events / EVENTS_PER_NOTIFICATION);
  const sql = await createPostgresClient({ connectionString: url, maxConnections: 8 });
  const store = await createPostgresEventStore(sql);
  const db = createKysely(sql);
  try {
    await migrateToLatest(db, { ...checkpointMigrations, ...analyticsProjection.migrations }, sql.schema);
    // A version 4 UUID from a name, as benchUuid() below makes them: the API accepts only real UUIDs.
    await sql.query(`CREATE OR REPLACE FUNCTION bench_uuid(name text) RETURNS uuid IMMUTABLE LANGUAGE sql AS
      $$ SELECT (substr(md5(name), 1, 12) || '4' || substr(md5(name), 14, 3) || '8' || substr(md5(name), 18, 15))::uuid $$`);
    const campaignIds = await createCampaigns(store);
    const loadStarted = performance.now();
    for (let from = 0; from < notifications; from += CHUNK) {
      await sql.query(insertNotificationsSql, [from, Math.min(from + CHUNK, notifications) - 1, new Date(START).toISOString(), (END - START) / notifications]);
      await sql.query(`INSERT INTO es_streams (stream_id, revision) SELECT 'notification-' || bench_uuid('bench-notification-' || i), 3 FROM generate_series($1::int, $2::int) AS i`, [
        from,
        Math.min(from + CHUNK, notifications) - 1,
      ]);
    }
    await sql.query('ANALYZE es_events');
    const loadMs = performance.now() - loadStarted;

    const batchSize = Number(process.env.BENCH_BATCH ?? 500);
    const projector = new Projector(store, db, analyticsProjection, createLogger('error'), { batchSize });
    const catchUpStarted = performance.now();
    await projector.start();
    const head = (await store.headPosition())!;
    if (!(await projector.waitFor(head, 30 * 60_000))) throw new Error('the analytics projection did not catch up within 30 minutes');
    const catchUpMs = performance.now() - catchUpStarted;
    await projector.stop();
    const applied = Number((await sql.query<{ n: string }>(`SELECT events_applied AS n FROM projection_checkpoints WHERE name = 'analytics'`)).rows[0]!.n);
    await sql.query('ANALYZE');
    const hourlyRows = Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM analytics_hourly')).rows[0]!.n);
    const dailyRows = Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM analytics_daily')).rows[0]!.n);

    const service = await startService({ DATABASE_URL: url, COMM_ROLES: 'api', LOG_LEVEL: 'error' });
    try {
      const paths = queryPaths(campaignIds);
      const ask = async (path: string) => {
        const started = performance.now();
        const response = await fetch(`${service.url}${path}`, { headers: { authorization: `Bearer ${service.key}` } });
        await response.arrayBuffer();
        return { ms: performance.now() - started, ok: response.status === 200 };
      };
      for (const path of paths.slice(0, 50)) await ask(path); // warm-up: JIT, connection pool, buffer cache
      const queries = [await measure(ask, paths, 1, 2_000), await measure(ask, paths, 8, 4_000)];
      // Not a dashboard query: every campaign × channel × platform × day of the 90 days, a 4 MB export.
      const everyDay = `/api/communication/analytics?granularity=day&from=${new Date(START).toISOString().slice(0, 10)}&to=${new Date(END).toISOString().slice(0, 10)}&group_by=campaign,channel,platform`;
      const largest = await measure(ask, [everyDay], 1, 20);
      return {
        events: applied,
        notifications,
        loadMs: Math.round(loadMs),
        catchUp: { durationMs: Math.round(catchUpMs), eventsPerSecond: Math.round((applied / catchUpMs) * 1000), batchSize },
        hourlyRows,
        dailyRows,
        queries,
        largest,
      };
    } finally {
      await service.stop();
    }
  } finally {
    await store.close();
    await sql.close();
  }
}

async function createCampaigns(store: Awaited<ReturnType<typeof createPostgresEventStore>>): Promise<string[]> {
  const ids: string[] = [];
  for (let c = 1; c <= CAMPAIGNS; c++) {
    const uuid = benchUuid(`bench-campaign-${c}`);
    ids.push(uuid);
    const fields = campaignFieldsSchema.parse({
      name: `Campagne ${c}`,
      start_date: new Date(START).toISOString(),
      end_date: new Date(END).toISOString(),
      budget: 500,
      success_metrics: { open_rate: 0.25, bounce_rate: 0.05 },
      channels: [{ type: 'email' }],
    });
    await store.append(`campaign-${uuid}`, [{ id: randomUUID(), type: 'CampaignCreated', data: { campaign_id: uuid, ...fields }, metadata: { actor: 'bench', schema_version: 1 } }], {
      expectedRevision: 'any',
    });
  }
  return ids;
}

function benchUuid(name: string): string {
  const h = createHash('md5').update(name).digest('hex');
  const hex = `${h.slice(0, 12)}4${h.slice(13, 16)}8${h.slice(17, 32)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Notifications $1..$2: campaign i % 21 (0: none; bench_uuid('bench-campaign-<n>'), as createCampaigns names them),
 * channel and provider from i, requested at $3 + i × $4 ms.
 */
const insertNotificationsSql = `
WITH n AS (
  SELECT i,
         bench_uuid('bench-notification-' || i) AS id,
         CASE WHEN i % ${CAMPAIGNS + 1} = 0 THEN NULL ELSE bench_uuid('bench-campaign-' || (i % ${CAMPAIGNS + 1})) END AS campaign_id,
         (ARRAY['email', 'email', 'email', 'sms', 'push'])[1 + i % 5] AS channel,
         (ARRAY['sendgrid', 'mailjet', 'sendgrid', 'twilio', 'fcm', 'sendgrid', 'mailjet', 'sendgrid', 'ovh', 'fcm'])[1 + i % 10] AS provider,
         $3::timestamptz + (i * $4::double precision) * interval '1 millisecond' AS at,
         i % 20 = 0 AS bounced
    FROM generate_series($1::int, $2::int) AS i
)
INSERT INTO es_events (event_id, stream_id, stream_revision, category, type, data, metadata)
SELECT bench_uuid('bench-event-' || n.i || '-' || e.k), 'notification-' || n.id, e.k, 'notification', e.type, e.data,
       jsonb_build_object('timestamp', e.at, 'schema_version', 1, 'actor', 'bench')
  FROM n
 CROSS JOIN LATERAL (VALUES
   (0, 'NotificationRequested', n.at, jsonb_build_object('notification_id', n.id, 'template_id', 'promotional_email',
        'recipient', CASE n.channel WHEN 'sms' THEN '+33612345678' WHEN 'push' THEN 'token' ELSE 'client@example.fr' END,
        'channel', n.channel, 'data', '{}'::jsonb, 'campaign_id', n.campaign_id, 'requested_at', n.at)),
   (1, 'NotificationSent', n.at + interval '2 seconds', jsonb_build_object('notification_id', n.id, 'provider', n.provider,
        'provider_message_id', 'm' || n.i, 'sent_at', n.at + interval '2 seconds')),
   (2, CASE WHEN n.bounced THEN 'NotificationFailed' ELSE 'NotificationDelivered' END, n.at + interval '1 minute',
        CASE WHEN n.bounced
          THEN jsonb_build_object('notification_id', n.id, 'reason', 'delivery_failed', 'error_class', 'bounced', 'message', 'bounced',
                 'provider', n.provider, 'provider_message_id', 'm' || n.i, 'failed_at', n.at + interval '1 minute')
          ELSE jsonb_build_object('notification_id', n.id, 'provider_message_id', 'm' || n.i, 'delivered_at', n.at + interval '1 minute')
        END),
   (3, CASE WHEN n.i % 3 = 0 THEN 'NotificationClicked' ELSE 'NotificationOpened' END, n.at + interval '2 hours',
        CASE WHEN n.i % 3 = 0
          THEN jsonb_build_object('notification_id', n.id, 'provider_message_id', 'm' || n.i, 'url', 'https://levieuxmoulin.fr/reserver',
                 'clicked_at', n.at + interval '2 hours', 'first_click', true)
          ELSE jsonb_build_object('notification_id', n.id, 'provider_message_id', 'm' || n.i, 'opened_at', n.at + interval '2 hours', 'first_open', true)
        END)
 ) AS e(k, type, at, data)
 ORDER BY n.i, e.k`;

/** Filters, granularities and groupings a dashboard would ask for, over the 90 days of data. */
function queryPaths(campaignIds: string[]): string[] {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const paths: string[] = [];
  for (let i = 0; i < 400; i++) {
    const campaign = campaignIds[i % campaignIds.length]!;
    const offset = (i * 7919) % (DAYS - 10);
    const from = START + offset * 86_400_000;
    const variants = [
      `granularity=day&from=${day(START)}&to=${day(END)}&group_by=channel,platform`,
      `granularity=week&from=${day(START)}&to=${day(END)}&group_by=campaign`,
      `granularity=day&campaign_id=${campaign}&from=${day(from)}&to=${day(from + 10 * 86_400_000)}`,
      `granularity=hour&campaign_id=${campaign}&from=${day(from)}&to=${day(from + 3 * 86_400_000)}`,
      `granularity=hour&channel=sms&from=${day(from)}&to=${day(from + 86_400_000)}`,
      `granularity=day&channel=email&platform=sendgrid&from=${day(from)}&to=${day(from + 30 * 86_400_000)}&group_by=none`,
      `granularity=week&campaign_id=${campaign}&from=${day(START)}&to=${day(END)}&group_by=channel,platform`,
      `granularity=hour&from=${day(from)}&to=${day(from + 86_400_000)}&group_by=channel`,
      `granularity=week&from=${day(START)}&to=${day(END)}&group_by=campaign,channel,platform`,
    ];
    paths.push(`/api/communication/analytics?${variants[i % variants.length]!}`);
  }
  return paths;
}

async function measure(ask: (path: string) => Promise<{ ms: number; ok: boolean }>, paths: string[], concurrency: number, requests: number): Promise<QueryRun> {
  const latencies: number[] = [];
  // Per query shape (the path without its dates and ids), to tell which kind of question makes the tail.
  const byShape = new Map<string, number[]>();
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const path = paths[next++ % paths.length]!;
        const result = await ask(path);
        latencies.push(result.ms);
        const shape = path.replace(/\d{4}-\d{2}-\d{2}/g, 'D').replace(/campaign_id=[^&]+/, 'campaign_id=C').replace('/api/communication/analytics?', '');
        const ofShape = byShape.get(shape) ?? [];
        ofShape.push(result.ms);
        byShape.set(shape, ofShape);
        if (!result.ok) errors++;
      }
    }),
  );
  const percentile = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
  };
  const slowest = [...byShape].map(([shape, values]) => ({ shape, p99: percentile(values, 0.99) })).sort((a, b) => b.p99 - a.p99)[0]!;
  return { concurrency, requests, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: percentile(latencies, 1), errors, slowest };
}
