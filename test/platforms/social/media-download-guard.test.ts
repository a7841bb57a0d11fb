import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import type { OutboundCheckOptions, Resolve } from '../../../src/infrastructure/http/outbound-guard.js';
import { PlatformError, type SocialConnector, type SocialPost } from '../../../src/platforms/social/connector.js';
import { createLinkedInConnector } from '../../../src/platforms/social/linkedin.js';
import { createXConnector } from '../../../src/platforms/social/x.js';

/**
 * X and LinkedIn do not fetch media URLs: the connectors download the file themselves, so a media URL leading inside
 * the network (or redirecting there, or resolving there at connection time) must be refused before any byte is read.
 * Every refusal happens before the platform's API is called: its address here answers nothing.
 */

const nowhere = 'http://127.0.0.1:9';
const connectors: Array<[string, (outbound?: OutboundCheckOptions) => SocialConnector]> = [
  ['X', (outbound) => createXConnector({ access_token: 'x-bearer-token', base_url: nowhere }, { outbound })],
  ['LinkedIn', (outbound) => createLinkedInConnector({ organization_id: '2414183', access_token: 'AQV-token', base_url: nowhere }, { outbound })],
];

/** Names that exist only here; a name with several answers gives them in turn (the last one stays). */
function fakeDns(answers: Record<string, string[]>): Resolve {
  return async (hostname) => {
    const queue = answers[hostname];
    const address = queue && queue.length > 1 ? queue.shift() : queue?.[0];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address, family: 4 }];
  };
}

async function refusal(publishing: Promise<unknown>): Promise<PlatformError> {
  const error = await publishing.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PlatformError);
  return error as PlatformError;
}

describe.each(connectors)('%s media downloads reach public hosts only', (_, connector) => {
  let media: Server;
  let port: number;
  const served: string[] = [];

  beforeAll(async () => {
    media = createServer((request, response) => {
      served.push(request.url ?? '');
      const to = /^\/redirect\?to=(.*)$/.exec(request.url ?? '')?.[1];
      if (to) response.writeHead(302, { location: decodeURIComponent(to) }).end();
      else response.writeHead(200, { 'content-type': 'image/jpeg' }).end(Buffer.alloc(64, 1));
    });
    await new Promise<void>((resolve) => media.listen(0, '127.0.0.1', resolve));
    port = (media.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => media.close(() => resolve()));
  });
  beforeEach(() => {
    served.length = 0;
  });

  const post = (url: string): SocialPost => ({ publicationId: 'pub-1', attemptId: 'att-1', title: 'Plat du jour', text: 'Le plat du jour.', mediaUrls: [url] });

  it('refuses a media URL on a private address (the default: no allowlist), as permanent', async () => {
    const error = await refusal(connector().publish(post(`http://127.0.0.1:${port}/photo.jpg`)));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toMatch(/media 1 could not be downloaded \(127\.0\.0\.1, a loopback address/);
    expect(served).toEqual([]);
  });

  it('refuses a redirect from an allowed host to a private address', async () => {
    const outbound = { allowlist: OutboundAllowlist.parse('media.test'), resolve: fakeDns({ 'media.test': ['127.0.0.1'] }) };
    const url = `http://media.test:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${port}/secret.jpg`)}`;
    const error = await refusal(connector(outbound).publish(post(url)));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toContain('loopback');
    expect(served).toEqual([expect.stringMatching(/^\/redirect/)]);
  });

  it('refuses a host that answers a public address to the check and a private one to the connection', async () => {
    const outbound = { allowlist: OutboundAllowlist.none, resolve: fakeDns({ 'rebind.test': ['93.184.216.34', '127.0.0.1'] }) };
    const error = await refusal(connector(outbound).publish(post(`http://rebind.test:${port}/photo.jpg`)));
    expect(error.errorClass).toBe('permanent');
    expect(error.message).toContain('rebind.test resolves to 127.0.0.1');
    expect(served).toEqual([]);
  });

  it('reports a media host that does not resolve as transient (DNS may come back)', async () => {
    const error = await refusal(connector().publish(post('https://photos.invalid/a.jpg')));
    expect(error.errorClass).toBe('transient');
    expect(error.message).toContain('photos.invalid does not resolve');
  });
});
