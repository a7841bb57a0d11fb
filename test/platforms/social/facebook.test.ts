import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createFacebookConnector, facebookPostInsightMetrics } from '../../../src/platforms/social/facebook.js';
import { startGraphApiDouble, type GraphApiDouble, type GraphErrorFields } from '../../doubles/graph-api-double.js';

const pageId = '104857392011';
const igUserId = '17841400000000001';
const pageToken = 'EAAG-page-SECRET-9f8e7d6c5b4a';
const vaultToken = 'EAAG-vault-SECRET-1a2b3c4d5e';

function post(overrides: Partial<SocialPost> = {}): SocialPost {
  return {
    publicationId: 'pub-1',
    attemptId: 'att-1',
    title: '',
    text: 'Ce soir au Vieux Moulin : cassoulet maison et tarte aux noix. Réservez au 05 55 00 00 00 !',
    mediaUrls: [],
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
  expect(visible).not.toContain(pageToken);
  expect(visible).not.toContain(vaultToken);
  return platform;
}

describe('Facebook Pages connector', () => {
  let graph: GraphApiDouble;

  beforeEach(async () => {
    graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [pageToken, vaultToken] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await graph.close();
  });

  function config(overrides: Record<string, unknown> = {}) {
    return { page_id: pageId, access_token: pageToken, base_url: graph.url, ...overrides };
  }

  it('posts a text to the Page feed, with the token in the Authorization header only', async () => {
    const connector = createFacebookConnector(config());
    const result = await connector.publish(post());

    expect(graph.posts).toHaveLength(1);
    expect(graph.posts[0]).toMatchObject({ platform: 'facebook', kind: 'status', text: post().text });
    expect(result).toEqual({ postId: graph.posts[0]?.id, url: `https://www.facebook.com/${graph.posts[0]?.id}` });
    const call = graph.requests.find((r) => r.method === 'POST');
    expect(call).toMatchObject({ version: 'v18.0', path: `/${pageId}/feed`, tokenVia: 'bearer' });
    expect(call?.url).not.toContain(pageToken);
    expect(connector).toMatchObject({ platform: 'facebook', account: pageId });
  });

  it('uploads photos unpublished, then makes one feed post that attaches them', async () => {
    const mediaUrls = ['https://cdn.example.fr/cassoulet.jpg', 'https://cdn.example.fr/tarte.png'];
    const result = await createFacebookConnector(config()).publish(post({ mediaUrls }));

    const writes = graph.requests.filter((r) => r.method === 'POST');
    expect(writes.map((r) => r.path)).toEqual([`/${pageId}/photos`, `/${pageId}/photos`, `/${pageId}/feed`]);
    expect(writes[0]?.params).toMatchObject({ url: mediaUrls[0], published: 'false' });
    expect(JSON.parse(String(writes[2]?.params['attached_media[1]']))).toHaveProperty('media_fbid');
    expect(graph.posts).toHaveLength(1);
    expect(graph.posts[0]).toMatchObject({ kind: 'photos', mediaUrls, text: post().text });
    expect(result.postId).toBe(graph.posts[0]?.id);
  });

  it('posts one video through /videos with file_url and description', async () => {
    const result = await createFacebookConnector(config()).publish(post({ mediaUrls: ['https://cdn.example.fr/cuisine.mp4'] }));

    const write = graph.requests.find((r) => r.method === 'POST');
    expect(write).toMatchObject({ path: `/${pageId}/videos`, params: { file_url: 'https://cdn.example.fr/cuisine.mp4', description: post().text } });
    expect(graph.posts).toEqual([expect.objectContaining({ kind: 'video', text: post().text })]);
    expect(result.url).toBe(`https://www.facebook.com/${result.postId}`);
  });

  it('refuses a video mixed with other media before calling Facebook', async () => {
    const error = await platformError(createFacebookConnector(config()).publish(post({ mediaUrls: ['https://cdn.example.fr/a.mp4', 'https://cdn.example.fr/b.jpg'] })));
    expect(error.errorClass).toBe('permanent');
    expect(graph.requests).toHaveLength(0);
  });

  it('uses the token provider over config.access_token', async () => {
    const connector = createFacebookConnector(config({ access_token: 'EAAG-stale-token' }), { accessToken: async () => vaultToken });
    await connector.check();
    expect(graph.requests[0]).toMatchObject({ path: `/${pageId}`, verdict: 'ok', params: { fields: 'id,name' } });
  });

  it.each<[string, number, GraphErrorFields, string]>([
    ['190/460 password changed', 400, { code: 190, error_subcode: 460, message: 'Error validating access token: The session has been invalidated' }, 'auth'],
    ['10 permission', 403, { code: 10, message: '(#10) Application does not have permission for this action' }, 'auth'],
    ['200 permission', 403, { code: 200, message: '(#200) Requires pages_manage_posts permission' }, 'auth'],
    ['368 temporarily blocked', 400, { code: 368, message: 'The action attempted has been deemed abusive or is otherwise disallowed' }, 'rate_limited'],
    ['32 page throttling', 400, { code: 32, message: 'Page request limit reached' }, 'rate_limited'],
    ['1 unknown', 500, { code: 1, message: 'An unknown error occurred' }, 'transient'],
    ['2 service', 503, { code: 2, message: 'Service temporarily unavailable' }, 'transient'],
    ['100 invalid', 400, { code: 100, message: '(#100) Invalid parameter', error_user_msg: 'Le lien de la publication est invalide.' }, 'permanent'],
  ])('classifies %s', async (_label, status, error, errorClass) => {
    graph.fail({ kind: 'graph-error', status, error });
    const failure = await platformError(createFacebookConnector(config()).publish(post()));
    expect(failure.errorClass).toBe(errorClass);
    expect(failure.details.status).toBe(status);
    if (errorClass === 'permanent') expect(failure.message).toContain('Le lien de la publication est invalide.');
    expect(graph.posts).toHaveLength(0);
  });

  it('reports an expired token (190/463) as auth', async () => {
    graph.fail({ kind: 'token-expired' });
    const error = await platformError(createFacebookConnector(config()).publish(post()));
    expect(error.errorClass).toBe('auth');
    expect(error.details.platformCode).toBe('190/463');
  });

  it('reports a token Facebook does not know as auth, without echoing it', async () => {
    const error = await platformError(createFacebookConnector(config({ access_token: 'EAAG-revoked-SECRET-0000' })).check());
    expect(error.errorClass).toBe('auth');
    expect(error.message).not.toContain('EAAG-revoked-SECRET-0000');
  });

  it('reports 506 as duplicate', async () => {
    graph.fail({ kind: 'duplicate' });
    const error = await platformError(createFacebookConnector(config()).publish(post()));
    expect(error).toMatchObject({ errorClass: 'duplicate', details: { platformCode: 506 } });
  });

  it('reports a 5xx as transient', async () => {
    graph.fail({ kind: 'server-error', status: 502 });
    const error = await platformError(createFacebookConnector(config()).publish(post()));
    expect(error).toMatchObject({ errorClass: 'transient', details: { status: 502 } });
  });

  it('reports a feed post that got no answer as unknown_outcome, and a read as transient', async () => {
    const connector = createFacebookConnector(config(), { timeoutMs: 300 });
    graph.fail({ kind: 'timeout' });
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    graph.fail({ kind: 'timeout' });
    expect((await platformError(connector.check())).errorClass).toBe('transient');
  });

  it('backs off on a throttling code, using estimated_time_to_regain_access, without calling again', async () => {
    const connector = createFacebookConnector(config());
    graph.fail({ kind: 'throttled', code: 32, regainMinutes: 7 });
    const first = await platformError(connector.publish(post()));
    expect(first).toMatchObject({ errorClass: 'rate_limited', details: { platformCode: 32, retryAfterMs: 7 * 60_000 } });

    const calls = graph.requests.length;
    const second = await platformError(connector.publish(post()));
    expect(second.errorClass).toBe('rate_limited');
    expect(second.details.retryAfterMs).toBeGreaterThan(6 * 60_000);
    expect(graph.requests).toHaveLength(calls);
  });

  it('stops calling once a usage header passes 90 %, until the time Meta gave', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const connector = createFacebookConnector(config());
    graph.setUsage({ businessPercent: 93, regainMinutes: 0 });
    await connector.publish(post()); // succeeds, but reports 93 %
    graph.setUsage({ businessPercent: 10 });

    const calls = graph.requests.length;
    const refused = await platformError(connector.publish(post({ text: 'Deuxième' })));
    expect(refused).toMatchObject({ errorClass: 'rate_limited', details: { platformCode: 'usage_backoff' } });
    expect(refused.details.retryAfterMs).toBeLessThanOrEqual(5 * 60_000);
    expect(graph.requests).toHaveLength(calls);

    vi.setSystemTime(Date.now() + 5 * 60_000 + 1);
    await connector.publish(post({ text: 'Deuxième' }));
    expect(graph.posts).toHaveLength(2);
  });

  it('waits for X-App-Usage too', async () => {
    const connector = createFacebookConnector(config());
    graph.setUsage({ appPercent: 97 });
    await connector.check();
    expect((await platformError(connector.check())).errorClass).toBe('rate_limited');
  });

  it('finds the post made by a call whose answer never came', async () => {
    const connector = createFacebookConnector(config(), { timeoutMs: 300 });
    await connector.publish(post({ text: 'Un autre message' }));
    const since = new Date();
    graph.fail({ kind: 'late-answer' });

    const lost = await platformError(connector.publish(post()));
    expect(lost.errorClass).toBe('unknown_outcome');
    expect(graph.posts).toHaveLength(2);

    const found = await connector.findPublished(post(), since);
    expect(found).toEqual({ postId: graph.posts[1]?.id, url: `https://www.facebook.com/${graph.posts[1]?.id}` });
    const listing = graph.requests.find((r) => r.path === `/${pageId}/published_posts`);
    expect(listing?.params).toMatchObject({ fields: 'id,message,created_time' });
    expect(Number(listing?.params.since)).toBeLessThanOrEqual(Math.floor(since.getTime() / 1000));
  });

  it('finds nothing for another text, or for posts older than `since`', async () => {
    const connector = createFacebookConnector(config());
    await connector.publish(post());
    expect(await connector.findPublished(post({ text: 'Jamais publié' }), new Date(Date.now() - 60_000))).toBeNull();
    expect(await connector.findPublished(post(), new Date(Date.now() + 10 * 60_000))).toBeNull();
  });

  it('reads every page of the listing', async () => {
    const connector = createFacebookConnector(config());
    const since = new Date();
    await connector.publish(post({ text: 'Le plus ancien' }));
    for (let i = 0; i < 120; i++) await connector.publish(post({ text: `Message ${i}` }));
    const found = await connector.findPublished(post({ text: 'Le plus ancien' }), since);
    expect(found?.postId).toBe(graph.posts[0]?.id);
  });

  it('maps reactions, comments, shares and the current post insights', async () => {
    const connector = createFacebookConnector(config());
    const { postId } = await connector.publish(post());
    graph.setMetrics(postId, { reactions: 42, comments: 7, shares: 3, post_media_view: 1800, post_total_media_view_unique: 950, post_clicks: 61 });

    expect(await connector.fetchMetrics(postId)).toEqual({ likes: 42, comments: 7, shares: 3, reach: 950, clicks: 61, impressions: 1800 });
    const insights = graph.requests.find((r) => r.path === `/${postId}/insights`);
    expect(insights?.params.metric).toBe(facebookPostInsightMetrics.join(','));
  });

  it('keeps the counters when Facebook refuses the insight metrics', async () => {
    const connector = createFacebookConnector(config());
    const { postId } = await connector.publish(post());
    graph.setMetrics(postId, { reactions: 5, comments: 1 });
    graph.fail({ kind: 'graph-error', error: { code: 100, message: '(#100) The value must be a valid insights metric' } }, { when: { path: /\/insights$/ } });

    expect(await connector.fetchMetrics(postId)).toEqual({ likes: 5, comments: 1, shares: 0, reach: null, clicks: null, impressions: null });
  });

  it('names missing fields in a configuration error, never values', () => {
    expect(() => createFacebookConnector({ access_token: pageToken })).toThrow(/page_id/);
    expect(() => createFacebookConnector({ access_token: pageToken })).not.toThrow(new RegExp(pageToken));
    expect(() => createFacebookConnector({ page_id: pageId })).toThrow(/access_token/);
    expect(() => createFacebookConnector({ page_id: pageId, access_token: pageToken, api_version: '18' })).toThrow(/api_version/);
  });

  it('honours api_version', async () => {
    await createFacebookConnector(config({ api_version: 'v23.0' })).check();
    expect(graph.requests[0]?.version).toBe('v23.0');
  });
});
