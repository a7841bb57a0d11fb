import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engagementStreamId } from '../../../src/domain/engagement.js';
import { createLogger } from '../../../src/infrastructure/logging/logger.js';
import { connectorsFromConfig } from '../../../src/platforms/social/connectors-from-config.js';
import { createLinkedInConnector } from '../../../src/platforms/social/linkedin.js';
import { EngagementPoller } from '../../../src/reactors/publications/engagement-poller.js';
import { testDatabases, type TestDatabase } from '../../support/databases.js';
import { graphToken, pageId, type PlatformDoubles, platformsJson, startPlatformDoubles } from '../../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../../support/test-app.js';

/**
 * The whole publishing pipeline over real HTTP: POST /publish → PublicationScheduled → publication_schedule read model
 * → scheduler → bus → worker → the platform's connector → its double (a real local HTTP server) → the result in the
 * publication's stream → GET /publications/{id}. Then failures as the platforms answer them, a restart with a
 * publication that fell due while no worker ran, and the engagement counters read back from Facebook's insights.
 */

const publish = '/api/communication/publish';
const publications = '/api/communication/publications';

/**
 * A text no other test posts: X and LinkedIn refuse the same text twice, and the doubles' posts are found by it. No
 * character LinkedIn's little text format escapes, so the commentary it receives is the text itself.
 */
const unique = (text: string): string => `${text} Réf ${randomUUID().slice(0, 8)}`;

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** POST /publish, expecting it accepted; returns the publication id. */
async function schedule(t: RunningApp, body: Record<string, unknown>): Promise<string> {
  const response = await t.call('POST', publish, { body });
  expect(response.status, JSON.stringify(response.body)).toBe(202);
  return response.body.publication_id;
}

/** GET /publications/{id} until `done` accepts it (a 404 before the read model has the publication is waited out). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
async function waitFor(t: RunningApp, id: string, done: (view: any) => boolean, what: string): Promise<any> {
  return until(`publication ${id}: ${what}`, async () => {
    const response = await t.call('GET', `${publications}/${id}`);
    return response.status === 200 && done(response.body) ? response.body : undefined;
  });
}

const settled = ['published', 'partially_published', 'failed', 'canceled'];

describe.each(testDatabases())('publication pipeline on $name', (database) => {
  let doubles: PlatformDoubles;

  beforeAll(async () => {
    doubles = await startPlatformDoubles();
  });
  afterAll(async () => {
    await doubles?.close();
    await database.cleanup();
  });

  describe('publishing on each platform', () => {
    let t: RunningApp;
    beforeAll(async () => {
      t = await startTestApp(database, { platforms: platformsJson(doubles), scheduler: { pollIntervalMs: 50 } });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('posts a Facebook text with its title and hashtags, once, and shows the post id and URL', async () => {
      const body = unique('Ce soir au Vieux Moulin : moules-frites et concert acoustique.');
      const id = await schedule(t, { content: { title: 'Vendredi festif', body, hashtags: ['vensac', '#medoc'] }, platforms: ['facebook'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const text = `Vendredi festif\n\n${body}\n\n#vensac #medoc`;
      const posted = doubles.graph.posts.filter((p) => p.text === text);
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ platform: 'facebook', kind: 'status', mediaUrls: [] });
      const feedCalls = doubles.graph.requests.filter((r) => r.method === 'POST' && r.path === `/${pageId}/feed` && r.params.message === text);
      expect(feedCalls).toHaveLength(1);
      expect(view.status).toBe('published');
      expect(view.platforms.facebook).toMatchObject({
        status: 'published',
        attempts: 1,
        post_id: posted[0]!.id,
        post_url: `https://www.facebook.com/${posted[0]!.id}`,
        published_at: expect.any(String),
        error: null,
      });
      const events = await t.app.store.readStream(`publication-${id}`);
      expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublished']);
    });

    it('posts a Facebook photo as one post carrying the uploaded, unpublished photo', async () => {
      const body = unique('Le plat du jour : magret de canard, pommes sarladaises.');
      const photo = 'https://cdn.levieuxmoulin.fr/plat-du-jour.jpg';
      const id = await schedule(t, { content: { body, media_urls: [photo] }, platforms: ['facebook'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const posted = doubles.graph.posts.filter((p) => p.text === body);
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ platform: 'facebook', kind: 'photos', mediaUrls: [photo] });
      const uploads = doubles.graph.requests.filter((r) => r.method === 'POST' && r.path === `/${pageId}/photos` && r.params.url === photo);
      expect(uploads).toHaveLength(1);
      expect(uploads[0]!.params.published).toBe('false');
      expect(view.platforms.facebook).toMatchObject({ status: 'published', post_id: posted[0]!.id, post_url: `https://www.facebook.com/${posted[0]!.id}` });
    });

    it('posts an Instagram image with its caption, once, and shows the media id and permalink', async () => {
      const body = unique('La terrasse est ouverte : venez profiter du soleil.');
      const image = 'https://cdn.levieuxmoulin.fr/terrasse.jpg';
      const id = await schedule(t, { content: { body, media_urls: [image], hashtags: ['terrasse'] }, platforms: ['instagram'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const caption = `${body}\n\n#terrasse`;
      const posted = doubles.graph.posts.filter((p) => p.text === caption);
      expect(posted).toHaveLength(1);
      expect(posted[0]).toMatchObject({ platform: 'instagram', kind: 'image', mediaUrls: [image] });
      expect(view.status).toBe('published');
      expect(view.platforms.instagram).toMatchObject({ status: 'published', attempts: 1, post_id: posted[0]!.id, post_url: posted[0]!.permalink });
    });

    it('posts an X text once and shows the tweet id and URL', async () => {
      const body = unique('Soirée jazz jeudi soir, réservation conseillée.');
      const id = await schedule(t, { content: { body }, platforms: ['twitter'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const posted = doubles.x.posts.filter((p) => p.text === body);
      expect(posted).toHaveLength(1);
      expect(doubles.x.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets' && (r.body as { text?: string }).text === body)).toHaveLength(1);
      expect(view.status).toBe('published');
      expect(view.platforms.twitter).toMatchObject({ status: 'published', attempts: 1, post_id: posted[0]!.id, post_url: `https://x.com/i/web/status/${posted[0]!.id}` });
    });

    it('posts a Google Business Profile text once, without the hashtags, and shows the local post and its URL', async () => {
      const body = unique('Nouveaux horaires : ouvert le dimanche midi.');
      const id = await schedule(t, { content: { body, hashtags: ['vensac'] }, platforms: ['google_business'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const posted = doubles.google.posts.filter((p) => p.summary.includes(body));
      expect(posted).toHaveLength(1);
      expect(posted[0]!.summary).toBe(body);
      expect(view.status).toBe('published');
      expect(view.platforms.google_business).toMatchObject({ status: 'published', attempts: 1, post_id: posted[0]!.name, post_url: posted[0]!.searchUrl });
    });

    it('posts a LinkedIn text once and shows the share URN and URL', async () => {
      const body = unique('Le Vieux Moulin recrute un commis de cuisine pour la saison.');
      const id = await schedule(t, { content: { body }, platforms: ['linkedin'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      const posted = doubles.linkedin.posts.filter((p) => p.commentary === body);
      expect(posted).toHaveLength(1);
      expect(view.status).toBe('published');
      expect(view.platforms.linkedin).toMatchObject({
        status: 'published',
        attempts: 1,
        post_id: posted[0]!.id,
        post_url: `https://www.linkedin.com/feed/update/${posted[0]!.id}`,
      });
    });

    it('records as published a LinkedIn post an unrecorded attempt made, found through the URN of the duplicate refusal', async () => {
      // An earlier attempt's post, then a busy page: 120 later posts push it past the newest posts the search lists.
      const body = unique('Menu de la Saint-Sylvestre : les réservations sont ouvertes.');
      const linkedin = createLinkedInConnector(platformsJson(doubles).linkedin);
      const earlier = await linkedin.publish({ publicationId: 'earlier', attemptId: 'earlier', title: '', text: body, mediaUrls: [] });
      for (let i = 0; i < 120; i++) await linkedin.publish({ publicationId: 'other', attemptId: `other-${i}`, title: '', text: unique(`Suggestion ${i}`), mediaUrls: [] });

      const id = await schedule(t, { content: { body }, platforms: ['linkedin'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      expect(doubles.linkedin.posts.filter((p) => p.commentary === body)).toHaveLength(1);
      expect(view.status).toBe('published');
      expect(view.platforms.linkedin).toMatchObject({ status: 'published', attempts: 1, post_id: earlier.postId, error: null });
      const named = doubles.linkedin.requests.filter((r) => r.method === 'GET' && r.path === `/rest/posts/${encodeURIComponent(earlier.postId)}`);
      expect(named).toHaveLength(1);
    });

    it('publishes on Facebook and fails X for good on a 403 that is not a duplicate: partially published, with X’s words', async () => {
      const body = unique('Dernière soirée de la saison samedi.');
      doubles.x.fail(
        { kind: 'response', status: 403, body: { title: 'Forbidden', type: 'about:blank', status: 403, detail: 'You are not permitted to perform this action.' } },
        { method: 'POST', path: '/2/tweets' },
      );
      const id = await schedule(t, { content: { body }, platforms: ['facebook', 'twitter'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      expect(view.status).toBe('partially_published');
      expect(view.platforms.facebook.status).toBe('published');
      expect(view.platforms.twitter).toMatchObject({
        status: 'failed',
        attempts: 1,
        next_attempt_at: null,
        post_id: null,
        error: { class: 'permanent', message: expect.stringContaining('You are not permitted to perform this action.'), at: expect.any(String) },
      });
      expect(doubles.x.posts.filter((p) => p.text === body)).toHaveLength(0);
      const failed = (await t.app.store.readStream(`publication-${id}`)).filter((e) => e.type === 'PlatformPublishFailed');
      expect(failed.map((e) => e.data)).toEqual([expect.objectContaining({ platform: 'twitter', error_class: 'permanent', retryable: false, will_retry: false })]);
    });

    it('records the Facebook insights the poller reads and shows them in GET /publications/{id}/engagement', async () => {
      const body = unique('Merci pour vos 1 000 abonnés !');
      const id = await schedule(t, { content: { body }, platforms: ['facebook'] });
      const view = await waitFor(t, id, (v) => v.status === 'published', 'published');
      const postId: string = view.platforms.facebook.post_id;
      doubles.graph.setMetrics(postId, { reactions: 12, comments: 3, shares: 2, post_media_view: 340, post_total_media_view_unique: 210, post_clicks: 17 });

      const engagement = `${publications}/${id}/engagement`;
      const before = await until('the published post in the engagement read model', async () => {
        const response = await t.call('GET', engagement);
        return response.status === 200 ? response.body : undefined;
      });
      expect(before.platforms.facebook).toMatchObject({ post_id: postId, measured_at: null });

      // The app's own poller asks every 5 minutes; one round of a poller over the same store, read model and
      // platforms.json is what it would do at its next round.
      const connectors = connectorsFromConfig({ facebook: platformsJson(doubles).facebook });
      try {
        const poller = new EngagementPoller(t.app.store, t.app.db, connectors, createLogger('silent'));
        const outcome = await poller.tick();
        expect(outcome.failed).toBe(0);
        expect(outcome.recorded).toBeGreaterThanOrEqual(1);
      } finally {
        connectors.facebook?.shutdown();
      }

      const counters = { likes: 12, comments: 3, shares: 2, reach: 210, clicks: 17, impressions: 340 };
      const measured = await until('the measured counters', async () => {
        const response = await t.call('GET', engagement);
        return response.body?.platforms?.facebook?.measured_at ? response.body : undefined;
      });
      expect(measured).toEqual({
        publication_id: id,
        platforms: { facebook: { post_id: postId, post_url: `https://www.facebook.com/${postId}`, published_at: expect.any(String), measured_at: expect.any(String), ...counters } },
        totals: counters,
      });
      const events = await t.app.store.readStream(engagementStreamId(id));
      expect(events.map((e) => [e.type, (e.data as { source: string }).source])).toEqual([['EngagementMeasured', 'insights']]);
    });
  });

  describe('failures', () => {
    let t: RunningApp;
    beforeAll(async () => {
      // An app of its own: its Facebook circuit breaker counts only the failures made here.
      t = await startTestApp(database, { platforms: { facebook: platformsJson(doubles).facebook }, scheduler: { pollIntervalMs: 50 } });
    });
    afterAll(async () => {
      await t?.close();
    });

    const feed = { method: 'POST' as const, path: new RegExp(`^/${pageId}/feed$`) };

    it('records a 5xx as a transient failure to retry after the backoff, and posts nothing', async () => {
      const body = unique('Menu du marché : velouté de potimarron.');
      doubles.graph.fail({ kind: 'server-error' }, { when: feed });
      const id = await schedule(t, { content: { body }, platforms: ['facebook'] });
      const view = await waitFor(t, id, (v) => v.platforms.facebook?.error !== null && v.platforms.facebook?.attempts === 1, 'the first failure');

      expect(view.status).toBe('publishing');
      expect(view.platforms.facebook).toMatchObject({
        status: 'scheduled',
        attempts: 1,
        next_attempt_at: expect.any(String),
        post_id: null,
        error: { class: 'transient', message: expect.stringContaining('Please retry your request later'), at: expect.any(String) },
      });
      const failed = (await t.app.store.readStream(`publication-${id}`)).filter((e) => e.type === 'PlatformPublishFailed');
      expect(failed).toHaveLength(1);
      const data = failed[0]!.data as { error_class: string; retryable: boolean; will_retry: boolean; attempt: number; next_attempt_at: string; failed_at: string };
      expect(data).toMatchObject({ error_class: 'transient', retryable: true, will_retry: true, attempt: 1 });
      // The decider's backoff after a first attempt: one minute.
      expect(Date.parse(data.next_attempt_at) - Date.parse(data.failed_at)).toBe(60_000);
      expect(view.platforms.facebook.next_attempt_at).toBe(data.next_attempt_at.replace('.000Z', 'Z'));
      expect(doubles.graph.posts.filter((p) => p.text === body)).toHaveLength(0);
      expect(doubles.graph.requests.filter((r) => r.params.message === body).map((r) => r.verdict)).toEqual(['server-error']);
    });

    it('fails for good on a Facebook error that is not retryable, with the platform’s message', async () => {
      const body = unique('Soirée dégustation des vins du Médoc.');
      doubles.graph.fail(
        { kind: 'graph-error', error: { code: 100, message: '(#100) Posts with this link are not allowed on this Page', type: 'OAuthException' } },
        { when: feed },
      );
      const id = await schedule(t, { content: { body }, platforms: ['facebook'] });
      const view = await waitFor(t, id, (v) => settled.includes(v.status), 'settled');

      expect(view.status).toBe('failed');
      expect(view.platforms.facebook).toMatchObject({
        status: 'failed',
        attempts: 1,
        next_attempt_at: null,
        error: { class: 'permanent', message: expect.stringContaining('Posts with this link are not allowed on this Page') },
      });
      expect(doubles.graph.posts.filter((p) => p.text === body)).toHaveLength(0);
      await sleep(300);
      expect(doubles.graph.requests.filter((r) => r.params.message === body)).toHaveLength(1);
    });

    it('keeps posts refused for an expired token waiting, and alerts once on connection-facebook for two of them', async () => {
      const bodies = [unique('Fête de la musique au moulin.'), unique('Marché de Noël : stand de vin chaud.')];
      doubles.graph.fail({ kind: 'token-expired' }, { times: 2, when: feed });
      const ids = await Promise.all(bodies.map((body) => schedule(t, { content: { body }, platforms: ['facebook'] })));
      const views = await Promise.all(ids.map((id) => waitFor(t, id, (v) => v.platforms.facebook?.error?.class === 'auth', 'the auth failure')));

      for (const view of views) {
        expect(view.platforms.facebook).toMatchObject({
          status: 'scheduled',
          attempts: 1,
          post_id: null,
          error: { class: 'auth', message: expect.stringMatching(/session has expired/i) },
        });
        // Not retried until someone reconnects the account: well past the usual one-minute backoff.
        expect(Date.parse(view.platforms.facebook.next_attempt_at) - Date.parse(view.platforms.facebook.error.at)).toBeGreaterThanOrEqual(15 * 60_000);
      }
      for (const body of bodies) expect(doubles.graph.posts.filter((p) => p.text === body)).toHaveLength(0);

      const alerts = (await t.app.store.readStream('connection-facebook')).filter((e) => e.type === 'PlatformAuthorizationFailed');
      expect(alerts).toHaveLength(1);
      const alert = alerts[0]!.data as { platform: string; account: string; message: string; publication_id: string };
      expect(alert).toMatchObject({ platform: 'facebook', account: pageId, message: expect.stringMatching(/session has expired/i) });
      expect(ids).toContain(alert.publication_id);
      expect(JSON.stringify(alert)).not.toContain(graphToken);
    });
  });

  describe('a restart', () => {
    it('publishes once, at start-up, a publication that fell due while no worker ran', async () => {
      // Both apps run over the same database, as a service restarted on its data.
      const sql = await database.create();
      const same: TestDatabase = { name: database.name, create: async () => sql, cleanup: async () => undefined };
      const platforms = { facebook: platformsJson(doubles).facebook };
      const body = unique('Réouverture après travaux : nouvelle salle, même cuisine.');

      const before = await startTestApp(same, { worker: false, platforms });
      let id: string;
      try {
        const due = Date.now() + 1_000;
        id = await schedule(before, { content: { body }, platforms: ['facebook'], scheduled_time: new Date(due).toISOString() });
        await sleep(due + 500 - Date.now());
        expect(doubles.graph.posts.filter((p) => p.text === body)).toHaveLength(0);
      } finally {
        await before.close();
      }

      const after = await startTestApp(same, { platforms, scheduler: { pollIntervalMs: 50 } });
      try {
        const view = await waitFor(after, id, (v) => v.status === 'published', 'published');
        // Several more scheduler rounds: none may post it again.
        await sleep(500);
        const posted = doubles.graph.posts.filter((p) => p.text === body);
        expect(posted).toHaveLength(1);
        expect(view.platforms.facebook).toMatchObject({ status: 'published', attempts: 1, post_id: posted[0]!.id });
        const events = await after.app.store.readStream(`publication-${id}`);
        expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PlatformPublishingStarted', 'PlatformPublished']);
      } finally {
        await after.close();
      }
    });
  });
});
