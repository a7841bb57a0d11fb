import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHandler } from '../../src/commands/command-handler.js';
import {
  publicationDecider,
  publicationEvents,
  publicationRequestSchema,
  type Platform,
  type PublicationCommand,
  type PublicationEvent,
  type PublicationState,
} from '../../src/domain/publication.js';
import { formatPosition } from '../../src/infrastructure/event-store/event-store.js';
import { parsePublicationId, platformPublicationId } from '../../src/projections/publications/publication-ids.js';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

const base = '/api/communication/publications';
/** When the publications are requested: the decider takes its clock from the command, so past dates are fine. */
const NOW = '2025-01-01T08:00:00.000Z';
const plus = (iso: string, seconds: number): string => new Date(Date.parse(iso) + seconds * 1_000).toISOString();

describe('per-platform publication ids', () => {
  const id = '0b7e6f4e-3c1a-4d2b-9e8f-7a6b5c4d3e2f';

  it('prefixes the uuid with the platform and reads it back', () => {
    expect(platformPublicationId('facebook', id)).toBe(`fb_${id}`);
    expect(platformPublicationId('google_business', id)).toBe(`gbp_${id}`);
    expect(parsePublicationId(`x_${id}`)).toEqual({ publicationId: id, platform: 'twitter' });
    expect(parsePublicationId(`LI_${id.toUpperCase()}`)).toEqual({ publicationId: id, platform: 'linkedin' });
    expect(parsePublicationId(id)).toEqual({ publicationId: id, platform: null });
  });

  it('refuses an unknown prefix or anything that is not a uuid', () => {
    for (const text of [`tt_${id}`, 'fb_12345', 'fb_', '', `${id}x`, `_${id}`]) expect(parsePublicationId(text)).toBeNull();
  });
});

describe.each(testDatabases())('publication query API on $name', (database) => {
  let t: RunningApp;
  let handler: CommandHandler<PublicationCommand, PublicationEvent, PublicationState>;
  beforeAll(async () => {
    // No worker: the publications stay as these tests leave them.
    t = await startTestApp(database, { worker: false });
    handler = new CommandHandler(t.app.store, publicationDecider, publicationEvents);
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  /** Appends one command to a publication's stream; returns the position to read it back at. */
  const run = async (command: PublicationCommand, creates = false): Promise<string> => {
    const context = { correlationId: 'test', causationId: 'test', actor: 'test', now: new Date(command.now) };
    const result = await handler.handle(`publication-${command.publication_id}`, command, context, { creates });
    return formatPosition(result.position!);
  };
  const schedule = async (scheduled_time: string, platforms: Platform[], extra: Record<string, unknown> = {}) => {
    const publication_id = randomUUID();
    const request = publicationRequestSchema.parse({
      content: { title: 'Promotion du jour', body: 'Profitez de notre offre spéciale sur les pizzas !', hashtags: ['pizza'] },
      platforms,
      scheduled_time,
      ...extra,
    });
    return { publication_id, position: await run({ type: 'SchedulePublication', publication_id, request, now: NOW }, true) };
  };

  it('shows one publication by its uuid and by a per-platform id, with each platform', async () => {
    const { publication_id } = await schedule('2025-04-20T18:30:00Z', ['facebook', 'instagram'], {
      targeting: { location: 'Vensac', radius: 20, age_range: [18, 65] },
    });
    const due = '2025-04-20T18:30:05.000Z';
    await run({ type: 'StartPlatformPublishing', publication_id, platform: 'facebook', attempt_id: 'a1', now: due });
    await run({ type: 'RecordPlatformPublished', publication_id, platform: 'facebook', attempt_id: 'a1', post_id: '1234_5678', post_url: 'https://facebook.com/1234_5678', now: plus(due, 2) });
    await run({ type: 'StartPlatformPublishing', publication_id, platform: 'instagram', attempt_id: 'b1', now: due });
    const position = await run({ type: 'RecordPlatformFailed', publication_id, platform: 'instagram', attempt_id: 'b1', error_class: 'transient', message: 'HTTP 503', retryable: true, now: plus(due, 3) });

    const read = await t.call('GET', `${base}/${publication_id}?min_position=${position}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('x-read-position')).toMatch(/^\d+\.\d+$/);
    expect(read.body).toEqual({
      publication_id,
      platform: null,
      status: 'publishing',
      scheduled_time: '2025-04-20T18:30:00Z',
      scheduled_time_local: '2025-04-20T20:30:00+02:00',
      content: { title: 'Promotion du jour', body: 'Profitez de notre offre spéciale sur les pizzas !', media_urls: [], hashtags: ['pizza'] },
      targeting: { location: 'Vensac', radius: 20, age_range: [18, 65] },
      campaign_id: null,
      priority: 50,
      publication_ids: { facebook: `fb_${publication_id}`, instagram: `ig_${publication_id}` },
      platforms: {
        facebook: {
          status: 'published',
          attempts: 1,
          started_at: '2025-04-20T18:30:05Z',
          next_attempt_at: null,
          post_id: '1234_5678',
          post_url: 'https://facebook.com/1234_5678',
          published_at: '2025-04-20T18:30:07Z',
          error: null,
        },
        instagram: {
          status: 'scheduled',
          attempts: 1,
          started_at: '2025-04-20T18:30:05Z',
          next_attempt_at: '2025-04-20T18:31:08Z',
          post_id: null,
          post_url: null,
          published_at: null,
          error: { class: 'transient', message: 'HTTP 503', at: '2025-04-20T18:30:08Z' },
        },
      },
      requested_at: '2025-01-01T08:00:00Z',
      canceled_at: null,
      cancel_reason: null,
    });

    const byPlatformId = await t.call('GET', `${base}/fb_${publication_id}`);
    expect(byPlatformId.status).toBe(200);
    expect(byPlatformId.body).toEqual({ ...read.body, platform: 'facebook' });
  });

  it('answers 404 for an unknown publication or a platform it is not for, 400 for a malformed id', async () => {
    const { publication_id, position } = await schedule('2025-05-01T10:00:00Z', ['facebook']);
    const unknown = await t.call('GET', `${base}/${randomUUID()}?min_position=${position}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('publication_not_found');
    expect((await t.call('GET', `${base}/li_${publication_id}`)).body.error).toBe('publication_not_found');
    for (const id of ['nope', 'fb_12345', `tt_${publication_id}`]) {
      const bad = await t.call('GET', `${base}/${id}`);
      expect(bad.status).toBe(400);
      expect(bad.body.details).toEqual([{ path: 'params.id', message: expect.stringContaining('uuid') }]);
    }
  });

  it('shows a canceled publication with its reason and local time in winter', async () => {
    const { publication_id } = await schedule('2025-01-15T18:30:00Z', ['twitter', 'linkedin']);
    const canceled = await run({ type: 'CancelPublication', publication_id, reason: 'fermeture exceptionnelle', now: plus(NOW, 60) });
    const read = await t.call('GET', `${base}/x_${publication_id}?min_position=${canceled}`);
    expect(read.body).toMatchObject({
      status: 'canceled',
      platform: 'twitter',
      scheduled_time_local: '2025-01-15T19:30:00+01:00',
      canceled_at: '2025-01-01T08:01:00Z',
      cancel_reason: 'fermeture exceptionnelle',
      platforms: { twitter: { status: 'canceled' }, linkedin: { status: 'canceled' } },
    });
  });

  it('lists the calendar of a period by scheduled time, with filters and pagination', async () => {
    const campaign_id = randomUUID();
    const inCampaign = { campaign_id };
    // Two at the same time: the id orders them.
    const made = await Promise.all([
      schedule('2025-06-01T08:00:00Z', ['facebook'], inCampaign),
      schedule('2025-06-03T08:00:00Z', ['instagram'], inCampaign),
      schedule('2025-06-02T08:00:00Z', ['facebook', 'instagram'], inCampaign),
      schedule('2025-06-02T08:00:00Z', ['facebook', 'linkedin'], inCampaign),
      schedule('2025-06-04T08:00:00Z', ['facebook'], inCampaign),
      schedule('2025-07-01T08:00:00Z', ['facebook'], inCampaign),
      schedule('2025-06-02T09:00:00Z', ['facebook']),
    ]);
    const canceled = made[4]!.publication_id;
    const position = await run({ type: 'CancelPublication', publication_id: canceled, now: NOW });
    const [first, third, second, secondToo, , july, otherCampaign] = made.map((m) => m.publication_id);
    const sameTime = [second!, secondToo!].sort();
    const june = `from=2025-06-01T00:00:00%2B02:00&to=2025-07-01T00:00:00%2B02:00&campaign_id=${campaign_id}&min_position=${position}`;

    const all = await t.call('GET', `${base}?${june}`);
    expect(all.status).toBe(200);
    expect(all.headers.get('x-read-position')).toMatch(/^\d+\.\d+$/);
    expect(all.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([first, ...sameTime, third, canceled]);
    expect(all.body.next_cursor).toBeNull();
    expect(all.body.items[0]).toMatchObject({ status: 'scheduled', campaign_id, publication_ids: { facebook: `fb_${first}` }, platform: null });

    const pages: string[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await t.call('GET', `${base}?${june}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      pages.push(page.body.items.map((p: { publication_id: string }) => p.publication_id));
      cursor = page.body.next_cursor;
    }
    expect(pages).toEqual([[first, sameTime[0]], [sameTime[1], third], [canceled]]);

    const facebook = await t.call('GET', `${base}?${june}&platform=facebook`);
    expect(facebook.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([first, ...sameTime, canceled]);
    expect(facebook.body.items.every((p: { platform: string }) => p.platform === 'facebook')).toBe(true);
    const facebookPages = await t.call('GET', `${base}?${june}&platform=facebook&limit=3`);
    expect(facebookPages.body.items).toHaveLength(3);
    const rest = await t.call('GET', `${base}?${june}&platform=facebook&limit=3&cursor=${facebookPages.body.next_cursor}`);
    expect(rest.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([canceled]);

    const scheduledOnly = await t.call('GET', `${base}?${june}&status=scheduled`);
    expect(scheduledOnly.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([first, ...sameTime, third]);
    const linkedinCanceled = await t.call('GET', `${base}?${june}&platform=linkedin&status=canceled,failed`);
    expect(linkedinCanceled.body.items).toEqual([]);

    // A "+" sent unencoded arrives as a space; the period is still read with its offset.
    const plain = await t.call('GET', `${base}?from=2025-06-02T10:00:00 02:00&to=2025-06-02T11:00:00+02:00&min_position=${position}`);
    expect(plain.status).toBe(200);
    expect(plain.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([...sameTime]);
    const unfiltered = await t.call('GET', `${base}?from=2025-06-02T00:00:00Z&to=2025-06-03T00:00:00Z`);
    expect(unfiltered.body.items.map((p: { publication_id: string }) => p.publication_id)).toEqual([...sameTime, otherCampaign]);
    expect(july).toBeDefined();
  });

  it('names the field of a bad period, filter or page (400)', async () => {
    const cases: [string, string][] = [
      ['from=2025-06-01T00:00:00Z', 'querystring.to'],
      ['to=2025-06-01T00:00:00Z', 'querystring.from'],
      ['from=2025-06-02T00:00:00Z&to=2025-06-01T00:00:00Z', 'querystring.to'],
      ['from=2025-06-01T00:00:00Z&to=2025-06-01T00:00:00Z', 'querystring.to'],
      ['from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:01Z', 'querystring.to'],
      ['from=yesterday&to=2025-06-01T00:00:00Z', 'querystring.from'],
      ['platform=myspace', 'querystring.platform'],
      ['status=draft', 'querystring.status'],
      ['campaign_id=42', 'querystring.campaign_id'],
      ['limit=501', 'querystring.limit'],
      ['limit=0', 'querystring.limit'],
      ['cursor=bm9wZQ', 'querystring.cursor'],
    ];
    for (const [query, path] of cases) {
      const response = await t.call('GET', `${base}?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.details.map((d: { path: string }) => d.path), query).toContain(path);
    }
    const year = await t.call('GET', `${base}?from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`);
    expect(year.status).toBe(200);
  });

  it('needs the publications:read scope', async () => {
    const key = await t.keyWith(['notifications:read']);
    expect((await t.call('GET', `${base}?limit=1`, { key })).status).toBe(403);
    const reader = await t.keyWith(['publications:read']);
    expect((await t.call('GET', `${base}?limit=1`, { key: reader })).status).toBe(200);
  });
});
