import { sql, type Kysely } from 'kysely';
import { figureColumns, type AnalyticsTables } from './analytics-tables.js';
import { postKey, type AnalyticsChanges, type BucketDelta, type Loaded } from './analytics-fold.js';

const CHUNK = 1_000;

/** The stored rows a batch refers to. */
export async function loadReferences(db: Kysely<AnalyticsTables>, refs: { notificationIds: string[]; publicationIds: string[] }): Promise<Loaded> {
  const loaded: Loaded = { notifications: new Map(), posts: new Map(), publications: new Map() };
  // One array parameter, not a list of them: the statement stays the same whatever the batch, and is planned once.
  for (const ids of chunks(refs.notificationIds)) {
    const { rows } = await sql<AnalyticsTables['analytics_notifications']>`
      SELECT * FROM analytics_notifications WHERE notification_id = ANY (${ids}::uuid[])`.execute(db);
    for (const row of rows) loaded.notifications.set(row.notification_id, row);
  }
  for (const ids of chunks(refs.publicationIds)) {
    const publications = await db.selectFrom('analytics_publications').selectAll().where('publication_id', 'in', ids).execute();
    for (const row of publications) loaded.publications.set(row.publication_id, row.campaign_id);
    const posts = await db.selectFrom('analytics_posts').selectAll().where('publication_id', 'in', ids).execute();
    for (const row of posts) loaded.posts.set(postKey(row.publication_id, row.platform), row);
  }
  return loaded;
}

/** Writes a batch's changes: rows replaced, bucket figures added to what is stored. */
export async function writeChanges(db: Kysely<AnalyticsTables>, changes: AnalyticsChanges): Promise<void> {
  // One row per notification: the rows as one JSON parameter (12 parameters a row cost more to build than to apply).
  for (const rows of chunks([...changes.notifications.values()])) {
    await sql`
      INSERT INTO analytics_notifications (notification_id, campaign_id, channel, platform, hour, sent, delivered, failed, bounced, skipped, opened, clicked)
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(notification_id uuid, campaign_id uuid, channel text,
        platform text, hour timestamptz, sent boolean, delivered boolean, failed boolean, bounced boolean, skipped boolean,
        opened boolean, clicked boolean)
      ON CONFLICT (notification_id) DO UPDATE SET
        platform = excluded.platform, sent = excluded.sent, delivered = excluded.delivered, failed = excluded.failed,
        bounced = excluded.bounced, skipped = excluded.skipped, opened = excluded.opened, clicked = excluded.clicked`.execute(db);
  }
  for (const rows of chunks([...changes.posts.values()])) {
    await db
      .insertInto('analytics_posts')
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['publication_id', 'platform']).doUpdateSet((eb) => ({
          hour: eb.ref('excluded.hour'),
          published: eb.ref('excluded.published'),
          failed: eb.ref('excluded.failed'),
          likes: eb.ref('excluded.likes'),
          shares: eb.ref('excluded.shares'),
          comments: eb.ref('excluded.comments'),
          reach: eb.ref('excluded.reach'),
          impressions: eb.ref('excluded.impressions'),
          clicks: eb.ref('excluded.clicks'),
        })),
      )
      .execute();
  }
  const publications = [...changes.publications].map(([publication_id, campaign_id]) => ({ publication_id, campaign_id }));
  for (const rows of chunks(publications)) {
    await db.insertInto('analytics_publications').values(rows).onConflict((oc) => oc.column('publication_id').doNothing()).execute();
  }
  await addToBuckets(db, 'analytics_hourly', 'hour', [...changes.hourly.values()]);
  await addToBuckets(db, 'analytics_daily', 'day', [...changes.daily.values()]);
  await addToBuckets(db, 'analytics_weekly', 'week', [...changes.weekly.values()]);
  await writeCampaigns(db, changes);
}

async function addToBuckets<P>(
  db: Kysely<AnalyticsTables>,
  table: 'analytics_hourly' | 'analytics_daily' | 'analytics_weekly',
  period: 'hour' | 'day' | 'week',
  deltas: BucketDelta<P>[],
): Promise<void> {
  for (const rows of chunks(deltas)) {
    const values = rows.map((delta) => ({ [period]: delta.period, ...delta.key, ...delta.figures }));
    await db
      .insertInto(table)
      .values(values as never)
      .onConflict((oc) =>
        oc.columns([period, 'campaign_id', 'channel', 'platform'] as never).doUpdateSet(
          Object.fromEntries(figureColumns.map((column) => [column, sql`${sql.ref(`${table}.${column}`)} + excluded.${sql.ref(column)}`])) as never,
        ),
      )
      .execute();
  }
}

/**
 * Campaign rows: budget and targets as last set, and a new change sequence for every campaign the batch touched, so
 * that the performance monitor judges it again.
 */
async function writeCampaigns(db: Kysely<AnalyticsTables>, changes: AnalyticsChanges): Promise<void> {
  const ids = [...new Set([...changes.touched, ...changes.settings.keys()])];
  for (const chunk of chunks(ids)) {
    const stored = new Map((await db.selectFrom('analytics_campaigns').select(['campaign_id', 'budget', 'success_metrics']).where('campaign_id', 'in', chunk).execute()).map((row) => [row.campaign_id, row]));
    const rows = chunk.map((campaign_id) => {
      const settings = changes.settings.get(campaign_id) ?? {};
      const current = stored.get(campaign_id);
      return {
        campaign_id,
        budget: settings.budget ?? current?.budget ?? 0,
        success_metrics: JSON.stringify(settings.success_metrics ?? current?.success_metrics ?? {}),
        spent: changes.spent.get(campaign_id) ?? 0,
        changed_seq: sql<string>`nextval('analytics_campaign_changes')`,
      };
    });
    await db
      .insertInto('analytics_campaigns')
      .values(rows)
      .onConflict((oc) =>
        oc.column('campaign_id').doUpdateSet((eb) => ({
          budget: eb.ref('excluded.budget'),
          success_metrics: eb.ref('excluded.success_metrics'),
          spent: sql<number>`analytics_campaigns.spent + excluded.spent`,
          changed_seq: eb.ref('excluded.changed_seq'),
        })),
      )
      .execute();
  }
}

function chunks<T>(items: T[]): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) result.push(items.slice(start, start + CHUNK));
  return result;
}
