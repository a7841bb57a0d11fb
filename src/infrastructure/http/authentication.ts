import type { FastifyInstance, FastifyRequest } from 'fastify';
import { displayPrefix, hasScope, type ApiKeyRecord, type ApiKeyStore, type Scope } from '../auth/api-keys.js';
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

export type AuthenticationFailureReason = 'missing' | 'malformed' | 'unknown' | 'revoked' | 'expired';

/** A refused key, as abuse monitoring sees it: the key's first characters at most, never the key. */
export interface AuthenticationFailure {
  reason: AuthenticationFailureReason;
  keyPrefix: string | null;
  address: string;
  method: string;
  route: string;
  requestId: string;
}

export interface AuthenticationOptions {
  /** Told of every refused key; may answer with another error to send instead of the 401 (a 429, say). */
  onFailure?: (failure: AuthenticationFailure) => Promise<ApiError | null | void> | ApiError | null | void;
}

export function installAuthentication(app: FastifyInstance, keys: ApiKeyStore, options: AuthenticationOptions = {}): void {
  app.decorateRequest('apiKey', null);
  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config;
    // Unknown routes fall through to the 404 handler; public routes need no key.
    if (!request.routeOptions.url || config.public) return;
    const outcome = await authenticate(request, keys);
    if (outcome instanceof Refusal) {
      const replacement = await options.onFailure?.({
        reason: outcome.reason,
        keyPrefix: outcome.keyPrefix,
        address: request.ip,
        method: request.method,
        route: request.routeOptions.url,
        requestId: request.id,
      });
      throw replacement ?? outcome.error;
    }
    request.apiKey = outcome;
    const required = config.scope;
    if (!required) throw new ApiError('forbidden', 'This route has no scope and is closed');
    if (!hasScope(request.apiKey.scopes, required)) {
      throw new ApiError('forbidden', `This route needs the scope ${required}`, [{ path: 'authorization', message: `missing scope ${required}` }]);
    }
  });
}

class Refusal {
  readonly error: ApiError;
  constructor(
    readonly reason: AuthenticationFailureReason,
    readonly keyPrefix: string | null,
    message: string | undefined,
    detail: string,
  ) {
    this.error = new ApiError('unauthorized', message, [{ path: 'headers.authorization', message: detail }], 401, {
      'www-authenticate': 'Bearer realm="communication"',
    });
  }
}

async function authenticate(request: FastifyRequest, keys: ApiKeyStore): Promise<ApiKeyRecord | Refusal> {
  const header = request.headers.authorization;
  if (!header) return new Refusal('missing', null, undefined, 'missing');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return new Refusal('malformed', null, 'Use Authorization: Bearer <key>', 'not a Bearer token');
  const key = match[1]!;
  const result = await keys.check(key);
  switch (result.status) {
    case 'valid':
      return result.record;
    case 'revoked':
      return new Refusal('revoked', result.prefix, `The API key ${result.prefix} was revoked`, 'revoked key');
    case 'expired':
      return new Refusal('expired', result.prefix, `The API key ${result.prefix} expired at ${result.expiredAt.toISOString()}`, 'expired key');
    case 'unknown':
      return new Refusal('unknown', displayPrefix(key), 'Unknown API key', 'unknown key');
  }
}
