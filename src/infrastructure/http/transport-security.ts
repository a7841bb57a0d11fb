import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** Headers the API's clients read from responses; browsers hide the others from scripts. */
const exposedHeaders = ['location', 'etag', 'x-position', 'x-correlation-id', 'retry-after', 'idempotent-replayed', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];

/**
 * Helmet's security headers on every response, errors included (installed before authentication). Its default CSP
 * suits the Swagger UI at /docs, which loads only its own scripts; `upgrade-insecure-requests` is kept for HTTPS only,
 * as it would break /docs served over plain HTTP.
 */
export async function installSecurityHeaders(app: FastifyInstance, options: { https: boolean }): Promise<void> {
  await app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: options.https ? [] : null } },
  });
}

/**
 * CORS for the listed origins only; none listed: no CORS headers at all, so browsers keep other sites out. Preflights
 * are answered before authentication, as browsers send them without the Authorization header.
 */
export async function installCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  await app.register(fastifyCors, {
    origin: [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders,
    // Keys travel in the Authorization header, never in cookies.
    credentials: false,
    maxAge: 600,
  });
}
