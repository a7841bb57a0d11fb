import { describe, expect, it } from 'vitest';
import { blockedRangeOf } from '../../../src/infrastructure/http/blocked-addresses.js';

describe('blocked address ranges', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['fe80::1', 'link-local (cloud metadata)'],
    ['febf:ffff::1', 'link-local (cloud metadata)'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['ff02::1', 'multicast'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['255.255.255.255', 'reserved'],
    // IPv4-mapped IPv6, in both spellings, and the deprecated IPv4-compatible form.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata)'],
    ['::ffff:10.1.2.3', 'private'],
    ['::127.0.0.1', 'reserved'],
  ])('%s is %s', (address, reason) => {
    expect(blockedRangeOf(address)).toBe(reason);
  });

  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '172.15.255.255', '100.128.0.1', '192.169.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '223.255.255.255'])(
    '%s is public',
    (address) => {
      expect(blockedRangeOf(address)).toBeNull();
    },
  );

  it('treats what is not an address as blocked: nothing is known about it', () => {
    expect(blockedRangeOf('localhost')).toBe('not an IP address');
    expect(blockedRangeOf('')).toBe('not an IP address');
  });
});
