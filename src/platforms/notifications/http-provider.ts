import axios, { type AxiosInstance } from 'axios';
import type { z } from 'zod';
import { ProviderError } from './provider.js';

/**
 * Small pieces the HTTP connectors (e-mail, SMS, push, and the social platforms) share: an axios instance that never throws on an HTTP status (each connector
 * classifies statuses itself) and never follows redirects (credentials stay with the host they were meant for), the
 * mapping of transport failures to `transient`, and config validation whose messages name fields, never values.
 */

export interface ProviderFactoryOptions {
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

export const defaultTimeoutMs = 10_000;

export function createHttpClient(timeoutMs: number | undefined): AxiosInstance {
  return axios.create({
    timeout: timeoutMs ?? defaultTimeoutMs,
    validateStatus: () => true,
    maxRedirects: 0,
  });
}

/**
 * A request that got no HTTP answer (timeout, refused, reset, DNS) → transient. The axios error itself is not kept as
 * a cause: its `config` carries the request headers, i.e. the credentials.
 */
export function transportError(provider: string, error: unknown, timeoutMs: number | undefined): ProviderError {
  if (error instanceof ProviderError) return error;
  const code = axios.isAxiosError(error) ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
    return new ProviderError(provider, 'transient', `${provider} did not answer within ${timeoutMs ?? defaultTimeoutMs} ms`, { providerCode: code });
  }
  return new ProviderError(provider, 'transient', `${provider} could not be reached (${code ?? 'network error'})`, code ? { providerCode: code } : {});
}

/** Parses a provider's config entry; the error lists the offending fields only (values may be secrets). */
export function parseConfig<S extends z.ZodType>(provider: string, schema: S, config: unknown): z.output<S> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  throw new Error(`Invalid ${provider} configuration: ${fields.join('; ')}`);
}

/** A provider's own error text, bounded, for error messages. */
export function brief(text: unknown, max = 300): string {
  const value = typeof text === 'string' ? text : text === undefined || text === null ? '' : JSON.stringify(text);
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/** A header of an axios response (axios lower-cases names); the first value of a repeated one. */
export function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const value = (headers as Record<string, unknown>)[name.toLowerCase()];
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
  return value === undefined || value === null ? undefined : String(value);
}

export function trimBaseUrl(url: string): string {
  return url.replace(/\/+$/, '');
}
