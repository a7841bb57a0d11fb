import { BlockList, isIP } from 'node:net';

/**
 * The destinations an operator trusts despite their address: COMM_OUTBOUND_ALLOWLIST, comma-separated host names
 * (exact, case-insensitive), IP addresses and CIDR subnets. A webhook receiver on the office network, a media server
 * on a private address, or the local doubles of the test suite.
 */
export class OutboundAllowlist {
  /** Trusts nothing: only public addresses are reachable. */
  static readonly none = new OutboundAllowlist([]);

  private readonly hosts = new Set<string>();
  private readonly addresses = new BlockList();

  /** Throws an Error naming the first entry that is neither a host name, an address nor a CIDR subnet. */
  static parse(text: string): OutboundAllowlist {
    return new OutboundAllowlist(text.split(',').map((entry) => entry.trim()).filter(Boolean));
  }

  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) this.add(entry);
  }

  allowsHost(hostname: string): boolean {
    return this.hosts.has(normalizeHost(hostname));
  }

  allowsAddress(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    return this.addresses.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  private add(entry: string): void {
    const [address, prefixText, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    if (prefixText !== undefined) {
      const prefix = Number(prefixText);
      const max = family === 6 ? 128 : 32;
      if (family === 0 || rest.length > 0 || !/^\d{1,3}$/.test(prefixText) || prefix > max) {
        throw new Error(`"${entry}" is not a valid CIDR subnet (e.g. 10.0.0.0/8 or fd00::/8)`);
      }
      this.addresses.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
      return;
    }
    if (family !== 0) {
      this.addresses.addAddress(entry, family === 6 ? 'ipv6' : 'ipv4');
      return;
    }
    const host = normalizeHost(entry);
    if (!/^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(host)) {
      throw new Error(`"${entry}" is neither a host name, an IP address nor a CIDR subnet`);
    }
    this.hosts.add(host);
  }
}

/** URL host names come lower-cased, IPv6 in brackets, sometimes with the root's trailing dot. */
export function normalizeHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}
