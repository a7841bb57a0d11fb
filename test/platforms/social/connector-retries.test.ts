import { afterEach, describe, expect, it } from 'vitest';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import { retryingCalls } from '../../../src/platforms/social/call-retry.js';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createFacebookConnector } from '../../../src/platforms/social/facebook.js';
import { createGoogleBusinessConnector } from '../../../src/platforms/social/google-business.js';
import { createInstagramConnector } from '../../../src/platforms/social/instagram.js';
import { createLinkedInConnector } from '../../../src/platforms/social/linkedin.js';
import { singleCalls } from '../../../src/platforms/social/platform-calls.js';
import { createXConnector } from '../../../src/platforms/social/x.js';
import { startGoogleBusinessDouble } from '../../doubles/google-business-double.js';
import { startGraphApiDouble } from '../../doubles/graph-api-double.js';
import { startLinkedInDouble } from '../../doubles/linkedin-double.js';
import { startXApiDouble } from '../../doubles/x-api-double.js';

/**
 * Which calls each connector lets the runner send again: reads and the steps that make nothing public, never the call
 * that publishes (the worker's findPublished decides about that one). Pauses are recorded, not waited.
 */

const token = 'retry-test-TOKEN-4f2a9c';
const text = 'Le menu du jour au Vieux Moulin : soupe de poisson, magret grillé. #menu';
const post = (overrides: Partial<SocialPost> = {}): SocialPost => ({ publicationId: 'p-1', attemptId: 'a-1', title: '', text, mediaUrls: [], ...overrides });
const allowLocal = { allowlist: OutboundAllowlist.parse('127.0.0.1') };

function retries() {
  const pauses: number[] = [];
  return { pauses, calls: retryingCalls(singleCalls, { sleep: async (ms) => void pauses.push(ms), random: () => 0 }) };
}

async function failureOf(promise: Promise<unknown>): Promise<PlatformError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('Graph API connectors (Instagram, Facebook)', () => {
  const igUserId = '17841400000000001';
  const pageId = '104857392011';
  const image = 'https://cdn.example.fr/menu.jpg';
  const start = async () => {
    const graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [token], containerPollsBeforeFinished: 0 });
    closers.push(() => graph.close());
    return graph;
  };
  const count = (graph: Awaited<ReturnType<typeof start>>, method: string, path: RegExp) => graph.requests.filter((r) => r.method === method && path.test(r.path)).length;

  it('Instagram: retries the quota read, the container and its status within the publish, and publishes once', async () => {
    const graph = await start();
    graph.fail({ kind: 'server-error', status: 503 }, { when: { method: 'GET', path: /content_publishing_limit$/ } });
    graph.fail({ kind: 'server-error' }, { when: { method: 'POST', path: new RegExp(`^/${igUserId}/media$`) } });
    graph.fail({ kind: 'server-error', status: 502 }, { when: { method: 'GET', path: /^\/\d+$/ } });
    const { pauses, calls } = retries();
    const connector = createInstagramConnector({ business_account_id: igUserId, access_token: token, base_url: graph.url }, { calls, containerPollIntervalMs: 1 });

    const result = await connector.publish(post({ mediaUrls: [image] }));
    expect(graph.posts).toHaveLength(1);
    expect(result.postId).toBe(graph.posts[0]?.id);
    expect(count(graph, 'POST', /media_publish$/)).toBe(1);
    expect(count(graph, 'POST', new RegExp(`^/${igUserId}/media$`))).toBe(2);
    expect(pauses).toEqual([250, 250, 250]);
  });

  it('Instagram: a throttling answer asking for minutes ends the publish rather than waiting in it', async () => {
    const graph = await start();
    graph.fail({ kind: 'throttled', code: 4, regainMinutes: 10 }, { when: { method: 'GET', path: /content_publishing_limit$/ } });
    const { pauses, calls } = retries();
    const connector = createInstagramConnector({ business_account_id: igUserId, access_token: token, base_url: graph.url }, { calls, containerPollIntervalMs: 1 });

    const error = await failureOf(connector.publish(post({ mediaUrls: [image] })));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.details.retryAfterMs).toBe(600_000);
    expect(pauses).toEqual([]);
    expect(count(graph, 'POST', /./)).toBe(0);
  });

  it('Instagram: never sends media_publish twice; its failure ends the attempt', async () => {
    const graph = await start();
    graph.fail({ kind: 'server-error', status: 500 }, { when: { method: 'POST', path: /media_publish$/ } });
    const { calls } = retries();
    const connector = createInstagramConnector({ business_account_id: igUserId, access_token: token, base_url: graph.url }, { calls, containerPollIntervalMs: 1 });

    const error = await failureOf(connector.publish(post({ mediaUrls: [image] })));
    expect(error.errorClass).toBe('transient');
    expect(count(graph, 'POST', /media_publish$/)).toBe(1);
    expect(graph.posts).toHaveLength(0);
  });

  it('Facebook: an operation starting during a throttling hold of a second waits it out rather than failing', async () => {
    const graph = await start();
    const throttled = { code: 4, message: '(#4) Application request limit reached', is_transient: true };
    graph.fail({ kind: 'graph-error', status: 429, error: throttled, headers: { 'Retry-After': '1' } }, { when: { method: 'GET' } });
    const connector = createFacebookConnector({ page_id: pageId, access_token: token, base_url: graph.url });

    expect((await failureOf(connector.check())).details).toMatchObject({ status: 429, retryAfterMs: 1_000 });
    const started = Date.now();
    await connector.publish(post());
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(graph.posts).toHaveLength(1);
  });

  it('Facebook: retries the unpublished photo upload, never the feed post', async () => {
    const graph = await start();
    graph.fail({ kind: 'server-error' }, { when: { method: 'POST', path: /\/photos$/ } });
    graph.fail({ kind: 'server-error' }, { when: { method: 'POST', path: /\/feed$/ } });
    const { calls } = retries();
    const connector = createFacebookConnector({ page_id: pageId, access_token: token, base_url: graph.url }, { calls });

    const error = await failureOf(connector.publish(post({ mediaUrls: [image] })));
    expect(error.errorClass).toBe('transient');
    expect(count(graph, 'POST', /\/photos$/)).toBe(2);
    expect(count(graph, 'POST', /\/feed$/)).toBe(1);
    expect(graph.posts).toHaveLength(0);
  });
});

describe('X connector', () => {
  const start = async () => {
    const x = await startXApiDouble({ bearerToken: token });
    closers.push(() => x.close());
    return x;
  };
  const config = (url: string) => ({ access_token: token, user_id: '1500000000000000001', base_url: url });

  it('waits for a near rate-limit reset and reads the timeline again', async () => {
    const x = await start();
    x.fail({ kind: 'rate_limited', resetInSeconds: 2 }, { method: 'GET', path: /\/tweets$/ });
    const { pauses, calls } = retries();
    const connector = createXConnector(config(x.url), { calls, outbound: allowLocal });

    expect(await connector.findPublished(post(), new Date(Date.now() - 60_000))).toBeNull();
    expect(x.requests.filter((r) => r.method === 'GET').length).toBe(2);
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toBeGreaterThan(0);
    expect(pauses[0]).toBeLessThanOrEqual(2_000);
  });

  it('does not wait inside the operation for a reset minutes away', async () => {
    const x = await start();
    x.fail({ kind: 'rate_limited', resetInSeconds: 900 }, { method: 'GET', path: /\/tweets$/ });
    const { pauses, calls } = retries();
    const error = await failureOf(createXConnector(config(x.url), { calls, outbound: allowLocal }).findPublished(post(), new Date()));
    expect(error.errorClass).toBe('rate_limited');
    expect(pauses).toEqual([]);
  });

  it('never sends the post twice', async () => {
    const x = await start();
    x.fail({ kind: 'server_error', status: 503 }, { method: 'POST', path: '/2/tweets' });
    const { calls } = retries();
    const error = await failureOf(createXConnector(config(x.url), { calls, outbound: allowLocal }).publish(post()));
    expect(error.errorClass).toBe('transient');
    expect(x.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets')).toHaveLength(1);
    expect(x.posts).toHaveLength(0);
  });
});

describe('Google Business Profile connector', () => {
  it('retries the listing read, never the local post', async () => {
    const google = await startGoogleBusinessDouble({ accountId: 'a1', locationId: 'l1', accessToken: token });
    closers.push(() => google.close());
    google.fail({ kind: 'server_error', status: 503 }, { method: 'GET', times: 2 });
    google.fail({ kind: 'server_error', status: 503 }, { method: 'POST' });
    const { pauses, calls } = retries();
    const connector = createGoogleBusinessConnector({ account_id: 'a1', location_id: 'l1', access_token: token, base_url: google.url }, { calls });

    expect(await connector.findPublished(post(), new Date())).toBeNull();
    expect(pauses).toEqual([250, 500]);
    const error = await failureOf(connector.publish(post()));
    expect(error.errorClass).toBe('transient');
    expect(google.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(google.posts).toHaveLength(0);
  });
});

describe('LinkedIn connector', () => {
  it('retries the image upload steps, then posts once', async () => {
    const linkedin = await startLinkedInDouble({ organizationId: '42', accessToken: token });
    closers.push(() => linkedin.close());
    const photo = linkedin.serveMedia('menu.jpg', Buffer.alloc(2_048, 7), 'image/jpeg');
    linkedin.fail({ kind: 'server_error', status: 502 }, { method: 'POST', path: '/rest/images' });
    linkedin.fail({ kind: 'server_error', status: 500 }, { method: 'PUT' });
    const { calls } = retries();
    const connector = createLinkedInConnector({ organization_id: '42', access_token: token, base_url: linkedin.url }, { calls, outbound: allowLocal });

    const result = await connector.publish(post({ mediaUrls: [photo] }));
    expect(linkedin.posts).toHaveLength(1);
    expect(result.postId).toBe(linkedin.posts[0]?.id);
    expect(linkedin.requests.filter((r) => r.method === 'POST' && r.path === '/rest/images')).toHaveLength(2);
    expect(linkedin.requests.filter((r) => r.method === 'PUT')).toHaveLength(2);
    expect(linkedin.requests.filter((r) => r.method === 'POST' && r.path === '/rest/posts')).toHaveLength(1);
  });

  it('never sends the post twice', async () => {
    const linkedin = await startLinkedInDouble({ organizationId: '42', accessToken: token });
    closers.push(() => linkedin.close());
    linkedin.fail({ kind: 'server_error', status: 500 }, { method: 'POST', path: '/rest/posts' });
    const { calls } = retries();
    const error = await failureOf(createLinkedInConnector({ organization_id: '42', access_token: token, base_url: linkedin.url }, { calls }).publish(post()));
    expect(error.errorClass).toBe('transient');
    expect(linkedin.requests.filter((r) => r.method === 'POST' && r.path === '/rest/posts')).toHaveLength(1);
    expect(linkedin.posts).toHaveLength(0);
  });
});
