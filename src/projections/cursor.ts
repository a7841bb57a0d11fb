import { ApiError } from '../infrastructure/http/api-error.js';

/**
 * Keyset pagination over (timestamp, id), newest first: the cursor is the last row's key, opaque to clients.
 */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { at: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = new Date(iso ?? '');
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(at.getTime())) {
    throw new ApiError('validation_failed', 'The cursor is not valid', [{ path: 'querystring.cursor', message: 'use next_cursor from the previous page' }]);
  }
  return { at, id };
}
