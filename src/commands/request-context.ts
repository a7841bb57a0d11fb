import type { FastifyRequest } from 'fastify';
import { ApiError } from '../infrastructure/http/api-error.js';
import type { CommandContext } from './command-handler.js';

export function commandContext(request: FastifyRequest, now = new Date()): CommandContext {
  return {
    correlationId: request.id,
    causationId: request.id,
    actor: request.apiKey ? `api-key:${request.apiKey.prefix}` : 'anonymous',
    now,
  };
}

/** If-Match: "<revision>" pins the revision the client last saw; a mismatch is a 409, not a silent overwrite. */
export function ifMatchRevision(request: FastifyRequest): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(String(header));
  if (!match) {
    throw new ApiError('validation_failed', 'If-Match must be the revision from an ETag, e.g. "3"', [
      { path: 'headers.if-match', message: 'not a revision' },
    ]);
  }
  return Number(match[1]);
}
