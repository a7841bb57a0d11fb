import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import {
  createLinkedInConnector as createConnector,
  fromLittleText,
  linkedInDefaultVersion,
  toLittleText,
  type LinkedInConnectorOptions,
} from '../../../src/platforms/social/linkedin.js';
import { startLinkedInDouble, type LinkedInDouble } from '../../doubles/linkedin-double.js';

const accessToken = 'AQX-LINKEDIN-SECRET-token-91c2e7';
const vaultToken = 'AQV-VAULT-SECRET-token-4d0b63';
const organizationId = '104061442';

/** The double serves media on 127.0.0.1, which the outbound guard refuses unless allowed. */
const createLinkedInConnector = (config: unknown, options: LinkedInConnectorOptions = {}) =>
  createConnector(config, { outbound: { allowlist: OutboundAllowlist.parse('127.0.0.1') }, ...options });

function post(overrides: Partial<SocialPost> = {}): SocialPost {
  return {
    publicationId: 'pub-1',
    attemptId: 'att-1',
    title: 'Visite des cuisines',
    text: 'Le Vieux Moulin recrute (CDI) : chef de partie [H/F] — écrivez-nous ! https://levieuxmoulin.fr/emplois_2027 #recrutement #cuisine',
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
  expect(visible).not.toContain(accessToken);
  expect(visible).not.toContain(vaultToken);
  return platformError;
}

describe('LinkedIn connector', () => {
  let linkedin: LinkedInDouble;

  beforeEach(async () => {
    linkedin = await startLinkedInDouble({ organizationId, accessToken });
  });
  afterEach(async () => {
    await linkedin.close();
  });

  const config = (overrides: Record<string, unknown> = {}) => ({ organization_id: organizationId, access_token: accessToken, base_url: linkedin.url, ...overrides });

  it('posts as the organisation with the versioned headers and returns the URN from x-restli-id', async () => {
    const result = await createLinkedInConnector(config()).publish(post());
    const created = linkedin.posts[0];
    expect(result).toEqual({ postId: created?.id, url: `https://www.linkedin.com/feed/update/${created?.id}` });
    const request = linkedin.requests.find((r) => r.method === 'POST' && r.path === '/rest/posts');
    expect(request?.headers).toMatchObject({ authorization: `Bearer ${accessToken}`, 'linkedin-version': linkedInDefaultVersion, 'x-restli-protocol-version': '2.0.0' });
    expect(request?.body).toEqual({
      author: `urn:li:organization:${organizationId}`,
      commentary: 'Le Vieux Moulin recrute \\(CDI\\) : chef de partie \\[H/F\\] — écrivez-nous ! https://levieuxmoulin.fr/emplois_2027 #recrutement #cuisine',
      visibility: 'PUBLIC',
      distribution: { feedDistribution: 'MAIN_FEED', targetEntities: [], thirdPartyDistributionChannels: [] },
      lifecycleState: 'PUBLISHED',
      isReshareDisabledByAuthor: false,
    });
  });

  it('sends the configured api_version and accepts an organisation URN and a token provider', async () => {
    await createLinkedInConnector(config({ api_version: '202609', organization_id: `urn:li:organization:${organizationId}`, access_token: undefined }), {
      accessToken: async () => accessToken,
    }).publish(post());
    expect(linkedin.requests.at(-1)?.headers['linkedin-version']).toBe('202609');
    expect(linkedin.posts).toHaveLength(1);
  });

  it('uploads one image (initializeUpload + PUT) and posts it as content.media', async () => {
    const bytes = Buffer.alloc(2_500, 9);
    const photo = linkedin.serveMedia('brigade.jpg', bytes, 'image/jpeg');
    await createLinkedInConnector(config()).publish(post({ mediaUrls: [photo] }));
    const [image] = [...linkedin.images.entries()];
    expect(image?.[1].bytes?.equals(bytes)).toBe(true);
    expect(linkedin.requests.find((r) => r.path === '/rest/images')?.body).toEqual({ initializeUploadRequest: { owner: `urn:li:organization:${organizationId}` } });
    expect(linkedin.posts[0]?.content).toEqual({ media: { id: image?.[0] } });
  });

  it('posts several images as a multiImage post, in order', async () => {
    const photos = ['a.jpg', 'b.jpg', 'c.png'].map((name, i) => linkedin.serveMedia(name, Buffer.alloc(100 + i, i), 'image/jpeg'));
    await createLinkedInConnector(config()).publish(post({ mediaUrls: photos }));
    const uploaded = [...linkedin.images.keys()];
    expect(linkedin.posts[0]?.content).toEqual({ multiImage: { images: uploaded.map((id) => ({ id })) } });
    expect([...linkedin.images.values()].map((image) => image.bytes?.length)).toEqual([100, 101, 102]);
  });

  it('uploads a video in parts, finalizes it with the ETags and waits until it is AVAILABLE', async () => {
    await linkedin.close();
    linkedin = await startLinkedInDouble({ organizationId, accessToken, videoProcessingPolls: 1 });
    const bytes = Buffer.alloc(4 * 1024 * 1024 + 10, 6);
    const clip = linkedin.serveMedia('service.mp4', bytes, 'video/mp4');
    await createLinkedInConnector(config()).publish(post({ mediaUrls: [clip] }));
    const [urn, video] = [...linkedin.videos.entries()][0] ?? [];
    expect(video?.status).toBe('AVAILABLE');
    expect(Buffer.concat(video?.parts.filter((p): p is Buffer => !!p) ?? []).equals(bytes)).toBe(true);
    expect(linkedin.requests.find((r) => r.query.action === 'finalizeUpload')?.body).toEqual({
      finalizeUploadRequest: { video: urn, uploadToken: '', uploadedPartIds: video?.etags },
    });
    expect(linkedin.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/rest/videos/'))).toHaveLength(2);
    expect(linkedin.posts[0]?.content).toEqual({ media: { id: urn, title: 'Visite des cuisines' } });
  });

  it('refuses a video mixed with images before uploading anything', async () => {
    const error = await platformError(createLinkedInConnector(config()).publish(post({ mediaUrls: [linkedin.serveMedia('v.mp4', Buffer.alloc(5)), linkedin.serveMedia('p.jpg', Buffer.alloc(5))] })));
    expect(error.errorClass).toBe('permanent');
    expect(linkedin.requests.filter((r) => r.path.startsWith('/rest/'))).toHaveLength(0);
  });

  it('never sends the token to an upload host that is not LinkedIn', async () => {
    const seen: Array<string | undefined> = [];
    const foreign = createServer((req, res) => {
      seen.push(req.headers.authorization);
      req.resume().on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((resolve) => foreign.listen(0, 'localhost', resolve));
    const elsewhere = `http://localhost:${(foreign.address() as AddressInfo).port}/upload`;
    try {
      const photo = linkedin.serveMedia('p.jpg', Buffer.alloc(10), 'image/jpeg');
      linkedin.fail({ kind: 'response', status: 200, body: { value: { uploadUrl: elsewhere, image: 'urn:li:image:C4E10AQforeign' } } }, { path: '/rest/images' });
      // LinkedIn then refuses the post (the image never reached it): what matters is the PUT carried no credential.
      await platformError(createLinkedInConnector(config()).publish(post({ mediaUrls: [photo] })));
      expect(seen).toEqual([undefined]);
    } finally {
      await new Promise<void>((resolve) => foreign.close(() => resolve()));
    }
  });

  it.each([
    ['an expired token (401)', { kind: 'expired_token' }, 'auth', 401, 'EXPIRED_ACCESS_TOKEN'],
    ['a missing permission (403)', { kind: 'permission_denied' }, 'auth', 403, 'ACCESS_DENIED'],
    ['a duplicate (422 DUPLICATE_POST)', { kind: 'duplicate' }, 'duplicate', 422, 'DUPLICATE_POST'],
    ['a 500', { kind: 'server_error', status: 500 }, 'transient', 500, undefined],
    ['a 504 on a post', { kind: 'server_error', status: 504 }, 'unknown_outcome', 504, undefined],
    ['an invalid post (422)', { kind: 'response', status: 422, body: { message: 'ERROR :: /commentary :: field is required but not found and has no default value', status: 422 } }, 'permanent', 422, undefined],
  ] as const)('classifies %s', async (_label, fault, errorClass, status, code) => {
    linkedin.fail(fault, { path: '/rest/posts' });
    const error = await platformError(createLinkedInConnector(config()).publish(post()));
    expect(error.errorClass).toBe(errorClass);
    expect(error.details.status).toBe(status);
    expect(error.details.platformCode).toBe(code);
  });

  it('refuses the same commentary twice as LinkedIn does, naming the existing post', async () => {
    const connector = createLinkedInConnector(config());
    const first = await connector.publish(post());
    const error = await platformError(connector.publish(post({ attemptId: 'att-2' })));
    expect(error.errorClass).toBe('duplicate');
    expect(error.message).toContain(`Content is a duplicate of ${first.postId}`);
    expect(error.details.existingPostId).toBe(first.postId);
  });

  it('findPublished reads the post a duplicate refusal named, even past the newest posts the listing reads', async () => {
    const since = new Date();
    const connector = createLinkedInConnector(config());
    const ours = await connector.publish(post());
    // A busy page: 520 later posts push ours past the 500 newest.
    for (let i = 0; i < 520; i++) await connector.publish(post({ text: `Suggestion du jour n° ${i}` }));
    await expect(connector.findPublished(post(), since)).resolves.toBeNull();

    const refusal = await platformError(connector.publish(post({ attemptId: 'att-2' })));
    expect(refusal.details.existingPostId).toBe(ours.postId);
    await expect(connector.findPublished(post(), since, refusal.details.existingPostId)).resolves.toEqual(ours);
    expect(linkedin.requests.at(-1)?.path).toBe(`/rest/posts/${encodeURIComponent(ours.postId)}`);

    // The named post must still be this publication's: same text, made since the publication was due.
    await expect(connector.findPublished(post({ text: 'Autre texte' }), since, ours.postId)).resolves.toBeNull();
    await expect(connector.findPublished(post(), new Date(Date.now() + 10 * 60_000), ours.postId)).resolves.toBeNull();
    // A URN LinkedIn does not know (404) is no post, and the listing is still read.
    const listings = linkedin.requests.filter((r) => r.path === '/rest/posts' && r.method === 'GET').length;
    await expect(connector.findPublished(post(), since, 'urn:li:share:1')).resolves.toBeNull();
    expect(linkedin.requests.filter((r) => r.path === '/rest/posts' && r.method === 'GET').length).toBeGreaterThan(listings);
  });

  it('reports 429 as rate_limited, with Retry-After when LinkedIn sends one', async () => {
    const connector = createLinkedInConnector(config());
    linkedin.fail({ kind: 'rate_limited', retryAfterSeconds: 120 });
    expect(await platformError(connector.publish(post()))).toMatchObject({ errorClass: 'rate_limited', details: { status: 429, retryAfterMs: 120_000 } });
    linkedin.fail({ kind: 'rate_limited' });
    const error = await platformError(connector.publish(post()));
    expect(error.errorClass).toBe('rate_limited');
    expect(error.details.retryAfterMs).toBeUndefined();
  });

  it('reports an inactive LinkedIn-Version as permanent', async () => {
    const error = await platformError(createLinkedInConnector(config({ api_version: '202301' })).check());
    expect(error).toMatchObject({ errorClass: 'permanent', details: { status: 426, platformCode: 'NONEXISTENT_VERSION' } });
  });

  it('findPublished finds the post made by a call whose answer timed out', async () => {
    const since = new Date();
    const connector = createLinkedInConnector(config(), { timeoutMs: 300 });
    linkedin.holdNextPostAnswer(1_500);
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    expect(linkedin.posts).toHaveLength(1);

    await expect(connector.findPublished(post(), since)).resolves.toEqual({ postId: linkedin.posts[0]?.id, url: `https://www.linkedin.com/feed/update/${linkedin.posts[0]?.id}` });
    await expect(connector.findPublished(post({ text: 'Autre texte' }), since)).resolves.toBeNull();
    await expect(connector.findPublished(post(), new Date(Date.now() + 10 * 60_000))).resolves.toBeNull();
    const finder = linkedin.requests.find((r) => r.method === 'GET' && r.path === '/rest/posts');
    expect(finder?.query).toMatchObject({ author: `urn:li:organization:${organizationId}`, q: 'author', count: '50' });
    expect(finder?.headers['x-restli-method']).toBe('FINDER');
  });

  it('findPublished looks past 300 newer posts (a search minutes after the attempt, on a busy page)', async () => {
    const since = new Date();
    const connector = createLinkedInConnector(config());
    const ours = await connector.publish(post());
    for (let i = 0; i < 300; i++) await connector.publish(post({ text: `Plat du jour n°${i} au Vieux Moulin` }));

    const before = linkedin.requests.length;
    await expect(connector.findPublished(post(), since)).resolves.toEqual(ours);
    expect(linkedin.requests.slice(before).filter((r) => r.method === 'GET' && r.path === '/rest/posts')).toHaveLength(7);
  });

  it('fetchMetrics maps the share statistics', async () => {
    const connector = createLinkedInConnector(config());
    const { postId } = await connector.publish(post());
    linkedin.setStatistics(postId, { likeCount: 31, shareCount: 4, commentCount: 6, clickCount: 52, impressionCount: 1_800, uniqueImpressionsCount: 1_200 });
    await expect(connector.fetchMetrics(postId)).resolves.toEqual({ likes: 31, shares: 4, comments: 6, clicks: 52, impressions: 1_800, reach: 1_200 });
    expect(linkedin.requests.at(-1)?.query.shares).toBe(`List(${postId})`);

    await expect(connector.fetchMetrics('urn:li:share:1')).resolves.toEqual({ likes: null, shares: null, comments: null, clicks: null, impressions: null, reach: null });
    expect((await platformError(connector.fetchMetrics('123'))).errorClass).toBe('permanent');
  });

  it('check() runs the posts finder and reports a refused token as auth', async () => {
    await expect(createLinkedInConnector(config()).check()).resolves.toBeUndefined();
    expect(linkedin.requests.at(-1)?.query.count).toBe('1');
    const error = await platformError(createLinkedInConnector(config(), { accessToken: async () => vaultToken }).check());
    expect(error).toMatchObject({ errorClass: 'auth', details: { status: 401, platformCode: 'INVALID_ACCESS_TOKEN' } });
  });

  it('reports a post whose answer never came as unknown_outcome, and a read that timed out as transient', async () => {
    const connector = createLinkedInConnector(config(), { timeoutMs: 300 });
    linkedin.fail({ kind: 'timeout' }, { path: '/rest/posts', method: 'POST' });
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    linkedin.fail({ kind: 'timeout' });
    expect((await platformError(connector.check())).errorClass).toBe('transient');
  });

  it('escapes little-text markup outside links and hashtags, and reads it back', () => {
    const text = 'Menu (15 €) : entrée + plat_du_jour * dessert ~ café <3 @chef {promo} | \\ fin #fait_maison https://levieuxmoulin.fr/a_b(1)';
    const escaped = toLittleText(text);
    expect(escaped).toBe('Menu \\(15 €\\) : entrée + plat\\_du\\_jour \\* dessert \\~ café \\<3 \\@chef \\{promo\\} \\| \\\\ fin #fait_maison https://levieuxmoulin.fr/a_b\\(1\\)');
    expect(fromLittleText(escaped)).toBe(text);
    expect(fromLittleText('Soirée {hashtag|\\#|jazz} ce soir')).toBe('Soirée #jazz ce soir');
  });

  it('refuses a configuration without token or organisation, naming fields only', () => {
    expect(() => createLinkedInConnector({ organization_id: organizationId })).toThrow(/access_token: required/);
    expect(() => createLinkedInConnector({ access_token: accessToken })).toThrow(/organization_id/);
    expect(() => createLinkedInConnector(config({ api_version: 'v2' }))).toThrow(/api_version/);
    const message = (() => {
      try {
        createLinkedInConnector({ access_token: accessToken, organization_id: 'acme' });
      } catch (error) {
        return String(error);
      }
      return '';
    })();
    expect(message).toMatch(/organization_id/);
    expect(message).not.toContain(accessToken);
  });
});
