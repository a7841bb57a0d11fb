import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { guardedLookup, guardedRequestOptions } from '../../../src/infrastructure/http/guarded-agents.js';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import { checkOutboundUrl, outboundRefusalOf, type Resolve, type ResolvedAddress } from '../../../src/infrastructure/http/outbound-guard.js';

const asAddress = (address: string): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 });

/** Names that exist only here; every answer is recorded, and `answers` may change them between two lookups. */
function fakeDns(answers: Record<string, string[][]>) {
  const asked: string[] = [];
  const resolve: Resolve = async (hostname) => {
    asked.push(hostname);
    const queue = answers[hostname];
    const next = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
    if (!next) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return next.map(asAddress);
  };
  return { resolve, asked };
}

async function refusedBy(request: Promise<unknown>) {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  const refusal = outboundRefusalOf(error);
  expect(refusal, String(error)).not.toBeNull();
  return refusal!;
}

describe('guarded agents (DNS pinned to checked addresses)', () => {
  let server: Server;
  let port: number;
  const paths: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      paths.push(request.url ?? '');
      const redirect = /^\/redirect\?to=(.*)$/.exec(request.url ?? '')?.[1];
      if (redirect) response.writeHead(302, { location: decodeURIComponent(redirect) }).end();
      else response.writeHead(200, { 'content-type': 'text/plain' }).end('internal data');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    paths.length = 0;
  });

  it('connects to the address it checked, not to what the system DNS says', async () => {
    // pinned.test exists nowhere but in this resolver: reaching the server proves the connection used it.
    const { resolve } = fakeDns({ 'pinned.test': [['127.0.0.1']] });
    const response = await axios.get(`http://pinned.test:${port}/ok`, { ...guardedRequestOptions(OutboundAllowlist.parse('127.0.0.1'), resolve), responseType: 'text' });
    expect(response.data).toBe('internal data');
    expect(paths).toEqual(['/ok']);
  });

  it('refuses a name that resolves to a private address, before anything is sent', async () => {
    const { resolve } = fakeDns({ 'internal.test': [['127.0.0.1']] });
    const refusal = await refusedBy(axios.get(`http://internal.test:${port}/`, guardedRequestOptions(OutboundAllowlist.none, resolve)));
    expect(refusal.reason).toContain('internal.test resolves to 127.0.0.1, a loopback address');
    expect(paths).toEqual([]);
  });

  it('defeats DNS rebinding: public to the check, loopback to the connection', async () => {
    const { resolve, asked } = fakeDns({ 'rebind.test': [['93.184.216.34'], ['127.0.0.1']] });
    const url = `http://rebind.test:${port}/latest/meta-data/`;
    await checkOutboundUrl(url, { allowlist: OutboundAllowlist.none, resolve });
    const refusal = await refusedBy(axios.get(url, guardedRequestOptions(OutboundAllowlist.none, resolve)));
    expect(refusal.kind).toBe('blocked_address');
    expect(asked).toEqual(['rebind.test', 'rebind.test']);
    expect(paths).toEqual([]);
  });

  it('checks redirects: to an IP literal (no DNS involved) and to a name resolving inside', async () => {
    const { resolve } = fakeDns({ 'entry.test': [['127.0.0.1']], 'inside.test': [['10.0.0.8']] });
    // entry.test is trusted by name; where it redirects to is not.
    const options = { ...guardedRequestOptions(OutboundAllowlist.parse('entry.test'), resolve), maxRedirects: 3 };
    const toLiteral = `http://entry.test:${port}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${port}/secret`)}`;
    expect((await refusedBy(axios.get(toLiteral, options))).reason).toContain('127.0.0.1, a loopback address');
    const toName = `http://entry.test:${port}/redirect?to=${encodeURIComponent(`http://inside.test:${port}/secret`)}`;
    expect((await refusedBy(axios.get(toName, options))).reason).toContain('inside.test resolves to 10.0.0.8');
    expect(paths.filter((p) => p === '/secret')).toEqual([]);
  });

  it('answers lookups as net.connect asks: one address, all of them, or one family', async () => {
    const { resolve } = fakeDns({ 'dual.test': [['93.184.216.34', '2606:2800:220:1::1']] });
    const lookup = guardedLookup(OutboundAllowlist.none, resolve);
    const ask = (options: object) =>
      new Promise<unknown[]>((done) => lookup('dual.test', options, (error, address, family) => done([error, address, family])));
    expect(await ask({})).toEqual([null, '93.184.216.34', 4]);
    expect(await ask({ all: true })).toEqual([null, [asAddress('93.184.216.34'), asAddress('2606:2800:220:1::1')], undefined]);
    expect(await ask({ family: 6 })).toEqual([null, '2606:2800:220:1::1', 6]);
    const [missing] = await lookupOf('v6only.test', { 'v6only.test': [['2606:2800:220:1::1']] }, { family: 4 });
    expect(outboundRefusalOf(missing)?.kind).toBe('unresolvable');
  });
});

function lookupOf(host: string, answers: Record<string, string[][]>, options: object): Promise<unknown[]> {
  const lookup = guardedLookup(OutboundAllowlist.none, fakeDns(answers).resolve);
  return new Promise((done) => lookup(host, options, (error, address) => done([error, address])));
}
