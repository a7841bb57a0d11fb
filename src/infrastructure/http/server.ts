import { randomUUID } from 'node:crypto';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import type { ApiKeyStore } from '../auth/api-keys.js';
import type { EventStore } from '../event-store/event-store.js';
import type { Logger } from '../logging/logger.js';
import { AuthFailureMonitor } from './auth-failure-monitor.js';
import { installAuthentication } from './authentication.js';
import { installErrorHandlers } from './error-handler.js';
import { defaultHttpSecurity, type HttpSecurity } from './http-security.js';
import { installIdempotency, type IdempotencyTable } from './idempotency.js';
import { failedAuthenticationRefusal, installRequestRateLimit } from './rate-limits.js';
import { installCors, installSecurityHeaders } from './transport-security.js';

export type HttpServer = FastifyInstance;

export interface ServerOptions {
  logger: Logger;
  apiKeys: ApiKeyStore;
  db: Kysely<IdempotencyTable>;
  version: string;
  /** TLS, CORS, rate limits (default: plain HTTP, no CORS, default limits). */
  security?: HttpSecurity;
  /** Where security alerts are appended; without it they are only logged. */
  alerts?: EventStore;
}

/**
 * Fastify with zod validation, OpenAPI at /docs, API-key auth, Idempotency-Key and the error catalogue; HTTPS (TLS 1.3)
 * when configured, security headers, CORS for listed origins, rate limits and failed-authentication monitoring.
 */
export async function createHttpServer(options: ServerOptions): Promise<FastifyInstance> {
  const security = options.security ?? defaultHttpSecurity;
  const app = Fastify({
    ...(security.https ? { https: security.https } : {}),
    loggerInstance: options.logger as FastifyBaseLogger,
    // One line per failed request is logged by the error handler; a line per request would cost throughput.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    genReqId: (request) => {
      const given = request.headers['x-correlation-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    routerOptions: { maxParamLength: 200 },
  });
  // Commands take JSON only: a text body would otherwise reach validation as a string.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-correlation-id', request.id);
    return payload;
  });
  // Before authentication, so that refusals carry the headers too and CORS preflights (sent without a key) are answered.
  await installSecurityHeaders(app, { https: security.https !== null });
  await installCors(app, security.corsOrigins);
  await installRequestRateLimit(app, security.rateLimitPerMinute);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Le Vieux Moulin — communication module',
        description: 'Social publishing, notifications, menu sync and campaigns. Errors: {error, message, details[]}.',
        version: options.version,
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API key: Authorization: Bearer <key>' } },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  // The docs are public: they describe the contract, not data.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), public: true };
  });
  // No validator badge: it would send the document's address to validator.swagger.io.
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true, validatorUrl: null } });

  const failures = new AuthFailureMonitor({
    logger: options.logger,
    store: options.alerts,
    alertThreshold: security.authFailureAlertThreshold,
    blockThreshold: security.authFailureLimit,
  });
  installAuthentication(app, options.apiKeys, {
    onFailure: async (failure) => {
      await failures.record(failure);
      return failedAuthenticationRefusal(failures, failure.address);
    },
  });
  installIdempotency(app, options.db);
  return app;
}
