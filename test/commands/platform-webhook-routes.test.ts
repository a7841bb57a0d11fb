import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engagementStreamId } from '../../src/domain/engagement.js';
import { formatPosition } from '../../src/infrastructure/event-store/event-store.js';
import { testDatabases } from '../support/databases.js';
import { appendPlatformPublished } from '../support/platform-published.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const APP_SECRET = 'vieux-moulin-app-secret';
const VERIFY_TOKEN = 'moulin-verify-7f3a';
const PAGE_ID = '104857600';
const webhook = '/api/communication/webhooks/inbound/facebook';

const sign = (body: string) => `sha256=${createHmac('sha256', APP_SECRET).update(body).digest('hex')}`;
const feedChange = (value: Record<string, unknown>) =>
  JSON.stringify({ object: 'page', entry: [{ id: PAGE_ID, time: 1764583200, changes: [{ field: 'feed', value }] }] });

describe.each(testDatabases())('Facebook page webhook on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, {
      worker: false,
      connectors: {},
      platforms: { facebook: { page_id: PAGE_ID, app_secret: APP_SECRET, access_token: 'page-token', api_version: 'v18.0', webhook_verify_token: VERIFY_TOKEN } },
    });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const post = (body: string, headers: Record<string, string> = { 'x-hub-signature-256': sign(body) }) =>
    t.call('POST', webhook, { body, key: null, headers });
  const engagementOf = async (publicationId: string) => {
    const head = formatPosition((await t.app.store.headPosition())!);
    return t.call('GET', `/api/communication/publications/${publicationId}/engagement?min_position=${head}`);
  };

  it('answers the subscription handshake with the challenge, as text', async () => {
    const query = `hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`;
    const response = await t.call('GET', `${webhook}?${query}`, { key: null });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(response.body).toBe(1158201444);
  });

  it('refuses a handshake with another token (403), a missing parameter or another mode (400)', async () => {
    const wrong = await t.call('GET', `${webhook}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1`, { key: null });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ error: 'verification_failed', details: [{ path: 'querystring.hub.verify_token' }] });
    expect(JSON.stringify(wrong.body)).not.toContain(VERIFY_TOKEN);
    const missing = await t.call('GET', `${webhook}?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}`, { key: null });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'querystring.hub.challenge' }] });
    const unsubscribe = await t.call('GET', `${webhook}?hub.mode=unsubscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`, { key: null });
    expect(unsubscribe.status).toBe(400);
    expect(unsubscribe.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'querystring.hub.mode' }] });
  });

  it('refuses a notification without a signature, or with a wrong one (401)', async () => {
    const body = feedChange({ item: 'comment', verb: 'add', post_id: `${PAGE_ID}_1`, comment_id: '1_1' });
    const unsigned = await post(body, {});
    expect(unsigned.status).toBe(401);
    expect(unsigned.body).toMatchObject({ error: 'invalid_signature', details: [{ path: 'headers.x-hub-signature-256', message: 'missing X-Hub-Signature-256 header' }] });
    const tampered = await post(body.replace('comment_id', 'comment_ID'), { 'x-hub-signature-256': sign(body) });
    expect(tampered.status).toBe(401);
    expect(tampered.body).toMatchObject({ error: 'invalid_signature', details: [{ message: 'X-Hub-Signature-256 does not match the body' }] });
  });

  it('records a comment on one of our posts once, and shows it in the engagement', async () => {
    const publicationId = randomUUID();
    const postId = `${PAGE_ID}_${Date.now()}`;
    await appendPlatformPublished(t.app.store, { publication_id: publicationId, post_id: postId });
    const before = await engagementOf(publicationId);
    expect(before.status).toBe(200);
    expect(before.body.platforms.facebook).toMatchObject({ post_id: postId, comments: 0 });

    const body = feedChange({ item: 'comment', verb: 'add', post_id: postId, comment_id: `${postId}_555`, parent_id: postId, created_time: 1764583199, message: 'Trop bon' });
    const first = await post(body);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ received: 1, applied: 1, ignored: 0 });
    const again = await post(body);
    expect(again.body).toEqual({ received: 1, applied: 0, ignored: 1 });

    const events = await t.app.store.readStream(engagementStreamId(publicationId));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'EngagementInteractionReceived',
      data: { publication_id: publicationId, platform: 'facebook', post_id: postId, interaction_id: `${postId}_555`, kind: 'comment', verb: 'add' },
      metadata: { actor: 'platform:facebook', schema_version: 1 },
    });
    expect(JSON.stringify(events[0]!.data)).not.toContain('Trop bon');

    const after = await engagementOf(publicationId);
    expect(after.body).toMatchObject({ publication_id: publicationId, platforms: { facebook: { comments: 1, likes: 0 } }, totals: { comments: 1 } });
  });

  it('acknowledges changes about posts we did not publish, and what is not an interaction', async () => {
    const unknown = await post(feedChange({ item: 'comment', verb: 'add', post_id: `${PAGE_ID}_999`, comment_id: '999_1' }));
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ received: 1, applied: 0, ignored: 1 });
    const status = await post(feedChange({ item: 'status', verb: 'add', post_id: `${PAGE_ID}_998` }));
    expect(status.body).toEqual({ received: 1, applied: 0, ignored: 1 });
  });

  it('names the problem of a signed body that is not a notification (400)', async () => {
    const notJson = await post('{"object":"page",');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'body' }] });
    const noEntry = await post('{"object":"page"}');
    expect(noEntry.body).toMatchObject({ error: 'validation_failed', details: [{ path: 'body.entry' }] });
  });
});

describe.each(testDatabases())('Facebook page webhook without configuration on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, { worker: false, connectors: {} });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  it('answers 404 platform_not_configured', async () => {
    const handshake = await t.call('GET', `${webhook}?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1`, { key: null });
    expect(handshake.status).toBe(404);
    expect(handshake.body).toMatchObject({ error: 'platform_not_configured' });
    const body = feedChange({ item: 'comment', verb: 'add', post_id: '1_1', comment_id: '1' });
    const notification = await t.call('POST', webhook, { body, key: null, headers: { 'x-hub-signature-256': sign(body) } });
    expect(notification.status).toBe(404);
    expect(notification.body).toMatchObject({ error: 'platform_not_configured' });
  });
});
