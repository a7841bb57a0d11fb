import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { engagementStreamId } from '../../../src/domain/engagement.js';
import type { Platform } from '../../../src/domain/publication-events.js';
import { createKysely, migrateToLatest } from '../../../src/infrastructure/database/kysely.js';
import type { EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { createPostgresEventStore } from '../../../src/infrastructure/event-store/postgres-event-store.js';
import { createLogger, type Logger } from '../../../src/infrastructure/logging/logger.js';
import { PlatformError, type EngagementMetrics, type SocialConnector } from '../../../src/platforms/social/connector.js';
import { engagementMigrations, type EngagementTable } from '../../../src/projections/engagement/engagement-table.js';
import { EngagementPoller, type EngagementPollerOptions } from '../../../src/reactors/publications/engagement-poller.js';
import { capturingLogger } from '../../support/captured-logs.js';
import { testDatabases } from '../../support/databases.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = new Date('2026-12-10T12:00:00.000Z');
const metrics = (likes: number): EngagementMetrics => ({ likes, shares: 1, comments: 2, reach: 100, clicks: null, impressions: 150 });

/** A connector of one platform that answers fetchMetrics with `answer`; publishing is not what these tests are about. */
function fakeConnector(platform: Platform, answer: (postId: string) => Promise<EngagementMetrics>): SocialConnector & { asked: string[] } {
  const asked: string[] = [];
  return {
    platform,
    account: `${platform}-account`,
    asked,
    publish: () => Promise.reject(new Error('not used')),
    findPublished: () => Promise.resolve(null),
    fetchMetrics: (postId) => {
      asked.push(postId);
      return answer(postId);
    },
    check: () => Promise.resolve(),
  };
}


describe.each(testDatabases())('engagement poller on $name', (database) => {
  let store: EventStore;
  let db: Kysely<EngagementTable>;
  let clock: Date;
  beforeAll(async () => {
    const sql = await database.create();
    store = await createPostgresEventStore(sql, { pollIntervalMs: 50 });
    db = createKysely(sql) as Kysely<EngagementTable>;
    await migrateToLatest(db, engagementMigrations, sql.schema);
  });
  afterAll(async () => {
    await store.close();
    await database.cleanup();
  });
  beforeEach(async () => {
    await db.deleteFrom('publication_engagement').execute();
    clock = START;
  });

  /** A published post as the read model holds it, `ageMs` before START. */
  const post = async (platform: Platform, ageMs: number) => {
    const publication_id = randomUUID();
    const post_id = `${platform}-${publication_id.slice(0, 8)}`;
    const published_at = new Date(START.getTime() - ageMs);
    await db
      .insertInto('publication_engagement')
      .values({ publication_id, platform, post_id, post_url: null, published_at, likes: 0, shares: 0, comments: 0, reach: null, clicks: null, impressions: null, measured_at: null, updated_at: published_at })
      .execute();
    return { publication_id, post_id };
  };
  const recorded = async (publicationId: string) => store.readStream(engagementStreamId(publicationId));
  const poller = (connectors: Partial<Record<Platform, SocialConnector>>, options: EngagementPollerOptions = {}, logger: Logger = createLogger('silent')) =>
    new EngagementPoller(store, db, connectors, logger, { now: () => clock, ...options });

  it('records the counters of the posts of the last days, from the platforms it has a connector for', async () => {
    const fresh = await post('facebook', 2 * HOUR);
    const older = await post('facebook', 6 * DAY);
    const tooOld = await post('facebook', 8 * DAY);
    const unconnected = await post('linkedin', HOUR);
    const facebook = fakeConnector('facebook', async () => metrics(5));

    expect(await poller({ facebook }).tick()).toEqual({ polled: 2, recorded: 2, failed: 0 });
    expect(facebook.asked.sort()).toEqual([fresh.post_id, older.post_id].sort());
    const [event] = await recorded(fresh.publication_id);
    expect(event).toMatchObject({
      type: 'EngagementMeasured',
      data: { publication_id: fresh.publication_id, platform: 'facebook', post_id: fresh.post_id, metrics: metrics(5), source: 'insights', measured_at: START.toISOString() },
      metadata: { actor: 'engagement-poller', schema_version: 1 },
    });
    expect(await recorded(tooOld.publication_id)).toEqual([]);
    expect(await recorded(unconnected.publication_id)).toEqual([]);
  });

  it('asks young posts more often than older ones, and records only counters that changed', async () => {
    const young = await post('facebook', 2 * HOUR);
    const old = await post('facebook', 3 * DAY);
    let likes = 5;
    const facebook = fakeConnector('facebook', async (postId) => metrics(postId === young.post_id ? likes : 9));
    const p = poller({ facebook }, { intervalMs: 15 * 60_000, recentIntervalMs: 5 * 60_000 });

    expect(await p.tick()).toEqual({ polled: 2, recorded: 2, failed: 0 });
    expect(await p.tick()).toEqual({ polled: 0, recorded: 0, failed: 0 });
    clock = new Date(START.getTime() + 5 * 60_000);
    likes = 6;
    expect(await p.tick()).toEqual({ polled: 1, recorded: 1, failed: 0 });
    clock = new Date(START.getTime() + 15 * 60_000);
    expect(await p.tick()).toEqual({ polled: 2, recorded: 0, failed: 0 });
    expect((await recorded(young.publication_id)).map((e) => (e.data as { metrics: EngagementMetrics }).metrics.likes)).toEqual([5, 6]);
    expect(await recorded(old.publication_id)).toHaveLength(1);
  });

  it('logs and skips a failing post or platform, and goes on with the others', async () => {
    const broken = await post('facebook', HOUR);
    const fine = await post('facebook', 2 * HOUR);
    const negative = await post('facebook', 3 * HOUR);
    const crashing = await post('facebook', 4 * HOUR);
    await post('instagram', HOUR);
    await post('instagram', 2 * HOUR);
    const facebook = fakeConnector('facebook', async (postId) => {
      if (postId === broken.post_id) throw new PlatformError('facebook', 'transient', 'facebook: no answer in time');
      if (postId === negative.post_id) return { ...metrics(1), reach: -3 };
      if (postId === crashing.post_id) throw Object.assign(new TypeError('socket hang up'), { config: { headers: { Authorization: 'Bearer EAAG-secret-page-token' } } });
      return metrics(3);
    });
    const instagram = fakeConnector('instagram', async () => {
      throw new PlatformError('instagram', 'auth', 'instagram: the access token has expired');
    });
    const log = capturingLogger();

    const outcome = await poller({ facebook, instagram }, { concurrency: 1 }, log.logger).tick();
    expect(outcome).toEqual({ polled: 5, recorded: 1, failed: 4 });
    expect(await recorded(fine.publication_id)).toHaveLength(1);
    // The platform that refused us is asked once, not once per post.
    expect(instagram.asked).toHaveLength(1);
    const warnings = log.lines.filter((l) => l.level === 40);
    expect(warnings.map((w) => w.msg)).toEqual(
      expect.arrayContaining([
        'insights request failed; post skipped for this round',
        'platform refused the insights request; platform skipped for this round',
        'platform counters refused; post skipped for this round',
        'insights poll failed; post skipped for this round',
      ]),
    );
    expect(warnings.find((w) => w.error_class === 'auth')).toMatchObject({ platform: 'instagram', error: 'instagram: the access token has expired' });
    expect(JSON.stringify(log.lines)).not.toContain('EAAG-secret-page-token');
  });

  it('asks a platform that refused us again at the next round', async () => {
    await post('instagram', 3 * DAY);
    let expired = true;
    const instagram = fakeConnector('instagram', async () => {
      if (expired) throw new PlatformError('instagram', 'rate_limited', 'instagram: too many calls');
      return metrics(1);
    });
    const p = poller({ instagram });
    expect(await p.tick()).toMatchObject({ polled: 1, failed: 1 });
    expired = false;
    clock = new Date(START.getTime() + 5 * 60_000);
    expect(await p.tick()).toEqual({ polled: 1, recorded: 1, failed: 0 });
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    for (let i = 0; i < 9; i++) await post('facebook', (i + 1) * HOUR);
    let inFlight = 0;
    let most = 0;
    const facebook = fakeConnector('facebook', async () => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      inFlight--;
      return metrics(1);
    });
    expect(await poller({ facebook }, { concurrency: 2 }).tick()).toMatchObject({ polled: 9, recorded: 9 });
    expect(most).toBe(2);
  });

  it('does nothing without connectors', async () => {
    await post('facebook', HOUR);
    expect(await poller({}).tick()).toEqual({ polled: 0, recorded: 0, failed: 0 });
  });

  it('polls on start, on its own, until stopped', async () => {
    const first = await post('facebook', HOUR);
    const facebook = fakeConnector('facebook', async () => metrics(2));
    const p = poller({ facebook }, { intervalMs: 60_000 });
    p.start();
    p.start();
    await expect.poll(async () => (await recorded(first.publication_id)).length, { timeout: 5_000 }).toBe(1);
    await p.stop();
    const asked = facebook.asked.length;
    await post('facebook', HOUR);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(facebook.asked).toHaveLength(asked);
  });

  it('does not hold the shutdown up for a call that does not answer', async () => {
    await post('facebook', HOUR);
    const facebook = fakeConnector('facebook', () => new Promise<EngagementMetrics>(() => undefined));
    const p = poller({ facebook }, { stopGraceMs: 100 });
    p.start();
    await expect.poll(() => facebook.asked.length).toBe(1);
    const stopping = Date.now();
    await p.stop();
    expect(Date.now() - stopping).toBeLessThan(1_000);
  });
});
