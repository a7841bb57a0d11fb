import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import { createXConnector as createConnector, sameTweetText, xRetryAfterMs, type XConnectorOptions } from '../../../src/platforms/social/x.js';
import { xChunkBytes } from '../../../src/platforms/social/x-media-upload.js';
import { startXApiDouble, type XApiDouble } from '../../doubles/x-api-double.js';

const apiKey = 'xk-CONSUMER-7f3a91';
const apiSecret = 'xs-SECRET-c0ns9e2';
const accessToken = '1500000000000000001-TOKEN-a8d2c4';
const accessTokenSecret = 'ts-SECRET-b7e4f1';
const bearer = 'oauth2-USER-TOKEN-5e1d77';
const secrets = [apiKey, apiSecret, accessToken, accessTokenSecret, bearer];

/** The double serves media on 127.0.0.1, which the outbound guard refuses unless allowed. */
const createXConnector = (config: unknown, options: XConnectorOptions = {}) =>
  createConnector(config, { outbound: { allowlist: OutboundAllowlist.parse('127.0.0.1') }, ...options });

function post(overrides: Partial<SocialPost> = {}): SocialPost {
  return {
    publicationId: 'pub-1',
    attemptId: 'att-1',
    title: 'Menu de saison',
    text: 'Nouveau menu de saison au Vieux Moulin : velouté & truffe ! Réservez sur levieuxmoulin.fr #menu',
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
  const platformError = error as PlatformError;
  const visible = JSON.stringify({ message: platformError.message, details: platformError.details, stack: platformError.stack, cause: platformError.cause });
  for (const secret of secrets) expect(visible).not.toContain(secret);
  return platformError;
}

describe('X connector', () => {
  let x: XApiDouble;

  beforeEach(async () => {
    x = await startXApiDouble({
      oauth1: { consumerKey: apiKey, consumerSecret: apiSecret, token: accessToken, tokenSecret: accessTokenSecret },
      bearerToken: bearer,
    });
  });
  afterEach(async () => {
    await x.close();
  });

  const oauthConfig = (overrides: Record<string, unknown> = {}) => ({
    api_key: apiKey,
    api_secret: apiSecret,
    access_token: accessToken,
    access_token_secret: accessTokenSecret,
    base_url: x.url,
    ...overrides,
  });

  it('posts text signed with OAuth 1.0a and returns the id and the x.com link', async () => {
    const result = await createXConnector(oauthConfig()).publish(post());
    const tweet = x.posts[0];
    expect(result).toEqual({ postId: tweet?.id, url: `https://x.com/i/web/status/${tweet?.id}` });
    expect(tweet?.text).toBe(post().text);
    const request = x.requests.find((r) => r.path === '/2/tweets');
    expect(request?.verdict).toBe('ok');
    expect(String(request?.headers.authorization)).toMatch(/^OAuth .*oauth_signature="[^"]+"/);
    expect(request?.body).toEqual({ text: post().text });
  });

  it('uses the OAuth 2.0 token provider as Bearer when given, and config access_token alone as Bearer', async () => {
    await createXConnector(oauthConfig(), { accessToken: async () => bearer }).publish(post());
    await createXConnector({ access_token: bearer, base_url: x.url }).publish(post({ text: 'Ce soir : soirée jazz au Vieux Moulin.' }));
    const calls = x.requests.filter((r) => r.path === '/2/tweets');
    expect(calls.map((r) => r.headers.authorization)).toEqual([`Bearer ${bearer}`, `Bearer ${bearer}`]);
    expect(x.posts).toHaveLength(2);
  });

  it('uploads photos (initialize, append, finalize) and posts them in order', async () => {
    const first = x.serveMedia('terrasse.jpg', Buffer.alloc(3_000, 1), 'image/jpeg');
    const second = x.serveMedia('dessert.png', Buffer.alloc(2_000, 2), 'image/png');
    await createXConnector(oauthConfig()).publish(post({ mediaUrls: [first, second] }));

    const inits = x.requests.filter((r) => r.path === '/2/media/upload/initialize').map((r) => r.body);
    expect(inits).toEqual([
      { media_type: 'image/jpeg', total_bytes: 3_000, media_category: 'tweet_image' },
      { media_type: 'image/png', total_bytes: 2_000, media_category: 'tweet_image' },
    ]);
    const uploaded = [...x.media.values()];
    expect(uploaded.map((m) => m.state)).toEqual(['succeeded', 'succeeded']);
    expect(x.posts[0]?.mediaIds).toEqual(uploaded.map((m) => m.id));
    // Image uploads are ready at FINALIZE: no STATUS polling.
    expect(x.requests.some((r) => r.path === '/2/media/upload')).toBe(false);
  });

  it('uploads a video in chunks and waits for processing before posting', async () => {
    await x.close();
    x = await startXApiDouble({ bearerToken: bearer, processingPolls: 2 });
    const video = Buffer.alloc(xChunkBytes + 1_000, 7);
    const url = x.serveMedia('visite.mp4', video, 'video/mp4');
    await createXConnector({ access_token: bearer, base_url: x.url }).publish(post({ mediaUrls: [url] }));

    const item = [...x.media.values()][0];
    expect(item).toMatchObject({ mediaType: 'video/mp4', category: 'tweet_video', totalBytes: video.length, state: 'succeeded' });
    expect(item?.segments.map((s) => s.length)).toEqual([xChunkBytes, 1_000]);
    expect(Buffer.concat(item?.segments ?? []).equals(video)).toBe(true);
    expect(x.requests.filter((r) => r.path === '/2/media/upload' && r.query.command === 'STATUS')).toHaveLength(3);
    expect(x.posts[0]?.mediaIds).toEqual([item?.id]);
  });

  it('reports a video X refuses to process as permanent, without posting', async () => {
    const url = x.serveMedia('flou.mp4', Buffer.alloc(5_000, 3), 'video/mp4');
    x.failNextProcessing('Unsupported video format');
    const error = await platformError(createXConnector(oauthConfig()).publish(post({ mediaUrls: [url] })));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toContain('Unsupported video format');
    expect(x.posts).toHaveLength(0);
  });

  it('refuses media X would refuse before uploading anything', async () => {
    const connector = createXConnector(oauthConfig());
    const photos = ['a', 'b', 'c', 'd', 'e'].map((n) => x.serveMedia(`${n}.jpg`, Buffer.alloc(10), 'image/jpeg'));
    expect((await platformError(connector.publish(post({ mediaUrls: photos })))).errorClass).toBe('permanent');
    const mixed = [x.serveMedia('v.mp4', Buffer.alloc(10), 'video/mp4'), photos[0] as string];
    expect((await platformError(connector.publish(post({ mediaUrls: mixed })))).errorClass).toBe('permanent');
    expect(x.requests.filter((r) => r.path.startsWith('/2/'))).toHaveLength(0);
  });

  it('reports a media URL that answers 404 as permanent', async () => {
    const error = await platformError(createXConnector(oauthConfig()).publish(post({ mediaUrls: [`${x.url}/media/missing.jpg`] })));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toMatch(/media 1 could not be downloaded \(HTTP 404\)/);
    expect(x.posts).toHaveLength(0);
  });

  it.each([
    ['an expired token (401)', { kind: 'expired_token' }, 'auth', 401],
    ['duplicate content (403)', { kind: 'duplicate' }, 'duplicate', 403],
    ['an invalid request (400)', { kind: 'response', status: 400, body: { title: 'Invalid Request', detail: 'One or more parameters to your request was invalid.', type: 'https://api.twitter.com/2/problems/invalid-request', errors: [{ message: 'Your Tweet text is too long.' }] } }, 'permanent', 400],
    ['a 403 that is not a duplicate', { kind: 'response', status: 403, body: { title: 'Forbidden', detail: 'You are not permitted to perform this action.', type: 'about:blank', status: 403 } }, 'permanent', 403],
    ['a 503', { kind: 'server_error', status: 503 }, 'transient', 503],
  ] as const)('classifies %s', async (_label, fault, errorClass, status) => {
    x.fail(fault, { path: '/2/tweets' });
    const error = await platformError(createXConnector(oauthConfig()).publish(post()));
    expect(error.errorClass).toBe(errorClass);
    expect(error.details.status).toBe(status);
    if (status === 400) expect(error.message).toContain('Your Tweet text is too long.');
  });

  it('refuses the same text twice as duplicate, as X does', async () => {
    const connector = createXConnector(oauthConfig());
    await connector.publish(post());
    const error = await platformError(connector.publish(post({ attemptId: 'att-2' })));
    expect(error.errorClass).toBe('duplicate');
    expect(x.posts).toHaveLength(1);
  });

  it('waits until x-rate-limit-reset after a 429, and until the 24-hour reset when that quota is spent', async () => {
    const connector = createXConnector(oauthConfig());
    x.fail({ kind: 'rate_limited', resetInSeconds: 600 });
    const window = await platformError(connector.publish(post()));
    expect(window.errorClass).toBe('rate_limited');
    expect(window.details.retryAfterMs).toBeGreaterThan(595_000);
    expect(window.details.retryAfterMs).toBeLessThanOrEqual(600_000);

    x.fail({ kind: 'rate_limited', resetInSeconds: 20_000, quota: '24hour' });
    const daily = await platformError(connector.publish(post()));
    expect(daily.details.retryAfterMs).toBeGreaterThan(19_990_000);

    expect(xRetryAfterMs({ 'retry-after': '30' })).toBe(30_000);
    expect(xRetryAfterMs({})).toBeUndefined();
  });

  it('reports a post whose answer never came as unknown_outcome, and a read that timed out as transient', async () => {
    const connector = createXConnector(oauthConfig(), { timeoutMs: 300 });
    x.fail({ kind: 'timeout' }, { path: '/2/tweets' });
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    x.fail({ kind: 'timeout' }, { path: '/2/users/me' });
    expect((await platformError(connector.check())).errorClass).toBe('transient');
  });

  it('findPublished finds the post made by a call whose answer timed out', async () => {
    const photo = x.serveMedia('plat.jpg', Buffer.alloc(500, 4), 'image/jpeg');
    const sent = post({ text: 'Fish & chips <maison> ce midi ! Carte : https://levieuxmoulin.fr/carte #fait_maison', mediaUrls: [photo] });
    const since = new Date();
    const connector = createXConnector(oauthConfig(), { timeoutMs: 400 });
    x.holdNextPostAnswer(1_500);
    expect((await platformError(connector.publish(sent))).errorClass).toBe('unknown_outcome');
    expect(x.posts).toHaveLength(1);

    await expect(connector.findPublished(sent, since)).resolves.toEqual({ postId: x.posts[0]?.id, url: `https://x.com/i/web/status/${x.posts[0]?.id}` });
    await expect(connector.findPublished(post({ text: 'Un autre texte' }), since)).resolves.toBeNull();
    // The user id is looked up once, then kept.
    await connector.findPublished(sent, since);
    expect(x.requests.filter((r) => r.path === '/2/users/me')).toHaveLength(1);
    const listing = x.requests.find((r) => r.path.endsWith('/tweets') && r.method === 'GET');
    expect(listing?.query.start_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('findPublished uses the configured user_id and ignores posts older than since', async () => {
    const connector = createXConnector(oauthConfig({ user_id: '1500000000000000001' }));
    await connector.publish(post());
    const later = new Date(Date.now() + 10 * 60_000);
    await expect(connector.findPublished(post(), later)).resolves.toBeNull();
    await expect(connector.findPublished(post(), new Date(Date.now() - 60_000))).resolves.toMatchObject({ postId: x.posts[0]?.id });
    expect(x.requests.some((r) => r.path === '/2/users/me')).toBe(false);
  });

  it('fetchMetrics maps public_metrics (retweets + quotes as shares)', async () => {
    const connector = createXConnector(oauthConfig());
    const { postId } = await connector.publish(post());
    x.setMetrics(postId, { like_count: 12, retweet_count: 3, quote_count: 2, reply_count: 4, impression_count: 980 });
    await expect(connector.fetchMetrics(postId)).resolves.toEqual({ likes: 12, shares: 5, comments: 4, impressions: 980, reach: null, clicks: null });
    expect(x.requests.at(-1)?.query['tweet.fields']).toBe('public_metrics');

    const missing = await platformError(connector.fetchMetrics('1999999999999999999'));
    expect(missing.errorClass).toBe('permanent');
  });

  it('check() reads /2/users/me and reports refused credentials as auth', async () => {
    await expect(createXConnector(oauthConfig()).check()).resolves.toBeUndefined();
    const error = await platformError(createXConnector(oauthConfig({ access_token_secret: 'ts-SECRET-wrong0' })).check());
    expect(error.errorClass).toBe('auth');
    const failing = await platformError(createXConnector(oauthConfig(), { accessToken: () => Promise.reject(new Error(`vault: ${bearer} expired`)) }).check());
    expect(failing.errorClass).toBe('auth');
  });

  it('refuses incomplete credentials, naming fields and never values', () => {
    expect(() => createXConnector({ api_key: apiKey, access_token: accessToken, base_url: x.url })).toThrow(/api_secret: required.*access_token_secret: required/);
    expect(() => createXConnector({ base_url: x.url })).toThrow(/Invalid twitter configuration/);
    const thrown = (() => {
      try {
        createXConnector({ api_key: apiKey, access_token: accessToken });
      } catch (error) {
        return String(error);
      }
      return '';
    })();
    expect(thrown).toMatch(/Invalid twitter configuration/);
    for (const secret of secrets) expect(thrown).not.toContain(secret);
    expect(() => createXConnector({ base_url: x.url }, { accessToken: async () => bearer })).not.toThrow();
  });

  it('matches the text X returns against the text sent', () => {
    const sent = 'Fish & chips ce midi ! https://levieuxmoulin.fr/carte et levieuxmoulin.fr';
    expect(sameTweetText('Fish &amp; chips ce midi ! https://t.co/abc et https://t.co/def https://t.co/media', sent)).toBe(true);
    expect(sameTweetText('Fish &amp; chips ce soir ! https://t.co/abc et https://t.co/def', sent)).toBe(false);
  });
});
