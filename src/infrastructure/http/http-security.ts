import type { Env } from '../config/env.js';
import { loadHttpsOptions, type HttpsOptions } from './tls-options.js';

/** Transport and abuse settings of the HTTP server, from the environment (see docs/security.md). */
export interface HttpSecurity {
  https: HttpsOptions | null;
  corsOrigins: string[];
  rateLimitPerMinute: number;
  authFailureAlertThreshold: number;
  authFailureLimit: number;
}

export const defaultHttpSecurity: HttpSecurity = {
  https: null,
  corsOrigins: [],
  rateLimitPerMinute: 6_000,
  authFailureAlertThreshold: 20,
  authFailureLimit: 50,
};

export function httpSecurityFromEnv(env: Env): HttpSecurity {
  return {
    https: loadHttpsOptions({ certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE }),
    corsOrigins: env.COMM_CORS_ORIGINS,
    rateLimitPerMinute: env.COMM_RATE_LIMIT_PER_MINUTE,
    authFailureAlertThreshold: env.COMM_AUTH_FAILURE_ALERT_THRESHOLD,
    authFailureLimit: env.COMM_AUTH_FAILURE_LIMIT,
  };
}
