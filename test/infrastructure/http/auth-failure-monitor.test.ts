import { describe, expect, it } from 'vitest';
import type { EventData, EventStore } from '../../../src/infrastructure/event-store/event-store.js';
import { AuthFailureMonitor } from '../../../src/infrastructure/http/auth-failure-monitor.js';
import type { AuthenticationFailure } from '../../../src/infrastructure/http/authentication.js';
import { capturingLogger } from '../../support/captured-logs.js';

function setup(options: { alertThreshold?: number; blockThreshold?: number; failingStore?: boolean } = {}) {
  const { logger, lines } = capturingLogger('info');
  const appended: { streamId: string; events: EventData[] }[] = [];
  const store = {
    append: async (streamId: string, events: EventData[]) => {
      if (options.failingStore) throw new Error('store down');
      appended.push({ streamId, events });
      return { nextExpectedRevision: 0, position: { commit: 0n, prepare: 0n } };
    },
  } as unknown as EventStore;
  const clock = { now: new Date('2025-06-30T10:00:00Z') };
  const monitor = new AuthFailureMonitor({
    logger,
    store,
    windowMs: 5 * 60_000,
    alertThreshold: options.alertThreshold ?? 3,
    blockThreshold: options.blockThreshold ?? 5,
    now: () => clock.now,
  });
  const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));
  return { monitor, lines, appended, advance };
}

function failure(overrides: Partial<AuthenticationFailure> = {}): AuthenticationFailure {
  return { reason: 'unknown', keyPrefix: 'deadbeef', address: '203.0.113.7', method: 'GET', route: '/api/communication/campaigns', requestId: 'req-1', ...overrides };
}

describe('AuthFailureMonitor', () => {
  it('logs each failure with the key prefix and the address, never more of the key', async () => {
    const { monitor, lines } = setup();
    await monitor.record(failure());
    expect(lines[0]).toMatchObject({ msg: 'authentication failed', address: '203.0.113.7', key_prefix: 'deadbeef', reason: 'unknown', failures_from_address: 1 });
    expect(JSON.stringify(lines)).not.toMatch(/cm_deadbeef_/);
  });

  it('appends one SecurityAlertRaised per crossing of the threshold per address', async () => {
    const { monitor, appended, advance } = setup({ alertThreshold: 3, blockThreshold: 100 });
    for (let i = 0; i < 6; i++) await monitor.record(failure({ keyPrefix: null, reason: i % 2 ? 'missing' : 'malformed' }));
    expect(appended).toHaveLength(1);
    const [{ streamId, events }] = appended as [(typeof appended)[number]];
    expect(streamId).toBe('security-2025-06-30');
    expect(events[0]).toMatchObject({ type: 'SecurityAlertRaised', metadata: { schema_version: 1, correlation_id: 'req-1' } });
    expect(events[0]!.data).toMatchObject({
      kind: 'repeated_authentication_failures',
      subject_type: 'client_address',
      subject: '203.0.113.7',
      failures: 3,
      threshold: 3,
      window_seconds: 300,
      reasons: { malformed: 2, missing: 1 },
    });

    // Once the failures age out the address is below the threshold again, and a new crossing raises a new alert.
    advance(6 * 60_000);
    await monitor.record(failure({ keyPrefix: null }));
    expect(appended).toHaveLength(1);
    await monitor.record(failure({ keyPrefix: null }));
    await monitor.record(failure({ keyPrefix: null }));
    expect(appended).toHaveLength(2);
  });

  it('raises an alert for a key prefix tried from many addresses', async () => {
    const { monitor, appended } = setup({ alertThreshold: 3, blockThreshold: 100 });
    for (const address of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) await monitor.record(failure({ address, reason: 'revoked' }));
    expect(appended.map((a) => a.events[0]!.data)).toEqual([expect.objectContaining({ subject_type: 'key_prefix', subject: 'deadbeef', reasons: { revoked: 3 } })]);
  });

  it('refuses an address past the limit until enough failures have aged out, and logs it once', async () => {
    const { monitor, advance, lines } = setup({ alertThreshold: 100, blockThreshold: 2 });
    await monitor.record(failure());
    advance(60_000);
    await monitor.record(failure());
    expect(monitor.retryAfterSeconds('203.0.113.7')).toBeNull();
    await monitor.record(failure());
    expect(monitor.retryAfterSeconds('203.0.113.7')).toBe(240);
    expect(monitor.retryAfterSeconds('203.0.113.8')).toBeNull();
    for (let i = 0; i < 5; i++) await monitor.record(failure());
    expect(lines.map((l) => l.msg)).toEqual([...Array(2).fill('authentication failed'), 'refused keys from this address get 429 until their failures age out']);
    // The failures keep coming, so it is the latest ones that must age out.
    expect(monitor.retryAfterSeconds('203.0.113.7')).toBe(300);
    advance(300_000);
    expect(monitor.retryAfterSeconds('203.0.113.7')).toBeNull();
  });

  it('counts an IPv6 client per /64 and an IPv4-mapped address as IPv4', async () => {
    const { monitor } = setup({ alertThreshold: 100, blockThreshold: 1 });
    await monitor.record(failure({ address: '2001:db8:1:2::1' }));
    await monitor.record(failure({ address: '2001:db8:1:2::ffff' }));
    expect(monitor.retryAfterSeconds('2001:db8:1:2::42')).not.toBeNull();
    expect(monitor.retryAfterSeconds('2001:db8:1:3::1')).toBeNull();
    await monitor.record(failure({ address: '::ffff:192.0.2.1' }));
    await monitor.record(failure({ address: '192.0.2.1' }));
    expect(monitor.retryAfterSeconds('192.0.2.1')).not.toBeNull();
  });

  it('logs, and does not throw, when the alert cannot be stored', async () => {
    const { monitor, lines } = setup({ alertThreshold: 1, failingStore: true });
    await expect(monitor.record(failure())).resolves.toBeUndefined();
    expect(lines.map((l) => l.msg)).toContain('security alert could not be stored');
  });
});
