import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPosition, parsePosition } from '../../src/infrastructure/event-store/event-store.js';
import { testDatabases } from '../support/databases.js';
import { type PlatformDoubles, platformsJson, startPlatformDoubles } from '../support/platform-doubles.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

/**
 * POST /api/communication/publish, /publish/validate, cancel and reschedule over real HTTP, with platforms.json
 * pointing at the platform doubles: the spec's request and answer, every refusal naming its field and leaving nothing
 * scheduled, and the slot rules (quota per 24 h, minimum gap with priorities) as a client sees them.
 */

const publish = '/api/communication/publish';
const validate = '/api/communication/publish/validate';
const publications = '/api/communication/publications';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A whole minute `ms` from now, as the spec writes times (…:00Z). */
function minuteFromNow(ms: number): string {
  return new Date(Math.floor((Date.now() + ms) / MINUTE) * MINUTE).toISOString().replace('.000Z', 'Z');
}

const shift = (iso: string, ms: number): string => new Date(Date.parse(iso) + ms).toISOString().replace('.000Z', 'Z');

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The publication's state as GET answers it, once the read model has it (a 404 before then is waited out). */
async function waitForStatus(t: RunningApp, id: string, statuses: string[], timeoutMs = 10_000) {
  return until(`publication ${id} to be ${statuses.join(' or ')}`, async () => {
    const response = await t.call('GET', `${publications}/${id}`);
    return response.status === 200 && statuses.includes(response.body.status) ? response.body : undefined;
  }, timeoutMs);
}

/** The publication as GET answers it once the read model has the write that answered `position`. */
async function read(t: RunningApp, id: string, position?: string | null) {
  const response = await t.call('GET', `${publications}/${id}${position ? `?min_position=${position}` : ''}`);
  expect(response.status).toBe(200);
  return response.body;
}

describe.each(testDatabases())('publication routes on $name', (database) => {
  let doubles: PlatformDoubles;

  beforeAll(async () => {
    doubles = await startPlatformDoubles();
  });
  afterAll(async () => {
    await doubles?.close();
    await database.cleanup();
  });

  describe('scheduling, cancel and reschedule', () => {
    let t: RunningApp;
    beforeAll(async () => {
      t = await startTestApp(database, {
        platforms: platformsJson(doubles, ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin']),
        scheduler: { pollIntervalMs: 50 },
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('answers the spec example with status scheduled, a per-platform id each and the time, and GET finds it by every id', async () => {
      // The spec's 2025-04-20T18:30:00Z is in the past now and would be refused: a time days ahead stands in for it.
      const scheduled_time = minuteFromNow(20 * DAY);
      const request = {
        content: {
          title: 'Promotion du jour',
          body: 'Profitez de notre offre spéciale sur les pizzas !',
          media_urls: ['https://example.com/images/promo.jpg'],
          hashtags: ['promotion', 'pizza', 'vieuxmoulin'],
        },
        platforms: ['facebook', 'instagram'],
        scheduled_time,
        targeting: { location: 'Vensac', radius: 20, age_range: [18, 65] },
      };
      const response = await t.call('POST', publish, { body: request });

      expect(response.status).toBe(202);
      const id: string = response.body.publication_id;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(response.body).toEqual({
        publication_id: id,
        status: 'scheduled',
        publication_ids: { facebook: `fb_${id}`, instagram: `ig_${id}` },
        scheduled_time: expect.stringMatching(/Z$/),
        rescheduled_reason: null,
        position: expect.stringMatching(/^\d+\.\d+$/),
      });
      expect(Date.parse(response.body.scheduled_time)).toBe(Date.parse(scheduled_time));
      expect(response.headers.get('location')).toBe(`${publications}/${id}`);

      const byUuid = await read(t, id, response.body.position);
      expect(byUuid).toMatchObject({
        publication_id: id,
        platform: null,
        status: 'scheduled',
        scheduled_time,
        content: request.content,
        targeting: request.targeting,
        priority: 50,
        publication_ids: { facebook: `fb_${id}`, instagram: `ig_${id}` },
      });
      expect(Object.keys(byUuid.platforms)).toEqual(['facebook', 'instagram']);
      for (const platform of ['facebook', 'instagram']) {
        expect(byUuid.platforms[platform]).toMatchObject({ status: 'scheduled', attempts: 0, post_id: null, error: null });
      }
      expect(await read(t, `fb_${id}`)).toEqual({ ...byUuid, platform: 'facebook' });
      expect(await read(t, `ig_${id}`)).toEqual({ ...byUuid, platform: 'instagram' });
      // x_<uuid> names a twitter post this publication does not have.
      expect((await t.call('GET', `${publications}/x_${id}`)).status).toBe(404);
    });

    it('answers scheduled_time as the spec writes it and as GET answers it (…:00Z, no milliseconds)', async () => {
      // A client that compares the time it sent with the one answered, or the 202 with a later GET, sees one string.
      const scheduled_time = minuteFromNow(20 * DAY + HOUR);
      const response = await t.call('POST', publish, {
        body: { content: { body: 'Profitez de notre offre spéciale sur les pizzas !' }, platforms: ['facebook'], scheduled_time },
      });
      expect(response.status).toBe(202);
      const stored = await read(t, response.body.publication_id, response.body.position);
      expect(stored.scheduled_time).toBe(scheduled_time);
      expect(response.body.scheduled_time).toBe(stored.scheduled_time);
    });

    it('stores a scheduled_time given with an offset in UTC and answers it in UTC', async () => {
      const utc = minuteFromNow(21 * DAY);
      const date = new Date(Date.parse(utc) + 2 * HOUR).toISOString();
      const withOffset = `${date.slice(0, 19)}+02:00`;
      const response = await t.call('POST', publish, {
        body: { content: { body: 'Soirée guinguette sur la terrasse, réservez votre table.' }, platforms: ['linkedin'], scheduled_time: withOffset },
      });

      expect(response.status).toBe(202);
      expect(Date.parse(response.body.scheduled_time)).toBe(Date.parse(utc));
      expect(response.body.scheduled_time).toMatch(/Z$/);
      const stored = await read(t, response.body.publication_id, response.body.position);
      expect(stored.scheduled_time).toBe(utc);
      expect(Date.parse(stored.scheduled_time_local)).toBe(Date.parse(utc));
      const [scheduled] = await t.app.store.readStream(`publication-${response.body.publication_id}`);
      expect(scheduled?.data).toMatchObject({ scheduled_time: new Date(utc).toISOString() });
    });

    it('takes a request without scheduled_time as now, and the publication goes out', async () => {
      const body = `Le chef vous propose ce midi un pot-au-feu maison (${randomUUID().slice(0, 8)}).`;
      const before = Date.now();
      const response = await t.call('POST', publish, { body: { content: { body }, platforms: ['facebook'] } });
      const after = Date.now();

      expect(response.status).toBe(202);
      expect(response.body.status).toBe('scheduled');
      expect(Date.parse(response.body.scheduled_time)).toBeGreaterThanOrEqual(before - 1_000);
      expect(Date.parse(response.body.scheduled_time)).toBeLessThanOrEqual(after);
      const id: string = response.body.publication_id;
      const published = await waitForStatus(t, id, ['published']);
      const posted = doubles.graph.posts.filter((p) => p.text === body);
      expect(posted).toHaveLength(1);
      expect(published.platforms.facebook).toMatchObject({ status: 'published', post_id: posted[0]!.id, attempts: 1 });
    });

    it('cancels the platforms still waiting, and refuses a second cancel', async () => {
      const response = await t.call('POST', publish, {
        body: { content: { body: 'Fermeture exceptionnelle le lundi de Pâques.' }, platforms: ['facebook', 'twitter'], scheduled_time: minuteFromNow(3 * DAY) },
      });
      const id: string = response.body.publication_id;

      const canceled = await t.call('POST', `${publications}/fb_${id}/cancel`, { body: { reason: 'finalement ouvert' } });
      expect(canceled.status).toBe(200);
      expect(canceled.body).toMatchObject({ publication_id: id, status: 'canceled', publication_ids: { facebook: `fb_${id}`, twitter: `x_${id}` } });
      const view = await read(t, id, canceled.body.position);
      expect(view).toMatchObject({ status: 'canceled', cancel_reason: 'finalement ouvert', canceled_at: expect.any(String) });
      expect(view.platforms.facebook.status).toBe('canceled');
      expect(view.platforms.twitter.status).toBe('canceled');

      const again = await t.call('POST', `${publications}/${id}/cancel`, { body: {} });
      expect(again.status).toBe(422);
      expect(again.body.error).toBe('publication_not_cancelable');
      expect(again.body.details).toEqual(
        expect.arrayContaining([{ path: 'platforms.facebook.status', message: 'is canceled' }, { path: 'platforms.twitter.status', message: 'is canceled' }]),
      );
      const events = await t.app.store.readStream(`publication-${id}`);
      expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PublicationCanceled']);
    });

    it('answers 404 to cancel or reschedule an unknown publication and 400 to a malformed id', async () => {
      const unknown = randomUUID();
      expect((await t.call('POST', `${publications}/${unknown}/cancel`, { body: {} })).body.error).toBe('publication_not_found');
      const rescheduled = await t.call('POST', `${publications}/${unknown}/reschedule`, { body: { scheduled_time: minuteFromNow(DAY) } });
      expect(rescheduled.status).toBe(404);
      const malformed = await t.call('POST', `${publications}/fb_12345/cancel`, { body: {} });
      expect(malformed.status).toBe(400);
      expect(malformed.body.details).toEqual([{ path: 'params.id', message: expect.stringContaining('uuid') }]);
    });

    it('reschedules to a new time, answered and visible in GET, with the reason in the stream', async () => {
      const first = minuteFromNow(4 * DAY);
      const response = await t.call('POST', publish, {
        body: { content: { body: 'Atelier pâtisserie pour les enfants, samedi après-midi.' }, platforms: ['google_business'], scheduled_time: first },
      });
      const id: string = response.body.publication_id;
      const later = shift(first, DAY + 90 * MINUTE);
      const laterWithOffset = `${new Date(Date.parse(later) + HOUR).toISOString().slice(0, 19)}+01:00`;

      const moved = await t.call('POST', `${publications}/gbp_${id}/reschedule`, { body: { scheduled_time: laterWithOffset, reason: 'le chef est en congé' } });
      expect(moved.status).toBe(200);
      expect(moved.body).toMatchObject({ publication_id: id, status: 'scheduled', rescheduled_reason: null });
      expect(Date.parse(moved.body.scheduled_time)).toBe(Date.parse(later));
      expect((await read(t, id, moved.body.position)).scheduled_time).toBe(later);
      const events = await t.app.store.readStream(`publication-${id}`);
      expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PublicationRescheduled']);
      expect(events[1]!.data).toMatchObject({ previous_time: new Date(first).toISOString(), scheduled_time: new Date(later).toISOString(), reason: 'le chef est en congé' });
    });

    it('refuses to reschedule into the past, or a canceled publication', async () => {
      const response = await t.call('POST', publish, {
        body: { content: { body: 'Menu de la Saint-Valentin, places limitées.' }, platforms: ['linkedin'], scheduled_time: minuteFromNow(5 * DAY) },
      });
      const id: string = response.body.publication_id;
      const past = await t.call('POST', `${publications}/${id}/reschedule`, { body: { scheduled_time: new Date(Date.now() - HOUR).toISOString() } });
      expect(past.status).toBe(422);
      expect(past.body.error).toBe('scheduled_time_in_past');
      expect(past.body.details).toEqual([{ path: 'scheduled_time', message: expect.any(String) }]);

      await t.call('POST', `${publications}/${id}/cancel`, { body: {} });
      const canceled = await t.call('POST', `${publications}/${id}/reschedule`, { body: { scheduled_time: minuteFromNow(6 * DAY) } });
      expect(canceled.status).toBe(422);
      expect(canceled.body.error).toBe('invalid_transition');
    });

    it('refuses to reschedule a publication that was published, with publication_already_started', async () => {
      const body = `Merci pour ce service complet ce soir (${randomUUID().slice(0, 8)}) !`;
      const response = await t.call('POST', publish, { body: { content: { body }, platforms: ['twitter'] } });
      const id: string = response.body.publication_id;
      await waitForStatus(t, id, ['published']);

      const refused = await t.call('POST', `${publications}/${id}/reschedule`, { body: { scheduled_time: minuteFromNow(DAY), reason: 'trop tôt' } });
      expect(refused.status).toBe(422);
      expect(refused.body.error).toBe('publication_already_started');
      expect(refused.body.details).toEqual([{ path: 'platforms.twitter.status', message: 'is published after 1 attempt(s)' }]);
      const events = await t.app.store.readStream(`publication-${id}`);
      expect(events.filter((e) => e.type === 'PublicationRescheduled')).toHaveLength(0);
      expect(doubles.x.posts.filter((p) => p.text === body)).toHaveLength(1);
    });
  });

  describe('refused requests', () => {
    let t: RunningApp;
    /** Ids of the publications these tests did get accepted: the calendar must hold these and nothing else. */
    const accepted: string[] = [];
    beforeAll(async () => {
      // LinkedIn and Google Business have no entry here; without the worker every accepted publication stays put.
      t = await startTestApp(database, { worker: false, platforms: platformsJson(doubles, ['facebook', 'instagram', 'twitter']) });
    });
    afterAll(async () => {
      await t?.close();
    });

    const valid = () => ({
      content: { title: 'Soirée moules-frites', body: 'Vendredi soir, moules-frites à volonté au Vieux Moulin.', media_urls: ['https://cdn.levieuxmoulin.fr/moules.jpg'], hashtags: ['vensac'] },
      platforms: ['facebook', 'instagram'],
      scheduled_time: minuteFromNow(7 * DAY),
    });

    /** Posts the request with a client-chosen id, and checks the refusal wrote nothing under that id. */
    const refused = async (body: Record<string, unknown> | string) => {
      const id = randomUUID();
      const withId = typeof body === 'string' ? body : { ...body, id };
      const response = await t.call('POST', publish, { body: withId });
      expect(await t.app.store.readStream(`publication-${id}`)).toEqual([]);
      return response;
    };

    it('refuses an unknown platform with 400 naming platforms.0', async () => {
      const response = await refused({ ...valid(), platforms: ['myspace'] });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('validation_failed');
      expect(response.body.details).toEqual([{ path: 'body.platforms.0', message: expect.any(String) }]);
    });

    it('refuses Instagram without media with 422 publication_invalid, and suggests dropping Instagram', async () => {
      const body = { ...valid(), content: { ...valid().content, media_urls: [] } };
      const response = await refused(body);
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('publication_invalid');
      expect(response.body.violations).toEqual([
        { platform: 'instagram', field: 'content.media_urls', code: 'media_required', message: expect.stringContaining('Instagram'), limit: 1, actual: 0 },
      ]);
      expect(response.body.details).toEqual([{ path: 'platforms.instagram.content.media_urls', message: expect.any(String) }]);
      expect(response.body.suggestion).toEqual({
        content: body.content,
        platforms: ['facebook'],
        dropped_platforms: [{ platform: 'instagram', reason: expect.stringContaining('at least one image or video') }],
      });
    });

    it('refuses a scheduled_time more than the grace minute in the past with 422 naming scheduled_time', async () => {
      const response = await refused({ ...valid(), scheduled_time: new Date(Date.now() - 5 * MINUTE).toISOString() });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('scheduled_time_in_past');
      expect(response.body.details).toEqual([{ path: 'scheduled_time', message: 'must not be in the past' }]);
    });

    it('refuses a media URL that is not http(s) with 400 naming the URL', async () => {
      for (const url of ['ftp://cdn.levieuxmoulin.fr/moules.jpg', 'javascript:alert(1)', 'file:///etc/passwd']) {
        const response = await refused({ ...valid(), content: { ...valid().content, media_urls: ['https://cdn.levieuxmoulin.fr/ok.jpg', url] } });
        expect(response.status, url).toBe(400);
        expect(response.body.error).toBe('validation_failed');
        expect(response.body.details).toEqual([{ path: 'body.content.media_urls.1', message: expect.any(String) }]);
      }
    });

    it('refuses an empty body without media with 422 naming content.body', async () => {
      const response = await refused({ ...valid(), content: { body: '   ' }, platforms: ['facebook'] });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('publication_content_empty');
      expect(response.body.details).toEqual([{ path: 'content.body', message: expect.any(String) }]);
    });

    it('refuses a platform without an entry in platforms.json with 422 platform_not_configured', async () => {
      const response = await refused({ ...valid(), platforms: ['facebook', 'linkedin', 'google_business'] });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('platform_not_configured');
      expect(response.body.message).toContain('linkedin, google_business');
      expect(response.body.details).toEqual([
        { path: 'platforms.1', message: 'linkedin has no entry in platforms.json' },
        { path: 'platforms.2', message: 'google_business has no entry in platforms.json' },
      ]);
    });

    it('refuses an X text over 280 weighted characters with a suggestion that, sent back as is, is accepted', async () => {
      // 23 per link on X whatever its length: this text is 250 characters but weighs more than 280 with its link.
      const body = `${'Nouvelle carte de printemps : asperges, agneau de lait et fraises du jardin. '.repeat(3)}Détails https://www.levieuxmoulin.fr/carte-printemps-2026 #printemps #vensac`;
      const request = { content: { body, hashtags: ['restaurant', 'gironde'] }, platforms: ['twitter', 'facebook'], scheduled_time: minuteFromNow(8 * DAY) };
      const response = await refused(request);
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('publication_invalid');
      expect(response.body.violations).toEqual([
        { platform: 'twitter', field: 'content.body', code: 'text_too_long', message: expect.stringContaining('X allows 280'), limit: 280, actual: expect.any(Number) },
      ]);
      expect(response.body.violations[0].actual).toBeGreaterThan(280);
      const suggestion = response.body.suggestion;
      expect(suggestion.platforms).toEqual(['twitter', 'facebook']);
      expect(suggestion.dropped_platforms).toEqual([]);

      const again = await t.call('POST', publish, { body: { ...request, content: suggestion.content, platforms: suggestion.platforms } });
      expect(again.status).toBe(202);
      accepted.push(again.body.publication_id);
      const stored = await read(t, again.body.publication_id, again.body.position);
      expect(stored.content).toEqual(suggestion.content);
    });

    it('refuses malformed JSON with 400 invalid_json', async () => {
      const response = await refused('{"content": {"body": "Ce soir"}, "platforms": ["facebook"');
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_json');
    });

    it('refuses unknown top-level fields with 400 naming them', async () => {
      const response = await refused({ ...valid(), publish_now: true });
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('validation_failed');
      expect(JSON.stringify(response.body.details)).toContain('publish_now');
    });

    it('refuses no platform, or one listed twice, with 422 naming platforms', async () => {
      const none = await refused({ ...valid(), platforms: [] });
      expect(none.status).toBe(422);
      expect(none.body.error).toBe('publication_has_no_platforms');
      expect(none.body.details).toEqual([{ path: 'platforms', message: expect.any(String) }]);
      const twice = await refused({ ...valid(), platforms: ['facebook', 'instagram', 'facebook'] });
      expect(twice.status).toBe(422);
      expect(twice.body.error).toBe('duplicate_platforms');
      expect(twice.body.details).toEqual([{ path: 'platforms.2', message: 'facebook is listed twice' }]);
    });

    it('refuses a second publication with an id already used, with 409, leaving the first as it was', async () => {
      const id = randomUUID();
      const first = await t.call('POST', publish, { body: { ...valid(), id } });
      expect(first.status).toBe(202);
      accepted.push(id);
      const again = await t.call('POST', publish, { body: { ...valid(), id, content: { body: 'Autre chose.', media_urls: [] }, platforms: ['facebook'] } });
      expect(again.status).toBe(409);
      expect(again.body.error).toBe('publication_already_exists');
      expect((await t.app.store.readStream(`publication-${id}`)).map((e) => e.type)).toEqual(['PublicationScheduled']);
    });

    it('refuses targeting with a radius but no location, naming targeting.radius', async () => {
      const response = await refused({ ...valid(), targeting: { radius: 20 } });
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('invalid_targeting');
      expect(response.body.details).toEqual([{ path: 'targeting.radius', message: expect.any(String) }]);
    });

    it('accepts a scheduled_time within the grace minute in the past', async () => {
      const response = await t.call('POST', publish, { body: { ...valid(), scheduled_time: new Date(Date.now() - 30_000).toISOString() } });
      expect(response.status).toBe(202);
      accepted.push(response.body.publication_id);
    });

    it('gives POST /publish/validate the same verdicts, 200 {valid, violations, suggestion}, scheduling nothing', async () => {
      const ok = await t.call('POST', validate, { body: valid() });
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ valid: true, violations: [], suggestion: null });

      const noMedia = await t.call('POST', validate, { body: { ...valid(), content: { ...valid().content, media_urls: [] } } });
      expect(noMedia.status).toBe(200);
      expect(noMedia.body.valid).toBe(false);
      expect(noMedia.body.violations).toEqual([expect.objectContaining({ platform: 'instagram', code: 'media_required' })]);
      expect(noMedia.body.suggestion).toMatchObject({ platforms: ['facebook'], dropped_platforms: [{ platform: 'instagram' }] });

      const long = await t.call('POST', validate, { body: { content: { body: 'Pizza '.repeat(60) }, platforms: ['twitter'] } });
      expect(long.status).toBe(200);
      expect(long.body).toMatchObject({ valid: false, violations: [{ platform: 'twitter', code: 'text_too_long', limit: 280 }] });
      const retried = await t.call('POST', validate, { body: { content: long.body.suggestion.content, platforms: long.body.suggestion.platforms } });
      expect(retried.body).toEqual({ valid: true, violations: [], suggestion: null });

      const verdicts: [Record<string, unknown> | string, number, string][] = [
        [{ ...valid(), platforms: ['myspace'] }, 400, 'validation_failed'],
        [{ ...valid(), scheduled_time: new Date(Date.now() - 5 * MINUTE).toISOString() }, 422, 'scheduled_time_in_past'],
        [{ ...valid(), content: { media_urls: ['javascript:alert(1)'] } }, 400, 'validation_failed'],
        [{ ...valid(), content: { body: '' }, platforms: ['facebook'] }, 422, 'publication_content_empty'],
        [{ ...valid(), platforms: ['linkedin'] }, 422, 'platform_not_configured'],
        ['{"content":', 400, 'invalid_json'],
        [{ ...valid(), publish_now: true }, 400, 'validation_failed'],
      ];
      for (const [body, status, error] of verdicts) {
        const response = await t.call('POST', validate, { body });
        expect(response.status, JSON.stringify(body)).toBe(status);
        expect(response.body.error).toBe(error);
      }
    });

    it('leaves the calendar with only the publications that were accepted', async () => {
      // A last write whose position the calendar waits for: everything before it is in the read model by then.
      const last = await t.call('POST', publish, { body: { ...valid(), scheduled_time: minuteFromNow(9 * DAY) } });
      expect(last.status).toBe(202);
      accepted.push(last.body.publication_id);
      const calendar = await t.call('GET', `${publications}?limit=500&min_position=${last.body.position}`);
      expect(calendar.status).toBe(200);
      expect(calendar.body.items.map((item: { publication_id: string }) => item.publication_id).sort()).toEqual([...accepted].sort());
    });
  });

  describe('slots', () => {
    let t: RunningApp;
    beforeAll(async () => {
      t = await startTestApp(database, {
        worker: false,
        platforms: platformsJson(doubles, ['facebook', 'instagram'], { instagram: { posts_per_24h: 2 }, facebook: { min_gap_minutes: 30 } }),
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    const photo = 'https://cdn.levieuxmoulin.fr/terrasse.jpg';

    it('moves a third Instagram publication within 24 h past the quota, and says so', async () => {
      const first = minuteFromNow(10 * DAY);
      const times = [first, shift(first, HOUR), shift(first, 2 * HOUR)];
      const answers = [];
      for (const [i, scheduled_time] of times.entries()) {
        const response = await t.call('POST', publish, {
          body: { content: { body: `La terrasse est ouverte, photo ${i + 1}.`, media_urls: [photo] }, platforms: ['instagram'], scheduled_time },
        });
        expect(response.status).toBe(202);
        answers.push(response.body);
      }
      expect(Date.parse(answers[0].scheduled_time)).toBe(Date.parse(times[0]!));
      expect(answers[0].rescheduled_reason).toBeNull();
      expect(Date.parse(answers[1].scheduled_time)).toBe(Date.parse(times[1]!));
      expect(answers[1].rescheduled_reason).toBeNull();

      // Two posts already sit in every 24 h window around the third: the first slot free is 24 h after the first post.
      const moved = shift(first, DAY);
      const third = answers[2];
      expect(Date.parse(third.scheduled_time)).toBe(Date.parse(moved));
      expect(third.rescheduled_reason).toContain('instagram quota of 2 posts per 24 h reached');

      expect((await read(t, third.publication_id, third.position)).scheduled_time).toBe(moved);
      const events = await t.app.store.readStream(`publication-${third.publication_id}`);
      expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PublicationRescheduled']);
      expect(events[0]!.data).toMatchObject({ scheduled_time: new Date(times[2]!).toISOString() });
      expect(events[1]!.data).toMatchObject({
        previous_time: new Date(times[2]!).toISOString(),
        scheduled_time: new Date(moved).toISOString(),
        reason: expect.stringContaining('instagram quota of 2 posts per 24 h reached'),
      });

      const calendar = await t.call('GET', `${publications}?platform=instagram&from=${shift(first, -HOUR)}&to=${shift(first, 2 * DAY)}&min_position=${third.position}`);
      expect(calendar.status).toBe(200);
      expect(calendar.body.items.map((item: { publication_id: string; scheduled_time: string }) => [item.publication_id, item.scheduled_time])).toEqual([
        [answers[0].publication_id, times[0]],
        [answers[1].publication_id, times[1]],
        [third.publication_id, moved],
      ]);
    });

    it('keeps the time of a higher-priority Facebook publication and moves the lower one by the minimum gap', async () => {
      const at = minuteFromNow(12 * DAY);
      const low = await t.call('POST', publish, {
        body: { content: { body: 'Rappel : le marché des producteurs a lieu dimanche.' }, platforms: ['facebook'], scheduled_time: at, priority: 10 },
      });
      expect(low.status).toBe(202);
      expect(Date.parse(low.body.scheduled_time)).toBe(Date.parse(at));

      const high = await t.call('POST', publish, {
        body: { content: { body: 'Complet ce soir : merci à tous, à demain !' }, platforms: ['facebook'], scheduled_time: at, priority: 90 },
      });
      expect(high.status).toBe(202);
      expect(Date.parse(high.body.scheduled_time)).toBe(Date.parse(at));
      expect(high.body.rescheduled_reason).toBeNull();

      const lowId: string = low.body.publication_id;
      const events = await t.app.store.readStream(`publication-${lowId}`);
      expect(events.map((e) => e.type)).toEqual(['PublicationScheduled', 'PublicationRescheduled']);
      const moved = shift(at, 30 * MINUTE);
      expect(events[1]!.data).toMatchObject({
        publication_id: lowId,
        previous_time: new Date(at).toISOString(),
        scheduled_time: new Date(moved).toISOString(),
        reason: expect.stringContaining('minimum gap of 30 min on facebook'),
      });
      expect((events[1]!.data as { reason: string }).reason).toContain(high.body.publication_id);

      // The move is appended after the request's own events, past the position the 202 answered: read at the move's.
      const position = formatPosition(events[1]!.position);
      expect((await read(t, lowId, position)).scheduled_time).toBe(moved);
      expect((await read(t, high.body.publication_id, position)).scheduled_time).toBe(at);
    });

    it('moves an equal-priority Facebook publication asked inside the gap, rather than the one already booked', async () => {
      const at = minuteFromNow(14 * DAY);
      const first = await t.call('POST', publish, { body: { content: { body: 'Brunch du dimanche : nouvelle formule.' }, platforms: ['facebook'], scheduled_time: at } });
      const second = await t.call('POST', publish, {
        body: { content: { body: 'Concert de jazz manouche vendredi.' }, platforms: ['facebook'], scheduled_time: shift(at, 10 * MINUTE) },
      });
      expect(Date.parse(first.body.scheduled_time)).toBe(Date.parse(at));
      expect(Date.parse(second.body.scheduled_time)).toBe(Date.parse(shift(at, 30 * MINUTE)));
      expect(second.body.rescheduled_reason).toContain('minimum gap of 30 min on facebook');
      expect((await t.app.store.readStream(`publication-${first.body.publication_id}`)).map((e) => e.type)).toEqual(['PublicationScheduled']);
    });

    it('moves a publication rescheduled into a full Instagram window, keeping the asked reason with the quota’s', async () => {
      const first = minuteFromNow(16 * DAY);
      for (const [i, scheduled_time] of [first, shift(first, HOUR)].entries()) {
        const response = await t.call('POST', publish, { body: { content: { body: `Nouveau dessert ${i + 1}.`, media_urls: [photo] }, platforms: ['instagram'], scheduled_time } });
        expect(response.body.rescheduled_reason).toBeNull();
      }
      const elsewhere = await t.call('POST', publish, {
        body: { content: { body: 'Soirée crêpes pour la Chandeleur.', media_urls: [photo] }, platforms: ['instagram'], scheduled_time: shift(first, 5 * DAY) },
      });
      const id: string = elsewhere.body.publication_id;

      const moved = await t.call('POST', `${publications}/${id}/reschedule`, { body: { scheduled_time: shift(first, 2 * HOUR), reason: 'avancée à la demande du chef' } });
      expect(moved.status).toBe(200);
      expect(Date.parse(moved.body.scheduled_time)).toBe(Date.parse(shift(first, DAY)));
      expect(moved.body.rescheduled_reason).toContain('instagram quota of 2 posts per 24 h reached');
      expect((await read(t, id, moved.body.position)).scheduled_time).toBe(shift(first, DAY));
      const [, rescheduled] = await t.app.store.readStream(`publication-${id}`);
      expect((rescheduled?.data as { reason: string }).reason).toMatch(/^avancée à la demande du chef; instagram quota of 2 posts per 24 h reached/);
    });

    it('frees the slot of a canceled publication at once: its replacement at the same time keeps that time', async () => {
      // Cancel a post and schedule the corrected version for the same time: the canceled one holds no slot any more.
      const at = minuteFromNow(18 * DAY);
      const wrong = await t.call('POST', publish, { body: { content: { body: 'Menu du réveillon à 65 €.' }, platforms: ['facebook'], scheduled_time: at } });
      expect(wrong.status).toBe(202);
      const canceled = await t.call('POST', `${publications}/${wrong.body.publication_id}/cancel`, { body: { reason: 'mauvais prix' } });
      expect(canceled.status).toBe(200);
      // The schedule read model the booker reads already has the cancellation: only the booker itself can still see the slot taken.
      expect(await t.app.positions.waitFor('publication-schedule', parsePosition(canceled.body.position)!, 5_000)).toBe(true);

      const corrected = await t.call('POST', publish, { body: { content: { body: 'Menu du réveillon à 56 €.' }, platforms: ['facebook'], scheduled_time: at } });
      expect(corrected.status).toBe(202);
      expect(corrected.body.rescheduled_reason, 'the canceled publication still holds the slot').toBeNull();
      expect(Date.parse(corrected.body.scheduled_time)).toBe(Date.parse(at));
    });
  });
});
