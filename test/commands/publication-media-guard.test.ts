import { randomUUID } from 'node:crypto';
import type * as dns from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testDatabases } from '../support/databases.js';
import { startTestApp, type RunningApp } from '../support/test-app.js';

/**
 * Platforms fetch media from the internet, and the X and LinkedIn connectors download it from here: a media URL must
 * point at a public host, or POST /publish refuses it up front. (IP literals and single-label hosts such as localhost
 * never get this far: the body schema wants a domain name.)
 */

/** The DNS as a host on a cloud network would answer it: some names lead inside. */
const dnsAnswers: Record<string, string> = {
  'cdn.levieuxmoulin.fr': '93.184.216.34',
  'metadata.restaurant.test': '169.254.169.254',
  'intranet.restaurant.test': '10.0.0.3',
  'mapped.restaurant.test': '::ffff:127.0.0.1',
};
vi.mock('node:dns/promises', async (original) => ({
  ...(await original<typeof dns>()),
  lookup: async (hostname: string) => {
    const address = dnsAnswers[hostname];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: address.includes(':') ? 6 : 4 }];
  },
}));

const publish = '/api/communication/publish';
const validate = '/api/communication/publish/validate';

describe.each(testDatabases())('media URLs must be public, on $name', (database) => {
  let t: RunningApp;
  beforeAll(async () => {
    t = await startTestApp(database, {
      // No worker: nothing is published, the connector's address is never called.
      worker: false,
      platforms: { facebook: { page_id: '104857600', access_token: 'EAAG-media-guard', api_version: 'v18.0', base_url: 'http://127.0.0.1:9' } },
      env: { COMM_OUTBOUND_ALLOWLIST: '' },
    });
  });
  afterAll(async () => {
    await t.close();
    await database.cleanup();
  });

  const body = (media_urls: string[], id?: string) => ({
    ...(id ? { id } : {}),
    content: { body: 'Le plat du jour au Vieux Moulin.', media_urls },
    platforms: ['facebook'],
  });

  it('refuses private and unresolvable media hosts with 422 naming each content.media_urls.<i>, and schedules nothing', async () => {
    const id = randomUUID();
    const media = [
      'https://cdn.levieuxmoulin.fr/ok.jpg',
      'http://metadata.restaurant.test/latest/meta-data/photo.jpg',
      'http://mapped.restaurant.test:3000/a.png',
      'https://photos.invalid/b.jpg',
    ];
    const refused = await t.call('POST', publish, { body: body(media, id) });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: 'media_url_refused', message: expect.any(String) });
    expect(refused.body.details).toEqual([
      { path: 'content.media_urls.1', message: expect.stringContaining('metadata.restaurant.test resolves to 169.254.169.254, a link-local') },
      { path: 'content.media_urls.2', message: expect.stringContaining('loopback') },
      { path: 'content.media_urls.3', message: 'photos.invalid does not resolve (ENOTFOUND)' },
    ]);
    // The same id is free: the refused request recorded nothing.
    expect((await t.call('POST', publish, { body: body(['https://cdn.levieuxmoulin.fr/ok.jpg'], id) })).status).toBe(202);
  });

  it('answers the dry run the same way', async () => {
    const refused = await t.call('POST', validate, { body: body(['https://intranet.restaurant.test/menu.jpg']) });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ error: 'media_url_refused', details: [{ path: 'content.media_urls.0', message: expect.stringContaining('private') }] });
    expect((await t.call('POST', validate, { body: body(['https://cdn.levieuxmoulin.fr/menu.jpg']) })).body.valid).toBe(true);
  });
});
