import { afterEach, describe, expect, it } from 'vitest';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import { PlatformError, type SocialConnector, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createFacebookConnector } from '../../../src/platforms/social/facebook.js';
import { createGoogleBusinessConnector } from '../../../src/platforms/social/google-business.js';
import { createInstagramConnector } from '../../../src/platforms/social/instagram.js';
import { createLinkedInConnector } from '../../../src/platforms/social/linkedin.js';
import { createXConnector } from '../../../src/platforms/social/x.js';
import { startGoogleBusinessDouble } from '../../doubles/google-business-double.js';
import { startGraphApiDouble } from '../../doubles/graph-api-double.js';
import { startLinkedInDouble } from '../../doubles/linkedin-double.js';
import { startXApiDouble } from '../../doubles/x-api-double.js';

/**
 * An attempt's deadline (SocialPost.publishBy): past it, every connector stops before the call that publishes, so that
 * a worker searching for the post of an attempt left without a result, after that deadline, cannot be followed by the
 * post. The steps before it (Instagram's containers, Facebook's photo uploads) may have run: they make nothing public.
 */

const token = 'deadline-test-TOKEN-7c1e';
const igUserId = '17841400000000001';
const pageId = '104857392011';
const text = 'Ce week-end au Vieux Moulin : huîtres du bassin et entrecôte bordelaise. #vensac';
const past = new Date(Date.now() - 1_000);
const post = (overrides: Partial<SocialPost> = {}): SocialPost => ({ publicationId: 'p-1', attemptId: 'a-1', title: '', text, mediaUrls: [], publishBy: past, ...overrides });
const allowLocal = { allowlist: OutboundAllowlist.parse('127.0.0.1') };

interface Case {
  connector: SocialConnector;
  post: SocialPost;
  /** The calls that publish the double received, and the posts it holds. */
  publishingCalls(): number;
  posts(): number;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const cases: Record<string, () => Promise<Case>> = {
  async 'Instagram (after its container is ready)'() {
    const graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [token], containerPollsBeforeFinished: 0 });
    closers.push(() => graph.close());
    return {
      connector: createInstagramConnector({ business_account_id: igUserId, access_token: token, base_url: graph.url }, { containerPollIntervalMs: 1 }),
      post: post({ mediaUrls: ['https://cdn.example.fr/huitres.jpg'] }),
      publishingCalls: () => graph.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/media_publish')).length,
      posts: () => graph.posts.length,
    };
  },
  async 'Facebook (after its photo uploads)'() {
    const graph = await startGraphApiDouble({ pageId, igUserId, accessTokens: [token] });
    closers.push(() => graph.close());
    return {
      connector: createFacebookConnector({ page_id: pageId, access_token: token, base_url: graph.url }),
      post: post({ mediaUrls: ['https://cdn.example.fr/huitres.jpg', 'https://cdn.example.fr/entrecote.jpg'] }),
      publishingCalls: () => graph.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/feed')).length,
      posts: () => graph.posts.length,
    };
  },
  async X() {
    const x = await startXApiDouble({ bearerToken: token });
    closers.push(() => x.close());
    return {
      connector: createXConnector({ access_token: token, user_id: '1500000000000000001', base_url: x.url }, { outbound: allowLocal }),
      post: post(),
      publishingCalls: () => x.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/2/tweets')).length,
      posts: () => x.posts.length,
    };
  },
  async 'Google Business Profile'() {
    const google = await startGoogleBusinessDouble({ accountId: 'a1', locationId: 'l1', accessToken: token });
    closers.push(() => google.close());
    return {
      connector: createGoogleBusinessConnector({ account_id: 'a1', location_id: 'l1', access_token: token, base_url: google.url }),
      post: post(),
      publishingCalls: () => google.requests.filter((r) => r.method === 'POST').length,
      posts: () => google.posts.length,
    };
  },
  async LinkedIn() {
    const linkedin = await startLinkedInDouble({ organizationId: '42', accessToken: token });
    closers.push(() => linkedin.close());
    return {
      connector: createLinkedInConnector({ organization_id: '42', access_token: token, base_url: linkedin.url }, { outbound: allowLocal }),
      post: post(),
      publishingCalls: () => linkedin.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/rest/posts')).length,
      posts: () => linkedin.posts.length,
    };
  },
};

describe('an attempt past its deadline', () => {
  it.each(Object.keys(cases))('%s: does not send the call that publishes, and says nothing was published', async (name) => {
    const c = await cases[name]!();
    const error = await c.connector.publish(c.post).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ errorClass: 'transient', details: { platformCode: 'attempt_deadline' } });
    expect((error as Error).message).toMatch(/nothing was published/);
    expect(c.publishingCalls()).toBe(0);
    expect(c.posts()).toBe(0);
  });

  it.each(Object.keys(cases))('%s: publishes when the deadline is ahead', async (name) => {
    const c = await cases[name]!();
    await c.connector.publish({ ...c.post, publishBy: new Date(Date.now() + 60_000) });
    expect(c.publishingCalls()).toBe(1);
    expect(c.posts()).toBe(1);
  });
});
