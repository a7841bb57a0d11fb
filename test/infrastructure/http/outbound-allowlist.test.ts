import { describe, expect, it } from 'vitest';
import { ConfigError, loadEnv } from '../../../src/infrastructure/config/env.js';
import { OutboundAllowlist } from '../../../src/infrastructure/http/outbound-allowlist.js';

describe('outbound allowlist', () => {
  it('trusts the host names, addresses and subnets it lists, and nothing else', () => {
    const allowlist = OutboundAllowlist.parse(' CRM.internal., 10.20.0.0/16 ,192.168.1.7, fd00::/8, ::1 ');
    expect(allowlist.allowsHost('crm.internal')).toBe(true);
    expect(allowlist.allowsHost('[CRM.INTERNAL.]')).toBe(true);
    expect(allowlist.allowsHost('other.internal')).toBe(false);
    expect(allowlist.allowsHost('x.crm.internal')).toBe(false);
    expect(allowlist.allowsAddress('10.20.255.1')).toBe(true);
    expect(allowlist.allowsAddress('10.21.0.1')).toBe(false);
    expect(allowlist.allowsAddress('192.168.1.7')).toBe(true);
    expect(allowlist.allowsAddress('192.168.1.8')).toBe(false);
    expect(allowlist.allowsAddress('fd12::1')).toBe(true);
    expect(allowlist.allowsAddress('::1')).toBe(true);
    expect(allowlist.allowsAddress('::ffff:10.20.0.5')).toBe(true);
    expect(allowlist.allowsAddress('crm.internal')).toBe(false);
  });

  it('is empty by default and when the variable is unset or empty', () => {
    expect(OutboundAllowlist.none.entries).toEqual([]);
    expect(loadEnv({}).COMM_OUTBOUND_ALLOWLIST.entries).toEqual([]);
    expect(loadEnv({ COMM_OUTBOUND_ALLOWLIST: '' }).COMM_OUTBOUND_ALLOWLIST.allowsAddress('127.0.0.1')).toBe(false);
    expect(loadEnv({ COMM_OUTBOUND_ALLOWLIST: '127.0.0.1,localhost' }).COMM_OUTBOUND_ALLOWLIST.allowsHost('localhost')).toBe(true);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/x', 'fd00::/129', 'crm.internal/8', '10.0.0.0/8/8', 'http://crm.internal', 'crm internal', '*.example.fr'])(
    'refuses %s at start-up, naming the variable and the entry',
    (entry) => {
      expect(() => loadEnv({ COMM_OUTBOUND_ALLOWLIST: `127.0.0.1,${entry}` })).toThrow(ConfigError);
      expect(() => loadEnv({ COMM_OUTBOUND_ALLOWLIST: `127.0.0.1,${entry}` })).toThrow(/COMM_OUTBOUND_ALLOWLIST/);
      expect(() => OutboundAllowlist.parse(entry)).toThrow(entry);
    },
  );
});
