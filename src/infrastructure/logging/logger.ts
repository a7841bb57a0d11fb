import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line, whatever logs them. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["idempotency-key"]',
  'headers.authorization',
  '*.access_token',
  '*.refresh_token',
  '*.access_token_secret',
  '*.api_key',
  '*.api_secret',
  '*.app_secret',
  '*.auth_token',
  '*.password',
  '*.secret',
  '*.token',
];

export function createLogger(level: LoggerOptions['level'] = 'info', options: LoggerOptions = {}): Logger {
  return pino({
    level,
    base: { service: 'communication' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    ...options,
  });
}
