import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { z } from 'zod';
import { classifyHttpStatus, ProviderError, type NotificationProvider, type OutgoingMessage, type ProviderErrorClass, type SendResult } from '../provider.js';
import {
  emailContent,
  emailEntryShape,
  parseEntry,
  retryAfterHeader,
  secret,
  timeoutOf,
  type EmailProviderOptions,
} from './common.js';
import { transportError, trimBaseUrl } from '../http-provider.js';

/**
 * Mailjet Send API v3.1: POST /v3.1/send, basic auth api_key:api_secret,
 * body {Messages: [{From: {Email, Name}, To: [{Email}], Subject, TextPart, HTMLPart, CustomID, Headers}]}.
 * 200 → {Messages: [{Status: 'success', CustomID, To: [{Email, MessageUUID, MessageID, MessageHref}]}]};
 * a refused message → HTTP 400 with {Messages: [{Status: 'error', Errors: [{ErrorIdentifier, ErrorCode, StatusCode,
 * ErrorMessage, ErrorRelatedTo}]}]}; a refused request (bad JSON, bad credentials) → {ErrorIdentifier, ErrorCode?,
 * StatusCode, ErrorMessage} at the top level. Our notification id travels as CustomID, which Mailjet copies onto
 * every event it posts to the webhook.
 *
 * MessageID is a 64-bit integer (e.g. 576460772022727317) beyond Number.MAX_SAFE_INTEGER: it is read from the raw
 * JSON text as digits, never through a JavaScript number.
 */

export const MAILJET_DEFAULT_BASE_URL = 'https://api.mailjet.com';

const mailjetEntrySchema = z.looseObject({
  provider: z.literal('mailjet').optional(),
  api_key: secret,
  api_secret: secret,
  ...emailEntryShape,
});

/** The notifications.json entry (spec format); unknown keys are ignored. */
export interface MailjetConfig {
  provider?: 'mailjet';
  /** Public API key (basic-auth user). */
  api_key: string;
  /** Secret API key (basic-auth password). */
  api_secret: string;
  from_email: string;
  from_name?: string;
  /** Default https://api.mailjet.com. */
  base_url?: string;
}

export interface MailjetProvider extends NotificationProvider {
  readonly name: 'mailjet';
  readonly channel: 'email';
}

interface MailjetError {
  ErrorIdentifier?: unknown;
  ErrorCode?: unknown;
  StatusCode?: unknown;
  ErrorMessage?: unknown;
  ErrorRelatedTo?: unknown;
}

interface MailjetMessageResult {
  Status?: unknown;
  CustomID?: unknown;
  To?: { Email?: unknown; MessageUUID?: unknown; MessageID?: unknown }[];
  Errors?: MailjetError[];
}

interface MailjetBody extends MailjetError {
  Messages?: MailjetMessageResult[];
}

export function createMailjetProvider(config: MailjetConfig, options: EmailProviderOptions = {}): MailjetProvider {
  const entry = parseEntry('Mailjet', mailjetEntrySchema, config);
  const timeoutMs = timeoutOf(options);
  const http: AxiosInstance = axios.create({
    baseURL: trimBaseUrl(entry.base_url ?? MAILJET_DEFAULT_BASE_URL),
    timeout: timeoutMs,
    auth: { username: entry.api_key, password: entry.api_secret },
    headers: { Accept: 'application/json' },
    validateStatus: () => true,
    // Raw text: MessageID must not go through JSON.parse as a number.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    maxRedirects: 0,
  });
  const from = { Email: entry.from_email, ...(entry.from_name ? { Name: entry.from_name } : {}) };

  async function call(method: 'GET' | 'POST', path: string, data?: unknown): Promise<AxiosResponse<string>> {
    try {
      return await http.request<string>({ method, url: path, data, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw transportError('mailjet', error, timeoutMs);
    }
  }

  return {
    name: 'mailjet',
    channel: 'email',

    async send(message: OutgoingMessage): Promise<SendResult> {
      const content = emailContent('mailjet', message);
      const body = {
        Messages: [
          {
            From: from,
            To: [{ Email: content.to }],
            Subject: content.subject,
            ...(content.text ? { TextPart: content.text } : {}),
            ...(content.html ? { HTMLPart: content.html } : {}),
            CustomID: message.notificationId,
            ...(Object.keys(content.headers).length > 0 ? { Headers: content.headers } : {}),
          },
        ],
      };
      const response = await call('POST', '/v3.1/send', body);
      const parsed = parseMailjetJson(response.data);
      const result = parsed?.Messages?.[0];

      if (result?.Status === 'error' || (Array.isArray(result?.Errors) && result.Errors.length > 0)) {
        throw messageError(result?.Errors ?? [], response);
      }
      if (response.status >= 200 && response.status < 300) {
        const recipient = result?.To?.[0];
        const id = idString(recipient?.MessageID) ?? idString(recipient?.MessageUUID);
        // A 2xx is Mailjet's acceptance. Should its answer lack an id (it documents one per recipient), the result
        // still needs one: `mailjet:<notificationId>` is clearly ours; events find the notification by CustomID.
        return { provider: 'mailjet', providerMessageId: id ?? `mailjet:${message.notificationId}` };
      }
      throw requestError(parsed, response);
    },

    async check(): Promise<void> {
      // GET /v3/REST/myprofile: authenticated, cheap, works with any API key. (/v3/REST/apikey would answer with
      // the keys' SecretKey fields: not something a heartbeat should pull over the wire.)
      const response = await call('GET', '/v3/REST/myprofile');
      if (response.status >= 200 && response.status < 300) return;
      throw requestError(parseMailjetJson(response.data), response);
    },
  };
}

/** Parses Mailjet's JSON with every MessageID kept as a string of digits. */
export function parseMailjetJson(text: unknown): MailjetBody | undefined {
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  // Quote the integer value of each "MessageID" key. A key inside a JSON string would have escaped quotes (\"),
  // hence the look-behind.
  const quoted = text.replace(/(?<!\\)"MessageID"(\s*):(\s*)(-?\d+)/g, '"MessageID"$1:$2"$3"');
  try {
    const value: unknown = JSON.parse(quoted);
    return value && typeof value === 'object' ? (value as MailjetBody) : undefined;
  } catch {
    return undefined;
  }
}

function idString(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Most pressing class first: a configuration problem, then a refusal, then waiting, then retrying. */
const severity: ProviderErrorClass[] = ['auth', 'permanent', 'suppressed', 'rate_limited', 'transient'];

/** A message Mailjet refused: the class comes from each error's StatusCode (or the HTTP status). */
function messageError(errors: MailjetError[], response: AxiosResponse<string>): ProviderError {
  const classes = errors.map((e) => classifyHttpStatus(typeof e.StatusCode === 'number' ? e.StatusCode : response.status));
  const errorClass = severity.find((c) => classes.includes(c)) ?? classifyHttpStatus(response.status);
  const first = errors[0];
  const reasons = errors.map(describe).filter(Boolean).join('; ');
  return withWait(errorClass, `Mailjet refused the message: ${reasons || `HTTP ${response.status}`}`, response, {
    status: typeof first?.StatusCode === 'number' ? first.StatusCode : response.status,
    ...(typeof first?.ErrorCode === 'string' && first.ErrorCode ? { providerCode: first.ErrorCode } : {}),
  });
}

/** A request Mailjet refused as a whole (credentials, malformed JSON, throttling, outage). */
function requestError(body: MailjetBody | undefined, response: AxiosResponse<string>): ProviderError {
  const status = response.status;
  const reason = describe(body ?? {});
  return withWait(classifyHttpStatus(status), `Mailjet answered ${status}${reason ? `: ${reason}` : ''}`, response, {
    status,
    ...(typeof body?.ErrorCode === 'string' && body.ErrorCode ? { providerCode: body.ErrorCode } : {}),
  });
}

function withWait(
  errorClass: ProviderErrorClass,
  message: string,
  response: AxiosResponse<string>,
  details: { status?: number; providerCode?: string | number },
): ProviderError {
  const wait = errorClass === 'rate_limited' || errorClass === 'transient' ? retryAfterHeader(response.headers) : undefined;
  return new ProviderError('mailjet', errorClass, message, { ...details, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
}

function describe(error: MailjetError): string {
  const code = typeof error.ErrorCode === 'string' && error.ErrorCode ? `${error.ErrorCode} ` : '';
  const text = typeof error.ErrorMessage === 'string' ? error.ErrorMessage : '';
  const related = Array.isArray(error.ErrorRelatedTo) && error.ErrorRelatedTo.length > 0 ? ` (${error.ErrorRelatedTo.join(', ')})` : '';
  return text ? `${code}${text}${related}` : '';
}
