import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { z } from 'zod';
import { classifyHttpStatus, ProviderError, type NotificationProvider, type OutgoingMessage, type SendResult } from '../provider.js';
import {
  emailContent,
  emailEntryShape,
  parseEntry,
  parseJson,
  retryAfterHeader,
  secret,
  timeoutOf,
  type EmailContent,
  type EmailProviderOptions,
} from './common.js';
import { header, transportError, trimBaseUrl } from '../http-provider.js';

/**
 * SendGrid Mail Send v3 (contract: shared/contracts/sendgrid-mail-v3.openapi.json).
 * POST /v3/mail/send with a Bearer API key; 202 with an empty body and the message id in X-Message-Id.
 * Our notification id travels in personalizations[].custom_args.notification_id, which SendGrid copies onto every
 * Event Webhook event: that, not the message id, is how callbacks find the notification.
 */

export const SENDGRID_DEFAULT_BASE_URL = 'https://api.sendgrid.com';
/** SendGrid accepts at most 1,000 personalizations per request. */
export const SENDGRID_MAX_PERSONALIZATIONS = 1000;

const sendGridEntrySchema = z.looseObject({
  provider: z.literal('sendgrid').optional(),
  api_key: secret,
  ...emailEntryShape,
});

/** The notifications.json entry (spec format); unknown keys are ignored. */
export interface SendGridConfig {
  provider?: 'sendgrid';
  api_key: string;
  from_email: string;
  from_name?: string;
  /** Default https://api.sendgrid.com (https://api.eu.sendgrid.com for EU subusers). */
  base_url?: string;
}

export interface SendGridProvider extends NotificationProvider {
  readonly name: 'sendgrid';
  readonly channel: 'email';
  /**
   * Sends up to 1,000 messages that share subject, text and HTML in one request, one personalization each (own
   * recipient, own custom_args.notification_id, own headers such as List-Unsubscribe). All or nothing: SendGrid
   * accepts or refuses the whole request. Every result carries the request's X-Message-Id (SendGrid suffixes it per
   * recipient in events; correlate by notification_id). Throws a permanent ProviderError, before any request, when
   * the messages differ in content or exceed 1,000.
   */
  sendBatch(messages: readonly OutgoingMessage[]): Promise<SendResult[]>;
}

interface Personalization {
  to: { email: string }[];
  custom_args: { notification_id: string };
  headers?: Record<string, string>;
}

export function createSendGridProvider(config: SendGridConfig, options: EmailProviderOptions = {}): SendGridProvider {
  const entry = parseEntry('SendGrid', sendGridEntrySchema, config);
  const timeoutMs = timeoutOf(options);
  const http: AxiosInstance = axios.create({
    baseURL: trimBaseUrl(entry.base_url ?? SENDGRID_DEFAULT_BASE_URL),
    timeout: timeoutMs,
    headers: { Authorization: `Bearer ${entry.api_key}`, Accept: 'application/json' },
    // Every status is ours to classify; the body is read as text and parsed here.
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    maxRedirects: 0,
  });
  const from = { email: entry.from_email, ...(entry.from_name ? { name: entry.from_name } : {}) };

  async function call(method: 'GET' | 'POST', path: string, data?: unknown): Promise<AxiosResponse<string>> {
    try {
      // AbortSignal.timeout bounds the whole exchange; axios' own timeout alone is reset by a trickling server.
      return await http.request<string>({ method, url: path, data, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw transportError('sendgrid', error, timeoutMs);
    }
  }

  async function post(personalizations: Personalization[], content: EmailContent, fallbackIds: string[]): Promise<SendResult[]> {
    const body = {
      personalizations,
      from,
      subject: content.subject,
      // SendGrid wants text/plain before text/html and refuses empty values.
      content: [
        ...(content.text ? [{ type: 'text/plain', value: content.text }] : []),
        ...(content.html ? [{ type: 'text/html', value: content.html }] : []),
      ],
    };
    const response = await call('POST', '/v3/mail/send', body);
    if (response.status >= 200 && response.status < 300) {
      const messageId = header(response.headers, 'x-message-id');
      // SendGrid documents X-Message-Id on every 202; should it be missing (a proxy stripping it, a mock), the
      // result still needs an id: `sendgrid:<notificationId>` is clearly ours, and events still find the
      // notification through custom_args.notification_id.
      return fallbackIds.map((id) => ({ provider: 'sendgrid', providerMessageId: messageId || `sendgrid:${id}` }));
    }
    throw errorFor(response);
  }

  return {
    name: 'sendgrid',
    channel: 'email',

    async send(message: OutgoingMessage): Promise<SendResult> {
      const content = emailContent('sendgrid', message);
      const [result] = await post([personalization(message, content)], content, [message.notificationId]);
      return result as SendResult;
    },

    async sendBatch(messages: readonly OutgoingMessage[]): Promise<SendResult[]> {
      if (messages.length === 0) return [];
      if (messages.length > SENDGRID_MAX_PERSONALIZATIONS) {
        throw new ProviderError('sendgrid', 'permanent', `a batch holds at most ${SENDGRID_MAX_PERSONALIZATIONS} messages, got ${messages.length}`);
      }
      const contents = messages.map((m) => emailContent('sendgrid', m));
      const first = contents[0] as EmailContent;
      const differing = contents.findIndex((c) => c.subject !== first.subject || c.text !== first.text || c.html !== first.html);
      if (differing !== -1) {
        throw new ProviderError(
          'sendgrid',
          'permanent',
          `batch messages must share subject, text and HTML; notification ${messages[differing]?.notificationId} differs`,
        );
      }
      const personalizations = messages.map((m, i) => personalization(m, contents[i] as EmailContent));
      return post(personalizations, first, messages.map((m) => m.notificationId));
    },

    async check(): Promise<void> {
      // GET /v3/scopes: authenticated, cheap, lists the key's own permissions (needs no extra scope).
      const response = await call('GET', '/v3/scopes');
      if (response.status >= 200 && response.status < 300) return;
      throw errorFor(response);
    },
  };
}

function personalization(message: OutgoingMessage, content: EmailContent): Personalization {
  return {
    to: [{ email: content.to }],
    custom_args: { notification_id: message.notificationId },
    // Per-personalization headers: List-Unsubscribe carries a per-recipient token.
    ...(Object.keys(content.headers).length > 0 ? { headers: content.headers } : {}),
  };
}

interface SendGridErrorBody {
  errors?: { message?: unknown; field?: unknown }[];
}

/** Maps a non-2xx SendGrid answer to a ProviderError, with SendGrid's own error messages. */
function errorFor(response: AxiosResponse<string>, now = Date.now()): ProviderError {
  const status = response.status;
  const errorClass = classifyHttpStatus(status);
  const reasons = describeErrors(parseJson(response.data) as SendGridErrorBody | undefined);
  const message = `SendGrid answered ${status}${reasons ? `: ${reasons}` : ''}`;
  if (errorClass === 'rate_limited') {
    return new ProviderError('sendgrid', 'rate_limited', message, { status, retryAfterMs: rateLimitWait(response.headers, now) });
  }
  const retryAfter = errorClass === 'transient' ? retryAfterHeader(response.headers, now) : undefined;
  return new ProviderError('sendgrid', errorClass, message, { status, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) });
}

function describeErrors(body: SendGridErrorBody | undefined): string {
  if (!body || !Array.isArray(body.errors)) return '';
  return body.errors
    .map((e) => {
      const text = typeof e?.message === 'string' ? e.message : '';
      const field = typeof e?.field === 'string' && e.field !== 'null' ? e.field : '';
      return field && text ? `${text} (${field})` : text;
    })
    .filter(Boolean)
    .join('; ');
}

/** X-RateLimit-Reset is the epoch second when the window reopens; Retry-After is the fallback. */
function rateLimitWait(headers: unknown, now: number): number | undefined {
  const reset = Number(header(headers, 'x-ratelimit-reset'));
  if (header(headers, 'x-ratelimit-reset') !== undefined && Number.isFinite(reset)) return Math.max(0, reset * 1000 - now);
  return retryAfterHeader(headers, now);
}
