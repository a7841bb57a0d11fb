import { randomUUID } from 'node:crypto';
import { campaignFieldsSchema } from '../src/domain/campaign.js';
import { createKysely, migrateToLatest } from '../src/infrastructure/database/kysely.js';
import { createPostgresClient } from '../src/infrastructure/database/postgres-client.js';
import type { EventData } from '../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../src/infrastructure/event-store/postgres-event-store.js';
import { campaignsProjection } from '../src/projections/campaigns/campaigns-projection.js';
import { checkpointMigrations } from '../src/projections/checkpoints.js';
import { rebuildProjection } from '../src/projections/rebuild.js';

/** Writes `events` campaign events (4 per campaign: created, updated, scheduled, activated), then rebuilds. */
export async function benchRebuild(url: string, events: number): Promise<{ events: number; durationMs: number; eventsPerSecond: number; rows: number }> {
  const sql = await createPostgresClient({ connectionString: url, maxConnections: 16 });
  const store = await createPostgresEventStore(sql);
  const db = createKysely(sql);
  try {
    await migrateToLatest(db, { ...checkpointMigrations, ...campaignsProjection.migrations }, sql.schema);
    const campaigns = Math.ceil(events / 4);
    const meta = () => ({ correlation_id: randomUUID(), causation_id: randomUUID(), actor: 'bench', timestamp: new Date().toISOString(), schema_version: 1 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < campaigns) {
          const i = next++;
          const id = randomUUID();
          const fields = campaignFieldsSchema.parse({
            name: `Campagne ${i}`,
            start_date: '2027-01-01T10:00:00Z',
            end_date: '2027-01-20T10:00:00Z',
            budget: 100,
            channels: [{ type: 'email' }],
            target_audience: { segment: 'habitues' },
          });
          const batch: EventData[] = [
            { id: randomUUID(), type: 'CampaignCreated', data: { campaign_id: id, ...fields }, metadata: meta() },
            { id: randomUUID(), type: 'CampaignUpdated', data: { campaign_id: id, changes: { priority: i % 100 } }, metadata: meta() },
            { id: randomUUID(), type: 'CampaignScheduled', data: { campaign_id: id, start_date: fields.start_date, end_date: fields.end_date }, metadata: meta() },
            { id: randomUUID(), type: 'CampaignActivated', data: { campaign_id: id, activated_at: new Date().toISOString() }, metadata: meta() },
          ];
          await store.append(`campaign-${id}`, batch, { expectedRevision: 'no_stream' });
        }
      }),
    );
    const result = await rebuildProjection(store, db, campaignsProjection, Number(process.env.BENCH_BATCH ?? 5000));
    const count = await db.selectFrom('campaigns').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    return {
      events: result.events,
      durationMs: result.durationMs,
      eventsPerSecond: Math.round((result.events / result.durationMs) * 1000),
      rows: Number(count.n),
    };
  } finally {
    await store.close();
    await sql.close();
  }
}
