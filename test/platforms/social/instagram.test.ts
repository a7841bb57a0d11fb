import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createInstagramConnector, instagramMediaInsightMetrics, type InstagramConnectorOptions } from '../../../src/platforms/social/instagram.js';
import { startGraphApiDouble, type GraphApiDouble, type GraphErrorFields } from '../../doubles/graph-api-double.js';

const pageId = '104857392011';
const igUserId = '17841400000000001';
const token = 'EAAG-ig-SECRET-7c6b5a4d3e2f';

const image = 'https://cdn.example.fr/menu-du-jour.jpg';
const video = 'https://cdn.example.fr/coulisses.mp4';

function post(overrides: Partial<SocialPost> = {}): SocialPost {
  return {
    publicationId: 'pub-1',
    attemptId: 'att-1',
    title: '',
    text: 'Le menu du jour au Vieux Moulin 🍂 #restaurant #limousin',
    mediaUrls: [image],
    ...overrides,
  };
}

async function platformError(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  const platform = error as PlatformError;
  const visible = JSON.stringify({ message: platform.message, details: platform.details, stack: platform.stack, cause: platform.cause });
  expect(visible).not.toContain(token);
  return platform;
}

describe('Instagram connector', () => {
  let graph: GraphApiDouble;

  beforeEach(async () => {
    graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [token], containerPollsBeforeFinished: 2, unreachableMediaUrls: ['https://cdn.example.fr/private.jpg'] });
  });
  afterEach(async () => {
    await graph.close();
  });

  function connector(options: InstagramConnectorOptions = {}, overrides: Record<string, unknown> = {}) {
    return createInstagramConnector(
      { business_account_id: igUserId, access_token: token, base_url: graph.url, ...overrides },
      { containerPollIntervalMs: 10, ...options },
    );
  }
  const writes = () => graph.requests.filter((r) => r.method === 'POST');

  it('publishes one image: quota, container, status polls, media_publish, permalink', async () => {
    const result = await connector().publish(post());

    expect(graph.posts).toEqual([expect.objectContaining({ platform: 'instagram', kind: 'image', text: post().text, mediaUrls: [image] })]);
    expect(result).toEqual({ postId: graph.posts[0]?.id, url: graph.posts[0]?.permalink });
    expect(graph.requests.map((r) => `${r.method} ${r.path.replace(/\d{6,}/g, '#')}`)).toEqual([
      'GET /#/content_publishing_limit',
      'POST /#/media',
      'GET /#',
      'GET /#',
      'GET /#',
      'POST /#/media_publish',
      'GET /#',
    ]);
    expect(writes()[0]?.params).toMatchObject({ image_url: image, caption: post().text });
    expect(graph.requests.every((r) => r.tokenVia === 'bearer' && !r.url.includes(token))).toBe(true);
  });

  it('publishes one video as a reel', async () => {
    await connector().publish(post({ mediaUrls: [video] }));
    expect(writes()[0]?.params).toMatchObject({ video_url: video, media_type: 'REELS' });
    expect(graph.posts[0]?.kind).toBe('reels');
  });

  it('publishes 2–10 media as one carousel', async () => {
    const mediaUrls = [image, 'https://cdn.example.fr/dessert.png', video];
    await connector().publish(post({ mediaUrls }));

    const [a, b, c, carousel] = writes();
    expect(a?.params).toMatchObject({ image_url: mediaUrls[0], is_carousel_item: 'true' });
    expect(b?.params).toMatchObject({ image_url: mediaUrls[1], is_carousel_item: 'true' });
    expect(c?.params).toMatchObject({ video_url: video, media_type: 'VIDEO', is_carousel_item: 'true' });
    expect(a?.params).not.toHaveProperty('caption');
    expect(carousel?.params).toMatchObject({ media_type: 'CAROUSEL', caption: post().text });
    expect(String(carousel?.params.children).split(',')).toHaveLength(3);
    expect(graph.posts).toEqual([expect.objectContaining({ kind: 'carousel', mediaUrls })]);
  });

  it('refuses a post without media or with more than 10, before calling Instagram', async () => {
    expect((await platformError(connector().publish(post({ mediaUrls: [] })))).errorClass).toBe('permanent');
    expect((await platformError(connector().publish(post({ mediaUrls: Array.from({ length: 11 }, (_, i) => `https://cdn.example.fr/${i}.jpg`) })))).errorClass).toBe('permanent');
    expect(graph.requests).toHaveLength(0);
  });

  it('reports a container that ends in ERROR as permanent with Meta\'s status text', async () => {
    graph.fail({ kind: 'container-error', status: 'Error: The video format is not supported (2207026)' });
    const error = await platformError(connector().publish(post({ mediaUrls: [video] })));
    expect(error).toMatchObject({ errorClass: 'permanent', details: { platformCode: 'ERROR' } });
    expect(error.message).toContain('The video format is not supported');
    expect(writes().map((r) => r.path)).not.toContain(`/${igUserId}/media_publish`);
    expect(graph.posts).toHaveLength(0);
  });

  it('gives up on a container that is never processed as transient: nothing was published', async () => {
    graph.setContainerPollsBeforeFinished(Number.POSITIVE_INFINITY);
    const started = Date.now();
    const error = await platformError(connector({ containerTimeoutMs: 200 }).publish(post()));
    expect(error).toMatchObject({ errorClass: 'transient', details: { platformCode: 'container_timeout' } });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(graph.containerPolls()).toBeGreaterThan(1);
    expect(graph.posts).toHaveLength(0);
  });

  it('refuses to publish when content_publishing_limit says the quota is used up', async () => {
    graph.setQuotaUsage(50);
    const error = await platformError(connector().publish(post()));
    expect(error).toMatchObject({ errorClass: 'rate_limited', details: { platformCode: 'content_publishing_limit' } });
    expect(error.details.retryAfterMs).toBeGreaterThan(0);
    expect(writes()).toHaveLength(0);
  });

  it('reports the daily publishing limit (9/2207042) as rate_limited', async () => {
    graph.fail(
      {
        kind: 'graph-error',
        error: { code: 9, error_subcode: 2207042, message: 'Application request limit reached', error_user_msg: 'You reached maximum number of posts that is allowed to be published by Content Publishing API.' },
      },
      { when: { path: /\/media_publish$/ } },
    );
    const error = await platformError(connector().publish(post()));
    expect(error).toMatchObject({ errorClass: 'rate_limited', details: { platformCode: '9/2207042' } });
    expect(error.details.retryAfterMs).toBeGreaterThanOrEqual(60 * 60_000);
  });

  it('reports media Meta cannot fetch (9004/2207052) as permanent', async () => {
    const error = await platformError(connector().publish(post({ mediaUrls: ['https://cdn.example.fr/private.jpg'] })));
    expect(error).toMatchObject({ errorClass: 'permanent', details: { platformCode: '9004/2207052' } });
    expect(error.message).toContain('could not be fetched');
  });

  it('reports a caption over 2,200 characters (36004/2207010) as permanent', async () => {
    const error = await platformError(connector().publish(post({ text: 'é'.repeat(2_201) })));
    expect(error).toMatchObject({ errorClass: 'permanent', details: { platformCode: '36004/2207010' } });
  });

  it.each<[string, GraphErrorFields, string]>([
    ['aspect ratio 36003/2207009', { code: 36003, error_subcode: 2207009, message: 'The aspect ratio is not supported.' }, 'permanent'],
    ['spam suspicion 4/2207051', { code: 4, error_subcode: 2207051, message: 'We restrict certain activity to protect our community.' }, 'permanent'],
    ['server error -1/2207001', { code: -1, error_subcode: 2207001, message: 'Instagram server error. Try again.' }, 'transient'],
    ['Instagram account throttling 80002', { code: 80002, message: 'There have been too many calls to this Instagram account.' }, 'rate_limited'],
    ['permission 10', { code: 10, message: '(#10) Application does not have permission for this action' }, 'auth'],
  ])('classifies %s', async (_label, error, errorClass) => {
    graph.fail({ kind: 'graph-error', error }, { when: { method: 'POST', path: /\/media$/ } });
    expect((await platformError(connector().publish(post()))).errorClass).toBe(errorClass);
    expect(graph.posts).toHaveLength(0);
  });

  it('reports an expired token as auth', async () => {
    graph.fail({ kind: 'token-expired' });
    const error = await platformError(connector().publish(post()));
    expect(error).toMatchObject({ errorClass: 'auth', details: { platformCode: '190/463' } });
  });

  it('reports a media_publish without answer as unknown_outcome, and findPublished finds the post', async () => {
    const ig = connector({ timeoutMs: 300 });
    await ig.publish(post({ text: 'Hier soir, concert au moulin' }));
    const since = new Date();
    graph.fail({ kind: 'late-answer' });

    const lost = await platformError(ig.publish(post()));
    expect(lost.errorClass).toBe('unknown_outcome');
    expect(graph.posts).toHaveLength(2);

    expect(await ig.findPublished(post(), since)).toEqual({ postId: graph.posts[1]?.id, url: graph.posts[1]?.permalink });
    expect(graph.requests.at(-1)?.params).toMatchObject({ fields: 'id,caption,permalink,timestamp' });
  });

  it('finds nothing for another caption, or for media older than `since`', async () => {
    const ig = connector();
    await ig.publish(post());
    expect(await ig.findPublished(post({ text: 'Autre légende' }), new Date(Date.now() - 60_000))).toBeNull();
    expect(await ig.findPublished(post(), new Date(Date.now() + 10 * 60_000))).toBeNull();
  });

  it('returns the published post even when its permalink cannot be read', async () => {
    graph.fail({ kind: 'server-error' }, { when: { method: 'GET', path: /^\/1790\d+$/ } });
    const result = await connector().publish(post());
    expect(result).toEqual({ postId: graph.posts[0]?.id, url: null });
  });

  it('backs off after a throttling answer with usage at 100 %, without calling again', async () => {
    const ig = connector();
    graph.fail({ kind: 'throttled', code: 80002, regainMinutes: 3 });
    const first = await platformError(ig.check());
    expect(first).toMatchObject({ errorClass: 'rate_limited', details: { retryAfterMs: 3 * 60_000 } });

    const calls = graph.requests.length;
    expect((await platformError(ig.publish(post()))).errorClass).toBe('rate_limited');
    expect(graph.requests).toHaveLength(calls);
  });

  it('stops calling when X-Business-Use-Case-Usage passes 90 %', async () => {
    const ig = connector();
    graph.setUsage({ businessPercent: 91, regainMinutes: 2 });
    await ig.check();
    const error = await platformError(ig.fetchMetrics('17900000000000001'));
    expect(error).toMatchObject({ errorClass: 'rate_limited', details: { platformCode: 'usage_backoff' } });
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(2 * 60_000);
    expect(error.details.retryAfterMs).toBeGreaterThan(60_000);
  });

  it('maps views, reach, likes, comments and shares', async () => {
    const ig = connector();
    const { postId } = await ig.publish(post());
    graph.setMetrics(postId, { views: 2400, reach: 1300, likes: 180, comments: 12, shares: 9, saved: 30 });

    expect(await ig.fetchMetrics(postId)).toEqual({ likes: 180, comments: 12, shares: 9, reach: 1300, clicks: null, impressions: 2400 });
    expect(graph.requests.at(-1)).toMatchObject({ path: `/${postId}/insights`, params: { metric: instagramMediaInsightMetrics.join(',') } });
  });

  it('answers empty metrics while Meta has not enough viewers to show insights', async () => {
    const ig = connector();
    const { postId } = await ig.publish(post());
    graph.setMetrics(postId, 'not-enough-viewers');
    expect(await ig.fetchMetrics(postId)).toEqual({ likes: null, comments: null, shares: null, reach: null, clicks: null, impressions: null });
  });

  it('check() reads the account', async () => {
    await connector().check();
    expect(graph.requests[0]).toMatchObject({ path: `/${igUserId}`, verdict: 'ok' });
    expect(connector()).toMatchObject({ platform: 'instagram', account: igUserId });
  });

  it('uses the token provider over config.access_token, and names fields in configuration errors', async () => {
    await connector({ accessToken: async () => token }, { access_token: undefined }).check();
    expect(graph.requests[0]?.verdict).toBe('ok');
    expect(() => createInstagramConnector({ access_token: token })).toThrow(/business_account_id/);
    expect(() => createInstagramConnector({ access_token: token })).not.toThrow(new RegExp(token));
    expect(() => createInstagramConnector({ business_account_id: igUserId })).toThrow(/access_token/);
  });
});
