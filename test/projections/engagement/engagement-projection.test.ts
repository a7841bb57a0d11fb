import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import {
  engagementDecider,
  engagementEvents,
  engagementStreamId,
  type InteractionKind,
  type InteractionVerb,
  type Metrics,
} from '../../../src/domain/engagement.js';
import type { Platform } from '../../../src/domain/publication-events.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { checkpointMigrations } from '../../../src/projections/checkpoints.js';
import { engagementProjection } from '../../../src/projections/engagement/engagement-projection.js';
import type { EngagementTable } from '../../../src/projections/engagement/engagement-table.js';
import { Projector } from '../../../src/projections/projector.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { testDatabases } from '../../support/databases.js';
import { appendPlatformPublished } from '../../support/platform-published.js';

const logger = createLogger(process.env.TEST_LOG ? 'info' : 'silent');
const PUBLISHED_AT = '2026-12-01T18:30:00.000Z';
const MEASURED_AT = '2026-12-01T19:00:00.000Z';
const counters = (changes: Partial<Metrics> = {}): Metrics => ({ likes: 10, shares: 1, comments: 4, reach: 300, clicks: 7, impressions: 420, ...changes });

describe.each(testDatabases())('engagement projection on $name', (database) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => database.cleanup());

  const setup = async () => {
    const sql = await database.create();
    const store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    const db = createKysely(sql) as Kysely<EngagementTable>;
    await migrateToLatest(db, { ...checkpointMigrations, ...engagementProjection.migrations }, sql.schema);
    cleanups.push(() => store.close());
    const handler = new CommandHandler(store, engagementDecider, engagementEvents);
    const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date(MEASURED_AT) };
    const measure = (publication_id: string, post_id: string, metrics: Metrics, platform: Platform = 'facebook') =>
      handler.handle(engagementStreamId(publication_id), { type: 'RecordEngagementMeasured', publication_id, platform, post_id, metrics, source: 'insights', now: MEASURED_AT }, context);
    const interact = (publication_id: string, post_id: string, interaction_id: string, kind: InteractionKind, verb: InteractionVerb = 'add') =>
      handler.handle(
        engagementStreamId(publication_id),
        { type: 'RecordEngagementInteraction', publication_id, platform: 'facebook', post_id, interaction_id, kind, verb, now: MEASURED_AT },
        context,
      );
    const project = async () => {
      const projector = new Projector(store, db, engagementProjection, logger, { batchSize: 3, retryDelayMs: 20 });
      cleanups.push(() => projector.stop());
      await projector.start();
      expect(await projector.waitFor((await store.headPosition())!, 5_000)).toBe(true);
      return projector;
    };
    const rows = () => db.selectFrom('publication_engagement').selectAll().orderBy('publication_id').orderBy('platform').execute();
    const row = (publication_id: string, platform: Platform = 'facebook') =>
      db.selectFrom('publication_engagement').selectAll().where('publication_id', '=', publication_id).where('platform', '=', platform).executeTakeFirst();
    return { store, db, measure, interact, project, rows, row };
  };

  it('creates a row per published post, with no counters measured yet', async () => {
    const s = await setup();
    const id = randomUUID();
    await appendPlatformPublished(s.store, { publication_id: id, post_id: '1_2', published_at: PUBLISHED_AT, post_url: 'https://www.facebook.com/1/posts/2' });
    await appendPlatformPublished(s.store, { publication_id: id, platform: 'instagram', post_id: '17900000', published_at: PUBLISHED_AT });
    await s.project();
    expect(await s.row(id)).toEqual({
      publication_id: id,
      platform: 'facebook',
      post_id: '1_2',
      post_url: 'https://www.facebook.com/1/posts/2',
      published_at: new Date(PUBLISHED_AT),
      likes: 0,
      shares: 0,
      comments: 0,
      reach: null,
      clicks: null,
      impressions: null,
      measured_at: null,
      updated_at: new Date(PUBLISHED_AT),
    });
    expect(await s.row(id, 'instagram')).toMatchObject({ post_id: '17900000', likes: 0 });
  });

  it('sets the counters on a measurement, nudges them on interactions, and lets the next measurement win', async () => {
    const s = await setup();
    const id = randomUUID();
    await appendPlatformPublished(s.store, { publication_id: id, post_id: '1_2', published_at: PUBLISHED_AT });
    await s.measure(id, '1_2', counters({ clicks: null }));
    await s.interact(id, '1_2', 'c1', 'comment');
    await s.interact(id, '1_2', 'c2', 'comment');
    await s.interact(id, '1_2', 'c2', 'comment', 'edited');
    await s.interact(id, '1_2', 'c1', 'comment', 'remove');
    await s.interact(id, '1_2', 'r1', 'reaction');
    await s.interact(id, '1_2', 's1', 'share');
    const projector = await s.project();
    expect(await s.row(id)).toMatchObject({ likes: 11, shares: 2, comments: 5, reach: 300, clicks: null, impressions: 420, measured_at: new Date(MEASURED_AT) });

    await s.measure(id, '1_2', counters({ likes: 20, comments: 6 }));
    expect(await projector.waitFor((await s.store.headPosition())!, 5_000)).toBe(true);
    expect(await s.row(id)).toMatchObject({ likes: 20, shares: 1, comments: 6, clicks: 7 });
  });

  it('never counts below zero, and counts an interaction on an unreported counter from zero', async () => {
    const s = await setup();
    const id = randomUUID();
    await appendPlatformPublished(s.store, { publication_id: id, post_id: '1_2', published_at: PUBLISHED_AT });
    await s.interact(id, '1_2', 'gone', 'comment', 'remove');
    await s.measure(id, '1_2', counters({ shares: null }));
    await s.interact(id, '1_2', 's1', 'share');
    await s.project();
    expect(await s.row(id)).toMatchObject({ comments: 4, shares: 1 });
  });

  it('ignores engagement of a post it never saw published', async () => {
    const s = await setup();
    const id = randomUUID();
    await s.measure(id, '1_2', counters());
    await s.interact(id, '1_2', 'c1', 'comment');
    await s.project();
    expect(await s.rows()).toEqual([]);
  });

  it('rebuilds to exactly the same rows', async () => {
    const s = await setup();
    for (let i = 0; i < 6; i++) {
      const id = randomUUID();
      await appendPlatformPublished(s.store, { publication_id: id, post_id: `p${i}`, published_at: PUBLISHED_AT });
      if (i % 2 === 0) await s.measure(id, `p${i}`, counters({ likes: i }));
      if (i % 3 === 0) await s.interact(id, `p${i}`, `c${i}`, 'comment');
    }
    const projector = await s.project();
    await projector.stop();
    const live = await s.rows();
    expect(live).toHaveLength(6);
    await rebuildProjection(s.store, s.db, engagementProjection, 4);
    expect(await s.rows()).toEqual(live);
  });
});
