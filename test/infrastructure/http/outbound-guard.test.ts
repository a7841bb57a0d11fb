import { describe, expect, it } from 'vitest';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';
import { checkOutboundUrl, OutboundRefusedError, outboundRefusalOf, type Resolve } from '../../../src/infrastructure/http/outbound-guard.js';

/** A DNS that knows a few names; anything else does not resolve. */
function dns(table: Record<string, string[]>): Resolve {
  return async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

const resolve = dns({
  'public.example': ['93.184.216.34', '2606:2800:220:1::1'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.216.34', '10.0.0.5'],
  'mapped.example': ['::ffff:127.0.0.1'],
  'office.example': ['192.168.1.7'],
});

async function refusal(url: string, allowlist = OutboundAllowlist.none): Promise<OutboundRefusedError> {
  const error = await checkOutboundUrl(url, { allowlist, resolve }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, url).toBeInstanceOf(OutboundRefusedError);
  return error as OutboundRefusedError;
}

describe('outbound URL check', () => {
  it('lets public http(s) URLs through', async () => {
    await expect(checkOutboundUrl('https://public.example/hooks?sig=abc', { allowlist: OutboundAllowlist.none, resolve })).resolves.toBeUndefined();
    await expect(checkOutboundUrl('http://93.184.216.34:8080/x', { allowlist: OutboundAllowlist.none, resolve })).resolves.toBeUndefined();
    await expect(checkOutboundUrl('https://[2606:4700::1111]/x', { allowlist: OutboundAllowlist.none, resolve })).resolves.toBeUndefined();
  });

  it.each(['ftp://public.example/a.jpg', 'file:///etc/passwd', 'javascript:alert(1)', 'gopher://public.example:70/', 'not a url'])('refuses %s by its scheme', async (url) => {
    expect((await refusal(url)).kind).toBe('scheme');
  });

  it('refuses credentials in the URL', async () => {
    const error = await refusal('https://user:secret@public.example/hooks');
    expect(error.kind).toBe('credentials');
    expect(error.message).not.toContain('secret');
  });

  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.0.0.1/', 'loopback'],
    ['http://[::1]:8080/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.20.0.1/', 'private'],
    ['http://192.168.0.1/', 'private'],
    ['http://[fd00::1]/', 'private'],
    ['http://0.0.0.0:3000/', 'unspecified'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://100.64.1.1/', 'carrier-grade NAT'],
  ])('refuses %s (%s)', async (url, range) => {
    const error = await refusal(url);
    expect(error.kind).toBe('blocked_address');
    expect(error.reason).toContain(range);
    expect(error.retryable).toBe(false);
  });

  it('resolves names and refuses any private answer, naming the host and the address', async () => {
    expect((await refusal('http://metadata.example/')).reason).toMatch(/^metadata\.example resolves to 169\.254\.169\.254, a link-local/);
    expect((await refusal('https://mixed.example/')).reason).toContain('10.0.0.5');
    expect((await refusal('https://mapped.example/')).reason).toContain('loopback');
  });

  it('refuses a host that does not resolve, as retryable', async () => {
    const error = await refusal('https://cdn.example/a.jpg');
    expect(error).toMatchObject({ kind: 'unresolvable', reason: 'cdn.example does not resolve (ENOTFOUND)' });
    expect(error.retryable).toBe(true);
  });

  it('lets through what the allowlist names: a host without resolving it, an address, a subnet', async () => {
    const allowlist = OutboundAllowlist.parse('cdn.example,127.0.0.1,192.168.1.0/24,::1');
    for (const url of ['https://cdn.example/a.jpg', 'http://127.0.0.1:9000/', 'http://office.example/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/']) {
      await expect(checkOutboundUrl(url, { allowlist, resolve }), url).resolves.toBeUndefined();
    }
    expect((await refusal('http://127.0.0.2/', allowlist)).kind).toBe('blocked_address');
    expect((await refusal('http://metadata.example/', allowlist)).kind).toBe('blocked_address');
  });

  it('finds a refusal wrapped as a cause, as HTTP clients do', () => {
    const refused = new OutboundRefusedError('blocked_address', 'no');
    expect(outboundRefusalOf(new Error('outer', { cause: new Error('middle', { cause: refused }) }))).toBe(refused);
    expect(outboundRefusalOf(new Error('plain'))).toBeNull();
    expect(outboundRefusalOf(undefined)).toBeNull();
  });
});
