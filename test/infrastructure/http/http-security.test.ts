import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/infrastructure/config/env.js';
import { httpSecurityFromEnv } from '../../../src/infrastructure/http/http-security.js';

describe('httpSecurityFromEnv', () => {
  it('defaults to plain HTTP, no CORS and generous limits', () => {
    expect(httpSecurityFromEnv(loadEnv({}))).toEqual({
      https: null,
      corsOrigins: [],
      rateLimitPerMinute: 6_000,
      authFailureAlertThreshold: 20,
      authFailureLimit: 50,
    });
  });

  it('reads the limits and the CORS origins', () => {
    const security = httpSecurityFromEnv(
      loadEnv({ COMM_RATE_LIMIT_PER_MINUTE: '0', COMM_AUTH_FAILURE_ALERT_THRESHOLD: '5', COMM_AUTH_FAILURE_LIMIT: '10', COMM_CORS_ORIGINS: 'https://crm.example.com' }),
    );
    expect(security).toMatchObject({ rateLimitPerMinute: 0, authFailureAlertThreshold: 5, authFailureLimit: 10, corsOrigins: ['https://crm.example.com'] });
  });

  it.each([
    ['COMM_CORS_ORIGINS', '*'],
    ['COMM_RATE_LIMIT_PER_MINUTE', '-1'],
    ['COMM_RATE_LIMIT_PER_MINUTE', 'lots'],
    ['COMM_AUTH_FAILURE_LIMIT', '0'],
    ['COMM_AUTH_FAILURE_ALERT_THRESHOLD', '2.5'],
  ])('stops start-up on %s=%s, naming the variable', (name, value) => {
    expect(() => loadEnv({ [name]: value })).toThrow(name);
  });

  it('stops start-up on half a TLS setting', () => {
    expect(() => httpSecurityFromEnv(loadEnv({ TLS_KEY_FILE: '/etc/ssl/private/comm.key' }))).toThrow(/TLS_KEY_FILE is set without TLS_CERT_FILE/);
  });
});
