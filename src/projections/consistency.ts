import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { formatPosition, parsePosition } from '../infrastructure/event-store/event-store.js';
import { ApiError } from '../infrastructure/http/api-error.js';
import type { ReadPositions } from './read-positions.js';

/** Query parameters every query route accepts for read-your-writes. */
export const consistencyQuery = {
  min_position: z
    .string()
    .regex(/^\d{1,20}\.\d{1,20}$/, 'must be a position as returned by a command, e.g. "1234.56"')
    .optional()
    .describe('Wait until the read model reflects this position (the `position` a command returned)'),
  wait_ms: z.coerce.number().int().min(0).max(10_000).default(2_000).describe('How long to wait for min_position'),
};

/**
 * Waits, if asked, for the projection to reach the client's position, then tags the response with the position the
 * read model reflects (X-Read-Position). Too slow → 503 projection_lagging with Retry-After, never stale data
 * silently passed off as fresh.
 */
export async function ensureReadPosition(
  positions: ReadPositions,
  projection: string,
  request: FastifyRequest,
  reply: FastifyReply,
  query: { min_position?: string | undefined; wait_ms: number },
): Promise<string | null> {
  const wanted = query.min_position ?? headerValue(request.headers['x-min-position']);
  if (wanted) {
    const position = parsePosition(wanted);
    if (!position) throw new ApiError('invalid_position', undefined, [{ path: 'query.min_position', message: 'not a position' }]);
    const reached = await positions.waitFor(projection, position, query.wait_ms);
    if (!reached) {
      throw new ApiError('projection_lagging', `The ${projection} read model has not reached ${wanted} yet`, [], 503, { 'retry-after': '1' });
    }
  }
  const current = await positions.current(projection);
  const text = current ? formatPosition(current) : null;
  if (text) reply.header('x-read-position', text);
  return text;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
