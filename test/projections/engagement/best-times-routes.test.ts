import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { engagementDecider, engagementEvents, engagementStreamId, type Metrics } from '../../../src/domain/engagement.js';
import type { Platform } from '../../../src/domain/publication-events.js';
import { formatPosition, type Position } from '../../../src/infrastructure/event-store/event-store.js';
import { engagementProjection } from '../../../src/projections/engagement/engagement-projection.js';
import { nextSlotStart, parisSlotOf, type Slot } from '../../../src/projections/engagement/posting-slots.js';
import { rebuildProjection } from '../../../src/projections/rebuild.js';
import { testDatabases } from '../../support/databases.js';
import { platformsJson } from '../../support/platform-doubles.js';
import { appendPlatformPublished } from '../../support/platform-published.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const DAY = 86_400_000;
const FRIDAY_18: Slot = { weekday: 5, hour: 18 };
const TUESDAY_11: Slot = { weekday: 2, hour: 11 };
const SUNDAY_12: Slot = { weekday: 7, hour: 12 };

/**
 * GET /api/communication/insights/best-times and the suggested_times POST /publish/validate offers, over posts
 * published in past weeks with their measured engagement.
 */
describe.each(testDatabases())('best posting times on $name', (database) => {
  let t: RunningApp;
  let last: Position | null = null;
  const base = `/api/communication/insights/best-times`;

  beforeAll(async () => {
    const nowhere = { url: 'http://127.0.0.1:9' };
    t = await startTestApp(database, { worker: false, platforms: platformsJson({ graph: nowhere, x: nowhere, google: nowhere, linkedin: nowhere } as never, ['facebook', 'instagram']) });
    const engagement = new CommandHandler(t.app.store, engagementDecider, engagementEvents);
    /** A post of `platform` in the slot, `weeksAgo` weeks back (10 minutes past the hour), measured with `metrics`. */
    const posted = async (platform: Platform, slot: Slot, weeksAgo: number, metrics: Partial<Metrics> | null) => {
      const published_at = new Date(nextSlotStart(slot, new Date(Date.now() - (weeksAgo * 7 + 1) * DAY)).getTime() + 10 * 60_000).toISOString();
      const publication_id = randomUUID();
      const post_id = `p-${publication_id}`;
      last = await appendPlatformPublished(t.app.store, { publication_id, platform, post_id, published_at });
      if (!metrics) return;
      const context = { correlationId: 'c', causationId: 'c', actor: 'test', now: new Date() };
      const result = await engagement.handle(
        engagementStreamId(publication_id),
        { type: 'RecordEngagementMeasured', publication_id, platform, post_id, metrics: { likes: 0, shares: 0, comments: 0, reach: null, clicks: null, impressions: null, ...metrics }, source: 'insights', now: new Date().toISOString() },
        context,
      );
      last = result.position ?? last;
    };
    for (let week = 2; week <= 5; week++) await posted('facebook', FRIDAY_18, week, { likes: 20 + week, comments: 4, reach: 900 });
    for (let week = 2; week <= 4; week++) await posted('facebook', TUESDAY_11, week, { likes: 5 });
    await posted('facebook', SUNDAY_12, 2, { likes: 500 }); // one post: too few to rank
    await posted('facebook', SUNDAY_12, 3, null); // never measured: not counted
    for (let week = 2; week <= 4; week++) await posted('instagram', TUESDAY_11, week, { likes: 40 });
    await posted('facebook', FRIDAY_18, 60, { likes: 1_000 }); // more than a year ago
  }, 60_000);
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const get = (query: string) => t.call('GET', `${base}?${query}${last ? `&min_position=${formatPosition(last)}` : ''}`);

  it('ranks the weekday × hour slots of a platform by interactions per post, with the figures and the minimum sample', async () => {
    const response = await get('platform=facebook');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ platform: 'facebook', time_zone: 'Europe/Paris', ranked_by: 'interactions_per_post', min_posts: 3, posts: 8, slots_below_min_posts: 1 });
    expect(response.body.slots.map((s: { day: string; hour: number; posts: number }) => [s.day, s.hour, s.posts])).toEqual([
      ['friday', 18, 4],
      ['tuesday', 11, 3],
    ]);
    expect(response.body.slots[0]).toMatchObject({ weekday: 5, likes: 22 + 23 + 24 + 25, comments: 16, interactions: 110, interactions_per_post: 27.5, reach_per_post: 900, engagement_rate: 0.0306 });
    expect(response.body.interactions_per_post).toBe(Math.round(((110 + 15 + 500) / 8) * 100) / 100);

    const everything = await get('platform=facebook&min_posts=1&limit=1');
    expect(everything.body.slots).toEqual([expect.objectContaining({ day: 'sunday', hour: 12, posts: 1, interactions_per_post: 500 })]);
    expect((await get('platform=facebook&days=600')).body.posts).toBe(9);
    expect((await get('platform=linkedin')).body).toMatchObject({ posts: 0, slots: [], interactions_per_post: null });
  });

  it('refuses a bad query with 400 naming the field, and a key without analytics:read with 403', async () => {
    for (const [query, path] of [
      ['', 'querystring.platform'],
      ['platform=myspace', 'querystring.platform'],
      ['platform=facebook&min_posts=0', 'querystring.min_posts'],
      ['platform=facebook&days=2', 'querystring.days'],
      ['platform=facebook&limit=abc', 'querystring.limit'],
    ]) {
      const response = await t.call('GET', `${base}?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error).toBe('validation_failed');
      expect(response.body.details.map((d: { path: string }) => d.path), query).toContain(path);
    }
    const key = await t.keyWith(['publications:read']);
    expect((await t.call('GET', `${base}?platform=facebook`, { key })).status).toBe(403);
  });

  it('offers the next best times when scheduling, only when asked', async () => {
    const body = { content: { body: 'Ce soir : pizza au feu de bois', media_urls: ['https://cdn.levieuxmoulin.fr/pizza.jpg'] }, platforms: ['facebook', 'instagram'] };
    const plain = await t.call('POST', '/api/communication/publish/validate', { body });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ valid: true, violations: [], suggestion: null });

    const asked = await t.call('POST', '/api/communication/publish/validate?suggest_times=true', { body });
    expect(asked.status).toBe(200);
    const suggested = asked.body.suggested_times as { platform: string; scheduled_time: string; scheduled_time_local: string; day: string; hour: number; posts: number }[];
    expect(suggested.map((s) => [s.platform, s.day, s.hour, s.posts])).toEqual([
      ['facebook', 'friday', 18, 4],
      ['facebook', 'tuesday', 11, 3],
      ['instagram', 'tuesday', 11, 3],
    ]);
    for (const suggestion of suggested) {
      const at = new Date(suggestion.scheduled_time);
      expect(at.getTime()).toBeGreaterThan(Date.now() - 60_000);
      expect(at.getTime()).toBeLessThan(Date.now() + 8 * DAY);
      expect(parisSlotOf(at)).toEqual({ weekday: suggestion.day === 'friday' ? 5 : 2, hour: suggestion.hour });
      expect(suggestion.scheduled_time_local).toMatch(new RegExp(`T${suggestion.hour}:00:00\\+0[12]:00$`));
    }

    const scheduled = await t.call('POST', '/api/communication/publish?suggest_times=true', { body: { ...body, platforms: ['facebook'], scheduled_time: new Date(Date.now() + DAY).toISOString() } });
    expect(scheduled.status).toBe(202);
    expect(scheduled.body).toMatchObject({ status: 'scheduled', publication_ids: { facebook: expect.stringMatching(/^fb_/) } });
    expect(scheduled.body.suggested_times.map((s: { day: string }) => s.day)).toEqual(['friday', 'tuesday']);
    const docs = await t.call('GET', '/docs/json', { key: null });
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/communication/insights/best-times', '/api/communication/campaigns/{id}/experiments']));

    const bad = await t.call('POST', '/api/communication/publish/validate?suggest_times=yes', { body });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path)).toContain('querystring.suggest_times');
  });

  it('gives the same answer after the engagement read model is rebuilt from the events', async () => {
    const before = await get('platform=facebook&min_posts=1&limit=168');
    const projector = t.app.projectors.find((p) => p.projection.name === engagementProjection.name)!;
    await projector.stop();
    try {
      await rebuildProjection(t.app.store, t.app.db, engagementProjection, 5);
      const after = await t.call('GET', `${base}?platform=facebook&min_posts=1&limit=168`);
      expect({ ...after.body, from: null, to: null, position: null }).toEqual({ ...before.body, from: null, to: null, position: null });
    } finally {
      await projector.start();
    }
  });
});
