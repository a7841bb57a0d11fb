import { stdSerializers } from 'pino';

export const redactedCensor = '[redacted]';

/**
 * Keys whose values never reach a log line, compared without case: credential headers (and signatures made with a
 * credential) and fields named like a secret.
 */
export const secretKeys: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'idempotency-key',
  'x-api-key',
  'x-hub-signature',
  'x-hub-signature-256',
  'x-twilio-signature',
  'x-twilio-email-event-webhook-signature',
  'x-webhook-signature',
  'access_token',
  'access_token_secret',
  'refresh_token',
  'id_token',
  'token',
  'secret',
  'client_secret',
  'api_key',
  'api_secret',
  'app_secret',
  'auth_token',
  'callback_token',
  'consumer_key',
  'application_secret',
  'private_key',
  'vapid_private_key',
  'password',
  'webhook_password',
  'accesstoken',
  'refreshtoken',
  'apikey',
  'authtoken',
  'privatekey',
  'clientsecret',
]);

/** Deeper than any object this service logs on purpose; what lies below is censored rather than walked. */
const maxDepth = 10;

/**
 * A copy of `value` with every secret key's value censored, at any depth; untouched branches are shared, not copied.
 * Errors are serialized first (as pino's err serializer does) so that what they carry — an axios error's
 * config.headers.Authorization — is scrubbed too. Objects with toJSON are walked as JSON would see them.
 */
export function scrubSecrets(value: unknown): unknown {
  return scrub(value, 0, []);
}

function scrub(value: unknown, depth: number, ancestors: object[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  // A cycle: the branch it points back to is being scrubbed already; the original would show its secrets again.
  if (ancestors.includes(value)) return '[Circular]';
  if (depth > maxDepth) return redactedCensor;
  let source = value as Record<string, unknown>;
  if (isErrorLike(value)) source = stdSerializers.err(value as Error) as unknown as Record<string, unknown>;
  else if (typeof (value as { toJSON?: unknown }).toJSON === 'function' && !(value instanceof Date)) source = (value as { toJSON(): Record<string, unknown> }).toJSON();
  if (source === null || typeof source !== 'object') return source;
  ancestors.push(value);
  let copy: Record<string, unknown> | unknown[] | null = source === value ? null : Array.isArray(source) ? [...source] : { ...source };
  for (const key of Object.keys(source)) {
    const original = source[key];
    const scrubbed = secretKeys.has(key.toLowerCase()) && original !== undefined && original !== null ? redactedCensor : scrub(original, depth + 1, ancestors);
    if (scrubbed === original) continue;
    copy ??= Array.isArray(source) ? [...source] : { ...source };
    (copy as Record<string, unknown>)[key] = scrubbed;
  }
  ancestors.pop();
  return copy ?? value;
}

function isErrorLike(value: object): boolean {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}
