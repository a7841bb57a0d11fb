import { BlockList, isIP } from 'node:net';

/**
 * Address ranges a request made on a user's behalf must not reach: this host, the cloud metadata service, the private
 * network. Node's BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against the IPv4 ranges.
 */
const ranges: ReadonlyArray<{ reason: string; subnets: ReadonlyArray<[string, number, 'ipv4' | 'ipv6']> }> = [
  { reason: 'unspecified', subnets: [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']] },
  { reason: 'loopback', subnets: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']] },
  // 169.254.169.254 is where AWS, GCP and Azure answer with instance credentials.
  { reason: 'link-local (cloud metadata)', subnets: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']] },
  {
    reason: 'private',
    subnets: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6'], ['fec0::', 10, 'ipv6']],
  },
  { reason: 'carrier-grade NAT', subnets: [['100.64.0.0', 10, 'ipv4']] },
  { reason: 'multicast', subnets: [['224.0.0.0', 4, 'ipv4'], ['ff00::', 8, 'ipv6']] },
  // 240/4 includes the broadcast address; ::/96 (IPv4-compatible, deprecated) would embed any IPv4 address.
  { reason: 'reserved', subnets: [['240.0.0.0', 4, 'ipv4'], ['::', 96, 'ipv6']] },
];

const lists = ranges.map(({ reason, subnets }) => {
  const list = new BlockList();
  for (const [network, prefix, family] of subnets) list.addSubnet(network, prefix, family);
  return { reason, list };
});

/** Why the address must not be reached ('loopback', 'private'...), or null for a public address. */
export function blockedRangeOf(address: string): string | null {
  const family = isIP(address);
  // Not an address at all: nothing can be said to be safe about it.
  if (family === 0) return 'not an IP address';
  const type = family === 6 ? 'ipv6' : 'ipv4';
  return lists.find(({ list }) => list.check(address, type))?.reason ?? null;
}
