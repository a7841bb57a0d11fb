import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlatformError, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createGoogleBusinessConnector, schedule } from '../../../src/platforms/social/google-business.js';
import { startGoogleBusinessDouble, type GoogleBusinessDouble } from '../../doubles/google-business-double.js';

const accessToken = 'ya29.GBP-SECRET-token-3f9a1c';
const vaultToken = 'ya29.VAULT-SECRET-token-77be02';
const accountId = '112233445566778899';
const locationId = '9876543210123456789';

function post(overrides: Partial<SocialPost> = {}): SocialPost {
  return {
    publicationId: 'pub-1',
    attemptId: 'att-1',
    title: 'Soirée jazz',
    text: 'Vendredi soir, soirée jazz au Vieux Moulin : menu trois plats et trio en live. Réservation conseillée.',
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

describe('Google Business Profile connector', () => {
  let google: GoogleBusinessDouble;

  beforeEach(async () => {
    google = await startGoogleBusinessDouble({ accountId, locationId, accessToken });
  });
  afterEach(async () => {
    await google.close();
  });

  const config = (overrides: Record<string, unknown> = {}) => ({ account_id: accountId, location_id: locationId, access_token: accessToken, base_url: google.url, ...overrides });

  it('creates a STANDARD local post in French and returns its name and searchUrl', async () => {
    const result = await createGoogleBusinessConnector(config()).publish(post());
    const created = google.posts[0];
    expect(result).toEqual({ postId: created?.name, url: created?.searchUrl });
    expect(created?.name).toMatch(new RegExp(`^accounts/${accountId}/locations/${locationId}/localPosts/\\d+$`));
    const request = google.requests.find((r) => r.method === 'POST');
    expect(request?.path).toBe(`/v4/accounts/${accountId}/locations/${locationId}/localPosts`);
    expect(request?.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(request?.body).toEqual({ languageCode: 'fr', summary: post().text, topicType: 'STANDARD' });
  });

  it('accepts accounts/… and locations/… spellings and a token provider that overrides the config', async () => {
    await createGoogleBusinessConnector(config({ account_id: `accounts/${accountId}`, location_id: `locations/${locationId}`, access_token: 'ya29.stale' }), {
      accessToken: async () => accessToken,
    }).publish(post());
    expect(google.posts).toHaveLength(1);
  });

  it('sends the photo as a PHOTO media item Google fetches itself', async () => {
    const photo = google.serveMedia('salle.jpg', Buffer.alloc(800, 5));
    await createGoogleBusinessConnector(config()).publish(post({ mediaUrls: [photo] }));
    expect(google.posts[0]?.media).toEqual([expect.objectContaining({ mediaFormat: 'PHOTO', sourceUrl: photo })]);
  });

  it('refuses a photo Google cannot fetch, and video or several photos before calling', async () => {
    const connector = createGoogleBusinessConnector(config());
    const unreachable = await platformError(connector.publish(post({ mediaUrls: [`${google.url}/media/absent.jpg`] })));
    expect(unreachable).toMatchObject({ errorClass: 'permanent', details: { status: 400, platformCode: 'INVALID_ARGUMENT' } });
    expect(unreachable.message).toContain('could not be fetched');

    const calls = google.requests.length;
    expect((await platformError(connector.publish(post({ mediaUrls: ['https://cdn.example/visite.mp4'] })))).errorClass).toBe('permanent');
    expect((await platformError(connector.publish(post({ mediaUrls: ['https://cdn.example/a.jpg', 'https://cdn.example/b.jpg'] })))).errorClass).toBe('permanent');
    expect(google.requests).toHaveLength(calls);
  });

  it('gives EVENT and OFFER posts the title and a schedule from today', async () => {
    const connector = createGoogleBusinessConnector(config({ schedule_days: 3 }));
    await connector.publish(post({ topicType: 'EVENT' }));
    await connector.publish(post({ topicType: 'OFFER', title: 'Dessert offert', text: 'Une pizza achetée, un dessert maison offert.' }));
    const expected = schedule(new Date(), 'Europe/Paris', 3);
    expect(google.posts.map((p) => [p.topicType, p.event])).toEqual([
      ['EVENT', { title: 'Soirée jazz', schedule: expected }],
      ['OFFER', { title: 'Dessert offert', schedule: expected }],
    ]);
    expect((await platformError(connector.publish(post({ topicType: 'EVENT', title: ' ' })))).errorClass).toBe('permanent');
  });

  it('computes schedules in the location time zone, across month ends', () => {
    // 23:30 UTC on 31 January is already 1 February in Paris.
    expect(schedule(new Date('2027-01-31T23:30:00Z'), 'Europe/Paris', 7)).toEqual({
      startDate: { year: 2027, month: 2, day: 1 },
      endDate: { year: 2027, month: 2, day: 7 },
    });
    expect(schedule(new Date('2027-02-27T12:00:00Z'), 'Europe/Paris', 3).endDate).toEqual({ year: 2027, month: 3, day: 1 });
  });

  it('reports a post Google rejects as permanent', async () => {
    google.rejectNextPost();
    const error = await platformError(createGoogleBusinessConnector(config()).publish(post()));
    expect(error).toMatchObject({ errorClass: 'permanent', details: { platformCode: 'REJECTED' } });
  });

  it.each([
    ['an expired token (401 UNAUTHENTICATED)', { kind: 'expired_token' }, 'auth', 401, 'UNAUTHENTICATED'],
    ['PERMISSION_DENIED (403)', { kind: 'permission_denied' }, 'auth', 403, 'PERMISSION_DENIED'],
    ['INVALID_ARGUMENT (400)', { kind: 'invalid_argument', message: "Invalid value at 'local_post.summary'" }, 'permanent', 400, 'INVALID_ARGUMENT'],
    ['UNAVAILABLE (503)', { kind: 'server_error', status: 503 }, 'transient', 503, 'UNAVAILABLE'],
    ['INTERNAL (500)', { kind: 'server_error', status: 500 }, 'transient', 500, 'INTERNAL'],
  ] as const)('classifies %s', async (_label, fault, errorClass, status, rpc) => {
    google.fail(fault);
    const error = await platformError(createGoogleBusinessConnector(config()).publish(post()));
    expect(error).toMatchObject({ errorClass, details: { status, platformCode: rpc } });
  });

  it('reports RESOURCE_EXHAUSTED as rate_limited, with Retry-After when Google sends one', async () => {
    const connector = createGoogleBusinessConnector(config());
    google.fail({ kind: 'rate_limited', retryAfterSeconds: 45 });
    const error = await platformError(connector.publish(post()));
    expect(error).toMatchObject({ errorClass: 'rate_limited', details: { status: 429, platformCode: 'RESOURCE_EXHAUSTED', retryAfterMs: 45_000 } });
    google.fail({ kind: 'rate_limited' });
    expect((await platformError(connector.publish(post()))).details.retryAfterMs).toBeUndefined();
  });

  it('reports a post whose answer never came as unknown_outcome, and a 504 on a post too', async () => {
    const connector = createGoogleBusinessConnector(config(), { timeoutMs: 300 });
    google.fail({ kind: 'timeout' });
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    google.fail({ kind: 'server_error', status: 504 });
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    google.fail({ kind: 'server_error', status: 504 });
    expect((await platformError(connector.check())).errorClass).toBe('transient');
  });

  it('findPublished finds the post made by a call whose answer timed out', async () => {
    const since = new Date();
    const connector = createGoogleBusinessConnector(config(), { timeoutMs: 300 });
    google.holdNextPostAnswer(1_500);
    expect((await platformError(connector.publish(post()))).errorClass).toBe('unknown_outcome');
    expect(google.posts).toHaveLength(1);

    await expect(connector.findPublished(post(), since)).resolves.toEqual({ postId: google.posts[0]?.name, url: google.posts[0]?.searchUrl });
    await expect(connector.findPublished(post({ text: 'Autre chose' }), since)).resolves.toBeNull();
    await expect(connector.findPublished(post(), new Date(Date.now() + 10 * 60_000))).resolves.toBeNull();
  });

  it('findPublished pages through the listing and skips rejected posts', async () => {
    const connector = createGoogleBusinessConnector(config());
    const since = new Date();
    await connector.publish(post());
    for (let i = 0; i < 120; i++) await connector.publish(post({ text: `Plat du jour n°${i}` }));
    await expect(connector.findPublished(post(), since)).resolves.toMatchObject({ postId: google.posts[0]?.name });
    expect(google.requests.filter((r) => r.method === 'GET' && r.query.pageSize === '100')).toHaveLength(2);

    google.rejectNextPost();
    await platformError(connector.publish(post({ text: 'Texte refusé' })));
    await expect(connector.findPublished(post({ text: 'Texte refusé' }), since)).resolves.toBeNull();
  });

  it('fetchMetrics reports no counters: Google offers none per local post', async () => {
    await expect(createGoogleBusinessConnector(config()).fetchMetrics('accounts/1/locations/2/localPosts/3')).resolves.toEqual({
      likes: null,
      shares: null,
      comments: null,
      reach: null,
      clicks: null,
      impressions: null,
    });
  });

  it('check() lists one local post and reports a refused token as auth', async () => {
    await expect(createGoogleBusinessConnector(config()).check()).resolves.toBeUndefined();
    expect(google.requests.at(-1)?.query.pageSize).toBe('1');
    const error = await platformError(createGoogleBusinessConnector(config(), { accessToken: async () => vaultToken }).check());
    expect(error.errorClass).toBe('auth');
    expect((await platformError(createGoogleBusinessConnector(config({ location_id: '1' })).check())).errorClass).toBe('permanent');
  });

  it('refuses a configuration without token or ids, naming fields only', () => {
    expect(() => createGoogleBusinessConnector({ account_id: accountId, location_id: locationId })).toThrow(/access_token: required/);
    expect(() => createGoogleBusinessConnector({ location_id: locationId, access_token: accessToken })).toThrow(/account_id/);
    expect(() => createGoogleBusinessConnector(config({ time_zone: 'Mars/Olympus' }))).toThrow(/time_zone/);
    const message = (() => {
      try {
        createGoogleBusinessConnector({ access_token: accessToken, account_id: 'a/b/c' });
      } catch (error) {
        return String(error);
      }
      return '';
    })();
    expect(message).toMatch(/account_id.*location_id/);
    expect(message).not.toContain(accessToken);
  });
});
