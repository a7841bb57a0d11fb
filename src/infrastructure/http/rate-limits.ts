import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.js';
import type { AuthFailureMonitor } from './auth-failure-monitor.js';
import { clientAddress } from './client-address.js';

/**
 * Two limits, both answering 429 in the catalogue's shape with Retry-After:
 * - per API key (per client address for requests without one): COMM_RATE_LIMIT_PER_MINUTE requests a minute,
 *   installed before the routes are registered;
 * - per client address that keeps presenting bad keys: COMM_AUTH_FAILURE_LIMIT refused keys in 5 minutes.
 */

/** Orchestrators probe often and from few addresses: limiting the probes would only make a healthy pod look dead. */
const unlimitedRoutes = new Set(['/health/live', '/health/ready']);

export async function installRequestRateLimit(app: FastifyInstance, perMinute: number): Promise<void> {
  // 0 turns the limit off, e.g. for a load test.
  if (perMinute <= 0) return;
  await app.register(fastifyRateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    // After authentication (onRequest), so that a key is counted as itself wherever it calls from,
    // and before the body is read, so that a client over its limit costs little.
    hook: 'preParsing',
    keyGenerator: (request) => (request.apiKey ? `key:${request.apiKey.id}` : `address:${clientAddress(request.ip)}`),
    allowList: (request) => unlimitedRoutes.has(request.routeOptions.url ?? ''),
    errorResponseBuilder: (_request, context) =>
      new ApiError('too_many_requests', `At most ${context.max} requests a minute; retry in ${context.after}`, [], 429, {
        'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))),
      }),
  });
}

/**
 * The answer to a refused key from an address past the failed-authentication limit: 429 until enough failures age out.
 * Only refused keys get it: a valid key from the same address (the restaurant's other devices behind one NAT, every
 * client behind a proxy) keeps working, so that nobody can lock others out by failing on purpose.
 */
export function failedAuthenticationRefusal(monitor: AuthFailureMonitor, ip: string): ApiError | null {
  const retryAfter = monitor.retryAfterSeconds(ip);
  if (retryAfter === null) return null;
  return new ApiError(
    'too_many_requests',
    `Too many failed authentications from this address; retry in ${retryAfter} s`,
    [{ path: 'headers.authorization', message: `more than ${monitor.blockThreshold} refused keys in ${monitor.windowMs / 60_000} min` }],
    429,
    { 'retry-after': String(retryAfter) },
  );
}
