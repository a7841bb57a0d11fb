import { pino, type Logger, type LoggerOptions } from 'pino';
import { redactedCensor, scrubSecrets, secretKeys } from './scrub-secrets.js';

export type { Logger };

/** Where request headers sit in what this service logs. */
const headerHolders = ['req.headers', 'headers', 'request.headers', 'response.headers'];
const credentialHeaders = ['authorization', 'cookie', 'set-cookie', 'idempotency-key', 'x-api-key', 'x-hub-signature-256', 'x-twilio-signature'];

/**
 * Paths pino's redact censors: fixed ones, which cost almost nothing. Its wildcards take one `*` per level and cost
 * more with each one, so fields named like a secret below the top level are left to scrubSecrets (formatters.log),
 * which censors them at any depth in one walk. The top-level names stay here for child bindings, which pino writes
 * without formatters.log.
 */
export const redactedPaths = [
  ...headerHolders.flatMap((holder) => credentialHeaders.map((header) => `${holder}[${JSON.stringify(header)}]`)),
  ...[...secretKeys].filter((key) => /^[a-z_]+$/.test(key)),
];

export function createLogger(level: LoggerOptions['level'] = 'info', options: LoggerOptions = {}): Logger {
  const log = options.formatters?.log;
  return pino({
    level,
    base: { service: 'communication' },
    ...options,
    redact: { paths: redactedPaths, censor: redactedCensor },
    formatters: {
      ...options.formatters,
      log: (object) => scrubSecrets(log ? log(object) : object) as Record<string, unknown>,
    },
    serializers: {
      ...options.serializers,
      // formatters.log has already serialized (and scrubbed) errors: pino's own err serializer would serialize them again.
      err: (value: unknown) => (value instanceof Error ? scrubSecrets(value) : value),
    },
  });
}
