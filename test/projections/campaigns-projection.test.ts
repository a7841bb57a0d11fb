import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { campaignStreamId } from '../../src/commands/campaign-routes.js';
import { CommandHandler } from '../../src/commands/command-handler.js';
import { campaignDecider, campaignEvents, campaignFieldsSchema } from '../../src/domain/campaign.js';
import { createKysely, migrateToLatest } from '../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store.js';
import type { RecordedEvent } from '../../src/infrastructure/event-store/event-store.js';
import { createLogger } from '../../src/infrastructure/logging/logger.js';
import { campaignsProjection } from '../../src/projections/campaigns/campaigns-projection.js';
import { checkpointMigrations, readCheckpoint } from '../../src/projections/checkpoints.js';
import { Projector } from '../../src/projections/projector.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { testDatabases } from '../support/databases.js';

const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent');

describe.each(testDatabases())('campaigns projection on $name', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql);
    await migrateToLatest(db, { ...checkpointMigrations, ...campaignsProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const handler = new CommandHandler(store, campaignDecider, campaignEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date('2026-11-20T10:00:00Z') };
    const now = '2026-11-20T10:00:00Z';
    /** Writes a realistic mix: creations, updates, transitions, cancellations. */
    const writeHistory = async (count: number) => {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const id = randomUUID();
        ids.push(id);
        const fields = campaignFieldsSchema.parse({
          name: `Campagne ${i}`,
          start_date: '2026-12-01T10:00:00Z',
          end_date: '2026-12-20T10:00:00+01:00',
          budget: i * 10.25,
          channels: i % 3 === 0 ? [] : [{ type: 'sms' }],
          target_audience: { segment: `s${i % 4}` },
        });
        await handler.handle(campaignStreamId(id), { type: 'CreateCampaign', campaign_id: id, fields, now }, context, { creates: true });
        await handler.handle(campaignStreamId(id), { type: 'UpdateCampaign', campaign_id: id, changes: { priority: i % 100 }, now }, context);
        if (i % 3 !== 0) await handler.handle(campaignStreamId(id), { type: 'ScheduleCampaign', campaign_id: id, now }, context);
        if (i % 3 === 1) await handler.handle(campaignStreamId(id), { type: 'ActivateCampaign', campaign_id: id, now }, context);
        if (i % 5 === 0) await handler.handle(campaignStreamId(id), { type: 'CancelCampaign', campaign_id: id, reason: 'météo', now }, context);
      }
      return ids;
    };
    const rows = async () => db.selectFrom('campaigns').selectAll().orderBy('id').execute();
    return { sql, store, db, writeHistory, rows };
  };

  const startProjector = (s: Awaited<ReturnType<typeof setup>>) => {
    const projector = new Projector(s.store, s.db, campaignsProjection, logger, { batchSize: 7, retryDelayMs: 20 });
    cleanups.push(() => projector.stop());
    return projector;
  };

  it('builds one row per campaign with its current state', async () => {
    const s = await setup();
    const ids = await s.writeHistory(12);
    const projector = startProjector(s);
    await projector.start();
    const head = (await s.store.headPosition())!;
    expect(await projector.waitFor(head, 5000)).toBe(true);
    const rows = await s.rows();
    expect(rows).toHaveLength(12);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(ids[1]!)).toMatchObject({ status: 'active', priority: 1, budget: '10.25' });
    expect(byId.get(ids[0]!)).toMatchObject({ status: 'canceled' });
    expect(byId.get(ids[3]!)).toMatchObject({ status: 'draft' });
    expect(byId.get(ids[2]!)).toMatchObject({ status: 'scheduled' });
  });

  it('writes a batch of more distinct campaigns than one statement can carry', async () => {
    const s = await setup();
    const fields = campaignFieldsSchema.parse({ name: 'Lot', start_date: '2026-12-01T10:00:00Z', end_date: '2026-12-20T10:00:00Z' });
    const batch: RecordedEvent[] = Array.from({ length: 5_000 }, (_, i) => {
      const id = randomUUID();
      return {
        id: randomUUID(),
        type: 'CampaignCreated',
        streamId: campaignStreamId(id),
        revision: 0,
        position: { commit: 1n, prepare: BigInt(i + 1) },
        data: { campaign_id: id, ...fields },
        metadata: { timestamp: '2026-11-20T10:00:00Z' },
        createdAt: new Date('2026-11-20T10:00:00Z'),
      };
    });
    await s.db.transaction().execute((trx) => campaignsProjection.apply(batch, trx));
    expect(await s.rows()).toHaveLength(5_000);
  });

  it('rebuilds to exactly the same rows', async () => {
    const s = await setup();
    await s.writeHistory(25);
    const projector = startProjector(s);
    await projector.start();
    expect(await projector.waitFor((await s.store.headPosition())!, 5000)).toBe(true);
    await projector.stop();
    const live = await s.rows();

    const result = await rebuildProjection(s.store, s.db, campaignsProjection, 9);
    expect(result.events).toBe((await s.store.readAll({ filter: { categories: ['campaign'] }, maxCount: 10_000 })).length);
    expect(await s.rows()).toEqual(live);
    const checkpoint = await readCheckpoint(s.db, 'campaigns');
    expect(checkpoint.position).toEqual(await s.store.headPosition());
  });

  it('resumes from its checkpoint after a restart without applying anything twice', async () => {
    const s = await setup();
    await s.writeHistory(5);
    const first = startProjector(s);
    await first.start();
    expect(await first.waitFor((await s.store.headPosition())!, 5000)).toBe(true);
    await first.stop();
    const applied = (await readCheckpoint(s.db, 'campaigns')).eventsApplied;

    await s.writeHistory(4);
    const second = startProjector(s);
    await second.start();
    expect(await second.waitFor((await s.store.headPosition())!, 5000)).toBe(true);
    const total = (await s.store.readAll({ filter: { categories: ['campaign'] }, maxCount: 10_000 })).length;
    expect((await readCheckpoint(s.db, 'campaigns')).eventsApplied).toBe(total);
    expect(total).toBeGreaterThan(applied);
    expect(await s.rows()).toHaveLength(9);
  });

  it('lets two projectors of one projection run at once without double-applying', async () => {
    const s = await setup();
    const a = startProjector(s);
    const b = startProjector(s);
    await Promise.all([a.start(), b.start()]);
    await s.writeHistory(15);
    const head = (await s.store.headPosition())!;
    expect(await a.waitFor(head, 10_000)).toBe(true);
    expect(await b.waitFor(head, 10_000)).toBe(true);
    const total = (await s.store.readAll({ filter: { categories: ['campaign'] }, maxCount: 10_000 })).length;
    // Each event is applied once: the count reaches the total, and stays there.
    await expect.poll(async () => (await readCheckpoint(s.db, 'campaigns')).eventsApplied, { timeout: 10_000 }).toBe(total);
    await new Promise((r) => setTimeout(r, 200));
    expect((await readCheckpoint(s.db, 'campaigns')).eventsApplied).toBe(total);
    const live = await s.rows();
    await rebuildProjection(s.store, s.db, campaignsProjection);
    expect(await s.rows()).toEqual(live);
  });

  it('follows on after a rebuild made while it runs', async () => {
    const s = await setup();
    await s.writeHistory(6);
    const projector = startProjector(s);
    await projector.start();
    expect(await projector.waitFor((await s.store.headPosition())!, 5000)).toBe(true);
    await rebuildProjection(s.store, s.db, campaignsProjection);
    await s.writeHistory(3);
    const head = (await s.store.headPosition())!;
    expect(await projector.waitFor(head, 5000)).toBe(true);
    const total = (await s.store.readAll({ filter: { categories: ['campaign'] }, maxCount: 10_000 })).length;
    await new Promise((r) => setTimeout(r, 100));
    expect((await readCheckpoint(s.db, 'campaigns')).eventsApplied).toBe(total);
    expect(await s.rows()).toHaveLength(9);
  });
});
