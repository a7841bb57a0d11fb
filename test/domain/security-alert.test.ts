import { describe, expect, it } from 'vitest';
import { SecurityAlertRaised, securityStreamId } from '../../src/domain/security-alert.js';

describe('SecurityAlertRaised', () => {
  it('goes to the stream of its UTC day', () => {
    expect(securityStreamId(new Date('2025-06-30T23:59:59+00:00'))).toBe('security-2025-06-30');
    expect(securityStreamId(new Date('2025-07-01T00:30:00+02:00'))).toBe('security-2025-06-30');
  });

  it('is version 1 and refuses an alert without its subject', () => {
    expect(SecurityAlertRaised.version).toBe(1);
    const alert = {
      alert_id: '0b8f3a52-9e0a-4f43-9a55-2d0c8f5c1e11',
      kind: 'repeated_authentication_failures',
      subject_type: 'client_address',
      subject: '203.0.113.7',
      failures: 20,
      threshold: 20,
      window_seconds: 300,
      reasons: { unknown: 20 },
      first_failure_at: '2025-06-30T10:00:00.000Z',
      raised_at: '2025-06-30T10:04:00.000Z',
    };
    expect(SecurityAlertRaised.schema.parse(alert)).toEqual(alert);
    expect(SecurityAlertRaised.schema.safeParse({ ...alert, subject: '' }).success).toBe(false);
  });
});
