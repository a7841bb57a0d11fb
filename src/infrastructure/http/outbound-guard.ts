import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { blockedRangeOf } from './blocked-addresses.js';
import { normalizeHost, type OutboundAllowlist } from './outbound-allowlist.js';

/**
 * The check every request made to a URL a user gave goes through (webhook receivers, media to download): the service
 * must not become a way into the network it runs in (SSRF). Only http(s) without credentials, and only to public
 * addresses, unless COMM_OUTBOUND_ALLOWLIST names the host or the address.
 */

export type OutboundRefusalKind = 'scheme' | 'credentials' | 'blocked_address' | 'unresolvable';

export class OutboundRefusedError extends Error {
  /** Node-style, so that HTTP clients that wrap it (axios) still show where it came from. */
  readonly code = 'ERR_OUTBOUND_REFUSED';

  constructor(
    readonly kind: OutboundRefusalKind,
    /** Says why without the URL itself, which may carry signed query strings. */
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'OutboundRefusedError';
  }

  /** A host that does not resolve may resolve later; the other refusals give the same answer every time. */
  get retryable(): boolean {
    return this.kind === 'unresolvable';
  }
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** dns.lookup with all: true; tests replace it to play a host that resolves to chosen addresses. */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export interface OutboundCheckOptions {
  allowlist: OutboundAllowlist;
  resolve?: Resolve;
}

/** Resolves when the URL may be requested; otherwise rejects with an OutboundRefusedError saying why. */
export async function checkOutboundUrl(url: string, options: OutboundCheckOptions): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OutboundRefusedError('scheme', 'not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new OutboundRefusedError('scheme', `${parsed.protocol} URLs are not allowed: only http and https`);
  if (parsed.username || parsed.password) throw new OutboundRefusedError('credentials', 'the URL must not carry credentials');
  const host = normalizeHost(parsed.hostname);
  if (options.allowlist.allowsHost(host)) return;
  if (isIP(host)) {
    checkOutboundAddress(host, host, options.allowlist);
    return;
  }
  checkResolvedAddresses(host, await resolveOrRefuse(host, options.resolve ?? systemResolve), options.allowlist);
}

/** Refuses when the address is in a blocked range and not allowlisted; `host` only names it in the reason. */
export function checkOutboundAddress(host: string, address: string, allowlist: OutboundAllowlist): void {
  if (allowlist.allowsAddress(address)) return;
  const blocked = blockedRangeOf(address);
  if (!blocked) return;
  const what = host === address ? address : `${host} resolves to ${address}`;
  throw new OutboundRefusedError('blocked_address', `${what}, a ${blocked} address: only public addresses may be reached unless COMM_OUTBOUND_ALLOWLIST names it`);
}

/**
 * Every address must be public: the connection may use any of them, and a host that mixes a public address with a
 * private one is exactly what an attack would look like.
 */
export function checkResolvedAddresses(host: string, addresses: readonly ResolvedAddress[], allowlist: OutboundAllowlist): void {
  if (allowlist.allowsHost(host)) return;
  for (const { address } of addresses) checkOutboundAddress(host, address, allowlist);
}

export async function resolveOrRefuse(host: string, resolve: Resolve): Promise<ResolvedAddress[]> {
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    throw new OutboundRefusedError('unresolvable', `${host} does not resolve${code ? ` (${code})` : ''}`);
  }
  if (addresses.length === 0) throw new OutboundRefusedError('unresolvable', `${host} does not resolve`);
  return addresses;
}

/** The refusal behind an error, however deep HTTP clients wrapped it (axios, follow-redirects): null if none. */
export function outboundRefusalOf(error: unknown): OutboundRefusedError | null {
  for (let current = error, depth = 0; current && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    if (current instanceof OutboundRefusedError) return current;
  }
  return null;
}
