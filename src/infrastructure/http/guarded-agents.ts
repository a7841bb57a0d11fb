import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { OutboundAllowlist } from './outbound-allowlist.js';
import { normalizeHost } from './outbound-allowlist.js';
import { checkResolvedAddresses, checkOutboundAddress, OutboundRefusedError, resolveOrRefuse, systemResolve, type Resolve } from './outbound-guard.js';

/**
 * Checking a URL before requesting it is not enough: the host's DNS may answer a public address to the check and
 * 127.0.0.1 to the connection a moment later (DNS rebinding). These agents resolve the name themselves, check every
 * address, and connect to the addresses they checked.
 */

/** A `lookup` for http(s).Agent / net.connect that refuses blocked addresses (an OutboundRefusedError). */
export function guardedLookup(allowlist: OutboundAllowlist, resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    const host = normalizeHost(hostname);
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const checked = resolveOrRefuse(host, resolve).then((addresses) => {
      checkResolvedAddresses(host, addresses, allowlist);
      const usable = family ? addresses.filter((a) => a.family === family) : addresses;
      if (usable.length === 0) throw new OutboundRefusedError('unresolvable', `${host} has no IPv${family} address`);
      return usable;
    });
    // Two handlers rather than then/catch: the callback is called once, even if it throws.
    checked.then(
      (usable) => (options.all ? callback(null, usable) : callback(null, usable[0]!.address, usable[0]!.family)),
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

/** What to spread into an axios request config so that it, and any redirect it follows, goes through the guard. */
export interface GuardedRequestOptions {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  /** A proxy would resolve the names where they cannot be checked: guarded requests connect directly. */
  proxy: false;
  /** Node connects to an IP literal without any lookup: a redirect to one is checked here. */
  beforeRedirect: (options: Record<string, unknown>) => void;
}

export function guardedRequestOptions(allowlist: OutboundAllowlist, resolve: Resolve = systemResolve): GuardedRequestOptions {
  const lookup = guardedLookup(allowlist, resolve);
  return {
    httpAgent: new HttpAgent({ lookup }),
    httpsAgent: new HttpsAgent({ lookup }),
    proxy: false,
    beforeRedirect: (options) => {
      const protocol = String(options.protocol ?? '');
      if (protocol !== 'http:' && protocol !== 'https:') throw new OutboundRefusedError('scheme', `a redirect to ${protocol} is not allowed: only http and https`);
      const host = normalizeHost(String(options.hostname ?? ''));
      if (isIP(host) && !allowlist.allowsHost(host)) checkOutboundAddress(host, host, allowlist);
    },
  };
}
