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
import { MicroBatcher, settle, type Settled } from '../../../infrastructure/batching/micro-batcher.js';

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
  batch_size: z.number().int().min(1).max(SENDGRID_MAX_PERSONALIZATIONS).optional(),
});

/** The notifications.json entry (spec format); unknown keys are ignored. */
export interface SendGridConfig {
  provider?: 'sendgrid';
  api_key: string;
  from_email: string;
  from_name?: string;
  /** Default https://api.sendgrid.com (https://api.eu.sendgrid.com for EU subusers). */
  base_url?: string;
  /**
   * Most messages sent together: messages handed to send() at the same moment go out as one request with one
   * personalization each. Default 1,000 (SendGrid's maximum); 1 sends every message on its own.
   */
  batch_size?: number;
}

export interface SendGridProvider extends NotificationProvider {
  readonly name: 'sendgrid';
  readonly channel: 'email';
  /**
   * Sends up to 1,000 messages in one request, one personalization each (own recipient, subject, headers such as
   * List-Unsubscribe, custom_args.notification_id). Messages that share their content send it once; otherwise each
   * personalization carries its own text and HTML as substitutions (at most 10,000 bytes each, SendGrid's limit).
   * All or nothing: SendGrid accepts or refuses the whole request. Every result carries the request's X-Message-Id
   * (SendGrid suffixes it per recipient in events; correlate by notification_id). Throws a permanent ProviderError,
   * before any request, for more than 1,000 messages, or messages that cannot share a request (see batchable).
   */
  sendBatch(messages: readonly OutgoingMessage[]): Promise<SendResult[]>;
}

interface Personalization {
  to: { email: string }[];
  custom_args: { notification_id: string };
  headers?: Record<string, string>;
  subject?: string;
  substitutions?: Record<string, string>;
}

/**
 * Where each personalization's own text and HTML go when the messages of a request differ. Tags SendGrid replaces in
 * the content; odd enough never to occur in a message.
 */
const TEXT_TAG = '-vm_text_b7e1-';
const HTML_TAG = '-vm_html_b7e1-';
/** SendGrid's limit on the substitutions of one personalization. */
const MAX_SUBSTITUTION_BYTES = 10_000;

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

  async function sendBatch(messages: readonly OutgoingMessage[], known?: readonly EmailContent[]): Promise<SendResult[]> {
    if (messages.length === 0) return [];
    if (messages.length > SENDGRID_MAX_PERSONALIZATIONS) {
      throw new ProviderError('sendgrid', 'permanent', `a batch holds at most ${SENDGRID_MAX_PERSONALIZATIONS} messages, got ${messages.length}`);
    }
    const contents = known ?? messages.map((m) => emailContent('sendgrid', m));
    const first = contents[0] as EmailContent;
    const ids = messages.map((m) => m.notificationId);
    if (contents.every((c) => c.subject === first.subject && c.text === first.text && c.html === first.html)) {
      return post(messages.map((m, i) => personalization(m, contents[i] as EmailContent)), first, ids);
    }
    const misfit = contents.findIndex((c) => !batchable(c, first));
    if (misfit !== -1) {
      throw new ProviderError(
        'sendgrid',
        'permanent',
        `notification ${messages[misfit]?.notificationId} cannot share a request: its parts differ from the others' or exceed ${MAX_SUBSTITUTION_BYTES} bytes`,
      );
    }
    const personalizations = messages.map((m, i) => {
      const content = contents[i] as EmailContent;
      const substitutions = { ...(content.text ? { [TEXT_TAG]: content.text } : {}), ...(content.html ? { [HTML_TAG]: content.html } : {}) };
      return Object.assign(personalization(m, content), { subject: content.subject, substitutions });
    });
    const template = { ...first, text: first.text ? TEXT_TAG : '', html: first.html ? HTML_TAG : '' };
    return post(personalizations, template, ids);
  }

  async function sendAlone(message: OutgoingMessage): Promise<SendResult> {
    const content = emailContent('sendgrid', message);
    const [result] = await post([personalization(message, content)], content, [message.notificationId]);
    return result as SendResult;
  }

  /**
   * Messages sent at the same moment (the worker handles dozens at once) share requests: those with the same content
   * send it once, the others carry theirs as substitutions, and what fits neither goes alone. SendGrid refuses a whole
   * request for one bad personalization: after a permanent refusal, each of its messages is sent alone so that only
   * the bad one fails. A rate limit, an outage or a timeout is every message's answer, as it would have been one by one.
   */
  const together = new MicroBatcher<OutgoingMessage, SendResult>(async (messages) => {
    if (messages.length === 1) return [await settle(() => sendAlone(messages[0]!))];
    const results: Settled<SendResult>[] = new Array(messages.length);
    const sendEachAlone = (indexes: number[]) =>
      Promise.all(indexes.map(async (index) => void (results[index] = await settle(() => sendAlone(messages[index]!)))));
    const sendTogether = async (indexes: number[]) => {
      const outcome = await settle(() => sendBatch(indexes.map((index) => messages[index]!), indexes.map((index) => contents[index]!)));
      if (outcome.ok) indexes.forEach((index, n) => (results[index] = { ok: true, value: outcome.value[n]! }));
      else if (outcome.error instanceof ProviderError && outcome.error.errorClass === 'permanent') await sendEachAlone(indexes);
      else for (const index of indexes) results[index] = outcome;
    };
    const { contents, sameContent, substituted, alone } = groupForRequests(messages, results);
    await Promise.all([...sameContent.map(sendTogether), substituted.length > 0 ? sendTogether(substituted) : undefined, sendEachAlone(alone)]);
    return results;
  }, entry.batch_size ?? SENDGRID_MAX_PERSONALIZATIONS);

  return {
    name: 'sendgrid',
    channel: 'email',

    send: (message: OutgoingMessage) => together.call(message),

    sendBatch: (messages) => sendBatch(messages),

    async check(): Promise<void> {
      // GET /v3/scopes: authenticated, cheap, lists the key's own permissions (needs no extra scope).
      const response = await call('GET', '/v3/scopes');
      if (response.status >= 200 && response.status < 300) return;
      throw errorFor(response);
    },
  };
}

/**
 * Which messages share a request: groups of identical content; the other messages whose parts match the first of them
 * and fit in substitutions; and the rest, alone. A message that is not valid e-mail gets its error in results at once.
 * The rendered contents come back too, so that the requests do not work them out again.
 */
function groupForRequests(messages: readonly OutgoingMessage[], results: Settled<SendResult>[]) {
  const byContent = new Map<string, number[]>();
  const contents: (EmailContent | undefined)[] = messages.map((message, index) => {
    try {
      const content = emailContent('sendgrid', message);
      const key = `${content.subject}\u0000${content.text}\u0000${content.html}`;
      byContent.set(key, [...(byContent.get(key) ?? []), index]);
      return content;
    } catch (error) {
      results[index] = { ok: false, error };
      return undefined;
    }
  });
  const sameContent = [...byContent.values()].filter((group) => group.length > 1);
  const singles = [...byContent.values()].filter((group) => group.length === 1).map((group) => group[0]!);
  const reference = singles.length > 0 ? contents[singles[0]!]! : undefined;
  const substituted = singles.filter((index) => reference && batchable(contents[index]!, reference));
  const together = new Set(substituted);
  const alone = singles.filter((index) => !together.has(index));
  return { contents, sameContent, substituted: substituted.length > 1 ? substituted : [], alone: substituted.length > 1 ? alone : singles };
}

/** Whether a message can travel in one request with the reference: the same parts, small enough for substitutions. */
function batchable(content: EmailContent, reference: EmailContent): boolean {
  if (Boolean(content.text) !== Boolean(reference.text) || Boolean(content.html) !== Boolean(reference.html)) return false;
  const bytes = Buffer.byteLength(content.text) + Buffer.byteLength(content.html) + TEXT_TAG.length + HTML_TAG.length;
  return bytes <= MAX_SUBSTITUTION_BYTES;
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
