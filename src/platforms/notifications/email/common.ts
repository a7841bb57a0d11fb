import { z } from 'zod';
import { ConfigError } from '../../../infrastructure/config/env.js';
import { formatZodIssues } from '../../../infrastructure/config/format-issues.js';
import { header } from '../http-provider.js';
import { ProviderError, retryAfterMs, type OutgoingMessage } from '../provider.js';

/**
 * What the three e-mail connectors (SendGrid, Mailjet, SMTP) share: options, config checking, the rendered e-mail a
 * message must carry, and how a failed HTTP exchange becomes a ProviderError.
 *
 * Secrets: nothing here ever puts a config value, a request header or an axios error (whose `config` holds the
 * Authorization header) into a message, a `cause` or the details of a ProviderError.
 */

export interface EmailProviderOptions {
  /** Deadline for one call to the provider (HTTP request, or each SMTP wait). Default 10 s. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export function timeoutOf(options: EmailProviderOptions): number {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ConfigError(`timeoutMs must be a positive number of milliseconds`);
  return timeoutMs;
}

/** The fields every notifications.json e-mail entry has (spec format). */
export const emailEntryShape = {
  from_email: z.email(),
  from_name: z.string().optional(),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
};
export const secret = z.string().min(1);

/** Validates a notifications.json entry; the error names fields, never values (zod messages carry no input). */
export function parseEntry<S extends z.ZodType>(provider: string, schema: S, entry: unknown): z.output<S> {
  const result = schema.safeParse(entry);
  if (!result.success) throw new ConfigError(`Invalid ${provider} e-mail configuration:\n${formatZodIssues(result.error.issues)}`);
  return result.data;
}

export interface EmailContent {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

/** The e-mail a message must carry; anything else is a bug upstream that no retry will fix. */
export function emailContent(provider: string, message: OutgoingMessage): EmailContent {
  if (message.channel !== 'email') {
    throw new ProviderError(provider, 'permanent', `${provider} sends e-mail, not ${message.channel} (notification ${message.notificationId})`);
  }
  const email = message.email;
  if (!email) throw new ProviderError(provider, 'permanent', `notification ${message.notificationId} has no rendered e-mail`);
  const to = message.recipient.trim();
  if (!to) throw new ProviderError(provider, 'permanent', `notification ${message.notificationId} has no recipient`);
  if (!email.text && !email.html) {
    throw new ProviderError(provider, 'permanent', `notification ${message.notificationId} has neither a text nor an HTML part`);
  }
  return { to, subject: email.subject, text: email.text, html: email.html, headers: { ...(email.headers ?? {}) } };
}

/** Retry-After (seconds or HTTP date) as milliseconds, or undefined. */
export function retryAfterHeader(headers: unknown, now = Date.now()): number | undefined {
  return retryAfterMs(header(headers, 'retry-after'), now);
}

/** Parses a JSON body read as text; undefined when it is not JSON. */
export function parseJson(text: unknown): unknown {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
