import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../../src/commands/command-handler.js';
import { engagementDecider, engagementEvents, engagementStreamId, type Metrics } from '../../../src/domain/engagement.js';
import type { Platform } from '../../../src/domain/publication-events.js';
import { formatPosition } from '../../../src/infrastructure/event-store/event-store.js';
import { testDatabases } from '../../support/databases.js';
import { appendPlatformPublished } from '../../support/platform-published.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

const PUBLISHED_AT = '2026-12-01T18:30:00.000Z';

describe.each(testDatabases())('engagement route on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { worker: false, connectors: {} });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const measure = async (publication_id: string, platform: Platform, post_id: string, metrics: Metrics) => {
    const handler = new CommandHandler(t.app.store, engagementDecider, engagementEvents);
    const now = new Date('2026-12-01T19:00:00.000Z');
    const result = await handler.handle(
      engagementStreamId(publication_id),
      { type: 'RecordEngagementMeasured', publication_id, platform, post_id, metrics, source: 'insights', now: now.toISOString() },
      { correlationId: 'c', causationId: 'c', actor: 'test', now },
    );
    return formatPosition(result.position!);
  };
  const path = (id: string) => `/api/communication/publications/${id}/engagement`;

  it('gives the counters of each platform and their totals', async () => {
    const id = randomUUID();
    await appendPlatformPublished(t.app.store, { publication_id: id, post_id: '1_2', published_at: PUBLISHED_AT, post_url: 'https://www.facebook.com/1/posts/2' });
    await appendPlatformPublished(t.app.store, { publication_id: id, platform: 'instagram', post_id: '17900000', published_at: PUBLISHED_AT });
    await measure(id, 'facebook', '1_2', { likes: 10, shares: 2, comments: 3, reach: 400, clicks: 9, impressions: null });
    const position = await measure(id, 'instagram', '17900000', { likes: 25, shares: null, comments: 1, reach: 300, clicks: null, impressions: null });

    const response = await t.call('GET', `${path(id)}?min_position=${position}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-read-position')).toBeTruthy();
    expect(response.body).toEqual({
      publication_id: id,
      platforms: {
        facebook: {
          post_id: '1_2',
          post_url: 'https://www.facebook.com/1/posts/2',
          published_at: PUBLISHED_AT,
          likes: 10,
          shares: 2,
          comments: 3,
          reach: 400,
          clicks: 9,
          impressions: null,
          measured_at: '2026-12-01T19:00:00.000Z',
        },
        instagram: expect.objectContaining({ post_id: '17900000', likes: 25, shares: null }),
      },
      totals: { likes: 35, shares: 2, comments: 4, reach: 700, clicks: 9, impressions: null },
    });
  });

  it('answers 404 publication_not_published for a publication with no published platform', async () => {
    const response = await t.call('GET', path(randomUUID()));
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: 'publication_not_published', details: [{ path: 'id' }] });
  });

  it('names a bad id (400) and needs publications:read', async () => {
    const bad = await t.call('GET', path('not-a-uuid'));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'params.id' }] });
    expect((await t.call('GET', path(randomUUID()), { key: null })).status).toBe(401);
    const campaignsOnly = await t.keyWith(['campaigns:read']);
    expect((await t.call('GET', path(randomUUID()), { key: campaignsOnly })).status).toBe(403);
    const reader = await t.keyWith(['publications:read']);
    expect((await t.call('GET', path(randomUUID()), { key: reader })).status).toBe(404);
  });
});
