import axios from 'axios';
import type { Platform } from '../../domain/publication-events.js';
import { PlatformError } from './connector.js';

export { brief, createHttpClient, defaultTimeoutMs, header, parseConfig, trimBaseUrl } from '../notifications/http-provider.js';

/**
 * A request that got no HTTP answer. Whether it may have reached the platform decides the class:
 * - refused or unresolvable (nothing was sent): transient;
 * - a write that timed out or whose connection broke after sending: unknown_outcome (the post may exist);
 * - a read: transient (asking again is harmless).
 * The axios error is not kept as a cause: its `config` carries the request headers, i.e. the tokens.
 */
export function socialTransportError(platform: Platform, error: unknown, write: boolean): PlatformError {
  if (error instanceof PlatformError) return error;
  const code = axios.isAxiosError(error) ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
  const neverSent = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ERR_INVALID_URL';
  const errorClass = write && !neverSent ? 'unknown_outcome' : 'transient';
  const what = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'no answer in time' : `request failed (${code ?? 'network error'})`;
  return new PlatformError(platform, errorClass, `${platform}: ${what}`, code ? { platformCode: code } : {});
}

/**
 * How long to wait before trying again, from the answer's headers: Retry-After (seconds or an HTTP date) or an
 * epoch-seconds reset header (X: x-rate-limit-reset). Undefined when the platform said nothing.
 */
export function retryAfterMs(headers: Record<string, unknown>, now = Date.now()): number | undefined {
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(0, date - now);
  }
  const reset = headerValue(headers, 'x-rate-limit-reset');
  if (reset !== undefined && Number.isFinite(Number(reset))) return Math.max(0, Number(reset) * 1_000 - now);
  return undefined;
}

function headerValue(headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

/** Exact-text comparison used by findPublished: platforms may trim or normalise line endings. */
export function sameText(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\r\n/g, '\n').trim().normalize('NFC');
  return norm(a) === norm(b);
}
