import { z } from 'zod';
import {
  ProviderError,
  classifyHttpStatus,
  retryAfterMs,
  type NotificationProvider,
  type OutgoingMessage,
  type ProviderErrorClass,
  type ReportedPrice,
  type SendResult,
} from '../provider.js';
import { brief, createHttpClient, header, parseConfig, transportError, trimBaseUrl, type ProviderFactoryOptions } from '../http-provider.js';

/**
 * Twilio Programmable Messaging (REST API 2010-04-01): POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form
 * encoded, HTTP basic auth (account SID : auth token). The 201 answer is the Message resource; its `sid` is the
 * provider message id and the StatusCallback URL carries our notification id so that delivery callbacks find it.
 */

export const twilioConfigSchema = z.looseObject({
  provider: z.literal('twilio'),
  account_sid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must look like AC followed by 32 hex digits'),
  auth_token: z.string().min(1),
  from_number: z.string().min(1),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  status_callback_url: z.url({ protocol: /^https?$/ }).optional(),
});

export type TwilioConfig = z.input<typeof twilioConfigSchema>;

export const twilioDefaultBaseUrl = 'https://api.twilio.com';

/** Twilio error codes with a meaning of their own (https://www.twilio.com/docs/api/errors). */
const twilioCodeClasses: Record<number, ProviderErrorClass> = {
  21610: 'suppressed', // the recipient replied STOP: Twilio refuses to message them
  21211: 'permanent', // invalid To number
  21614: 'permanent', // To is not a mobile number
  20429: 'rate_limited', // too many concurrent requests
  20003: 'auth', // authentication failed
};

interface TwilioErrorBody {
  code?: number;
  message?: string;
  more_info?: string;
  status?: number;
}

interface TwilioMessageBody {
  sid?: string;
  status?: string;
  price?: string | null;
  price_unit?: string | null;
  num_segments?: string | null;
}

export function createTwilioProvider(config: TwilioConfig, options: ProviderFactoryOptions = {}): NotificationProvider {
  const cfg = parseConfig('twilio', twilioConfigSchema, config);
  const baseUrl = trimBaseUrl(cfg.base_url ?? twilioDefaultBaseUrl);
  const http = createHttpClient(options.timeoutMs);
  const auth = { username: cfg.account_sid, password: cfg.auth_token };
  const accountPath = `/2010-04-01/Accounts/${encodeURIComponent(cfg.account_sid)}`;

  return {
    name: 'twilio',
    channel: 'sms',

    async send(message: OutgoingMessage): Promise<SendResult> {
      if (!message.sms) throw new ProviderError('twilio', 'permanent', 'twilio: the message has no SMS text');
      if (!message.recipient) throw new ProviderError('twilio', 'permanent', 'twilio: the message has no recipient');
      const form = new URLSearchParams({ To: message.recipient, From: cfg.from_number, Body: message.sms });
      if (cfg.status_callback_url) form.set('StatusCallback', withNotificationId(cfg.status_callback_url, message.notificationId));

      let response;
      try {
        response = await http.post(`${baseUrl}${accountPath}/Messages.json`, form.toString(), {
          auth,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        });
      } catch (error) {
        throw transportError('twilio', error, options.timeoutMs);
      }
      if (response.status >= 200 && response.status < 300) {
        const body = (response.data ?? {}) as TwilioMessageBody;
        if (typeof body.sid !== 'string' || !body.sid) {
          // Accepted but unreadable: do not retry (a retry could send the SMS twice).
          throw new ProviderError('twilio', 'permanent', `twilio: ${response.status} answer without a message sid`, { status: response.status });
        }
        const result: SendResult = { provider: 'twilio', providerMessageId: body.sid };
        const cost = parseCost(body.price, body.price_unit);
        if (cost) result.cost = cost;
        return result;
      }
      throw twilioError(response.status, response.data, header(response.headers, 'retry-after'));
    },

    async check(): Promise<void> {
      let response;
      try {
        response = await http.get(`${baseUrl}${accountPath}.json`, { auth, headers: { Accept: 'application/json' } });
      } catch (error) {
        throw transportError('twilio', error, options.timeoutMs);
      }
      if (response.status !== 200) throw twilioError(response.status, response.data, header(response.headers, 'retry-after'));
    },

    // The status callback carries no price: the Message resource has it, filled in some time after sending.
    async lookUpPrice(messageSid: string): Promise<ReportedPrice | null> {
      let response;
      try {
        response = await http.get(`${baseUrl}${accountPath}/Messages/${encodeURIComponent(messageSid)}.json`, { auth, headers: { Accept: 'application/json' } });
      } catch (error) {
        throw transportError('twilio', error, options.timeoutMs);
      }
      if (response.status !== 200) throw twilioError(response.status, response.data, header(response.headers, 'retry-after'));
      const body = (response.data ?? {}) as TwilioMessageBody;
      const cost = parseCost(body.price, body.price_unit);
      if (!cost) return null;
      const segments = Number(body.num_segments);
      return Number.isInteger(segments) && segments > 0 ? { ...cost, segments } : cost;
    },
  };
}

function twilioError(status: number, data: unknown, retryAfter: string | undefined): ProviderError {
  const body: TwilioErrorBody = data && typeof data === 'object' ? (data as TwilioErrorBody) : {};
  const code = typeof body.code === 'number' ? body.code : undefined;
  const errorClass = (code !== undefined ? twilioCodeClasses[code] : undefined) ?? classifyHttpStatus(status);
  const details: ProviderError['details'] = { status };
  if (code !== undefined) details.providerCode = code;
  if (errorClass === 'rate_limited' || errorClass === 'transient') {
    const wait = retryAfterMs(retryAfter);
    if (wait !== undefined) details.retryAfterMs = wait;
  }
  const text = brief(body.message ?? (typeof data === 'string' ? data : ''));
  return new ProviderError('twilio', errorClass, `twilio: ${status}${code !== undefined ? ` (code ${code})` : ''}${text ? `: ${text}` : ''}`, details);
}

function parseCost(price: string | null | undefined, unit: string | null | undefined): SendResult['cost'] | undefined {
  if (price === null || price === undefined || price === '' || !unit) return undefined;
  const amount = Number(price);
  if (!Number.isFinite(amount)) return undefined;
  // Twilio reports charges as negative amounts ("-0.07500").
  return { amount: Math.abs(amount), currency: unit.toUpperCase() };
}

function withNotificationId(callbackUrl: string, notificationId: string): string {
  const url = new URL(callbackUrl);
  url.searchParams.set('notification_id', notificationId);
  return url.toString();
}
