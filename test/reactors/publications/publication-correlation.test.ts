import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SocialPost } from '../../../src/platforms/social/connector.js';
import { capturingLogger } from '../../support/captured-logs.js';
import { pgliteDatabase } from '../../support/databases.js';
import { scriptedConnector } from '../../support/scripted-connector.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

describe('correlation id from POST /publish to the platform call', () => {
  const database = pgliteDatabase();
  const { logger, lines } = capturingLogger('info');
  const posts: SocialPost[] = [];
  let t: RunningApp;

  beforeAll(async () => {
    const facebook = scriptedConnector('facebook', '1001', { publish: async (post: SocialPost) => (posts.push(post), { postId: '1001_1', url: null }) });
    t = await startTestApp(database, { logger, connectors: { facebook } });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('logs the publish call, made from a scheduler job, with the correlation id of the request', async () => {
    const correlationId = 'corr-publish-51c2';
    const response = await t.call('POST', '/api/communication/publish', {
      body: { content: { title: '', body: 'Ce soir : moules-frites au Vieux Moulin.', hashtags: [] }, platforms: ['facebook'] },
      headers: { 'x-correlation-id': correlationId },
    });
    expect(response.status).toBe(202);
    const publicationId = response.body.publication_id as string;

    await expect.poll(() => lines.find((l) => l.msg === 'platform call answered' && l.publication_id === publicationId), { timeout: 15_000 }).toMatchObject({
      correlation_id: correlationId,
      platform: 'facebook',
      operation: 'publish',
    });
    expect(posts).toHaveLength(1);
    await expect
      .poll(async () => (await t.app.store.readStream(`publication-${publicationId}`)).map((e) => [e.type, e.metadata.correlation_id]), { timeout: 10_000 })
      .toEqual([
        ['PublicationScheduled', correlationId],
        ['PlatformPublishingStarted', correlationId],
        ['PlatformPublished', correlationId],
      ]);
  });
});
