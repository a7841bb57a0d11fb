import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasScope, type ApiKeyRecord, type ApiKeyStore, type Scope } from '../auth/api-keys.js';
import { ApiError } from './api-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope a caller's key must have. Every route names one unless it is `public`. */
    scope?: Scope;
    /** Health probes and the API docs: no key needed. */
    public?: boolean;
  }
  interface FastifyRequest {
    apiKey: ApiKeyRecord | null;
  }
}

export function installAuthentication(app: FastifyInstance, keys: ApiKeyStore): void {
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // Unknown routes fall through to the 404 handler; public routes need no key.
    if (!request.routeOptions.url || config.public) return;
    request.apiKey = await authenticate(request, keys);
    const required = config.scope;
    if (!required) throw new ApiError('forbidden', 'This route has no scope and is closed');
    if (!hasScope(request.apiKey.scopes, required)) {
      throw new ApiError('forbidden', `This route needs the scope ${required}`, [{ path: 'authorization', message: `missing scope ${required}` }]);
    }
  });
}

async function authenticate(request: FastifyRequest, keys: ApiKeyStore): Promise<ApiKeyRecord> {
  const header = request.headers.authorization;
  const challenge = { 'www-authenticate': 'Bearer realm="communication"' };
  if (!header) {
    throw new ApiError('unauthorized', undefined, [{ path: 'headers.authorization', message: 'missing' }], 401, challenge);
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) {
    throw new ApiError('unauthorized', 'Use Authorization: Bearer <key>', [{ path: 'headers.authorization', message: 'not a Bearer token' }], 401, challenge);
  }
  const record = await keys.verify(match[1]!);
  if (!record) {
    throw new ApiError('unauthorized', 'Unknown or revoked API key', [{ path: 'headers.authorization', message: 'unknown or revoked key' }], 401, challenge);
  }
  return record;
}
