import { createHmac } from 'node:crypto';
import {
  checkMessageId,
  derivedEventId,
  guarded,
  InboundPayloadError,
  isRecord,
  notificationIdFrom,
  notificationIdFromUrl,
  NOTIFICATION_ID_PARAM,
  rawFromParams,
  singleParam,
  timingSafeStringEqual,
  toDate,
  truncateReason,
  type CallbackParams,
  type DeliveryEvent,
  type DeliveryKind,
  type VerificationResult,
} from './inbound-event.js';

/**
 * Twilio message status callbacks (the StatusCallback URL given when the message is created).
 *
 * - X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, over the full URL Twilio called (query string
 *   included) followed by every POST parameter sorted by name, each as name + value with no separator. Twilio adds
 *   parameters without notice, so all received parameters must be passed, not a known subset.
 * - Parameters: MessageSid (and its legacy alias SmsSid), MessageStatus (SmsStatus), ErrorCode on failures,
 *   AccountSid, From, To, RawDlrDoneDate (YYMMDDhhmm, carrier time zone unknown), … No event id and no reliable
 *   timestamp: the event id is derived from (MessageSid, MessageStatus, ErrorCode) and occurredAt is the time of
 *   receipt.
 * - Our notification id travels in the StatusCallback URL's `notification_id` query parameter.
 */

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

export interface TwilioVerifyInput {
  authToken: string;
  /** The full public URL Twilio called, query string included, exactly as configured in StatusCallback. */
  url: string;
  /** The POST (form) parameters, all of them. For a GET callback, pass {} (the parameters are in the URL). */
  params: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** X-Twilio-Signature. */
  signature: string | undefined | null;
}

function signedData(url: string, params: TwilioVerifyInput['params']): string {
  let data = url;
  for (const name of Object.keys(params).sort()) {
    const value = params[name];
    if (value === undefined) continue;
    if (typeof value === 'string') data += name + value;
    else if (Array.isArray(value)) for (const item of [...new Set(value)].sort()) data += name + String(item);
    else throw new Error('parameter values must be strings');
  }
  return data;
}

/** The URL as given, and with the default port added or removed: Twilio's SDKs accept a signature over either. */
function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]*@)?(\[[^\]]*\]|[^/?#:]*)(:\d+)?/i.exec(url);
  if (!match) return [url];
  const [prefix, scheme, userInfo = '', host, port] = match;
  const defaultPort = scheme!.toLowerCase() === 'https' ? ':443' : ':80';
  const rest = url.slice(prefix.length);
  if (port === undefined) return [url, `${scheme}://${userInfo}${host}${defaultPort}${rest}`];
  if (port === defaultPort) return [url, `${scheme}://${userInfo}${host}${rest}`];
  return [url];
}

export function computeTwilioSignature(authToken: string, url: string, params: TwilioVerifyInput['params']): string {
  return createHmac('sha1', authToken).update(signedData(url, params), 'utf8').digest('base64');
}

export function verifyTwilioSignature(input: TwilioVerifyInput): VerificationResult {
  try {
    const { authToken, url, params, signature } = input;
    if (typeof authToken !== 'string' || authToken.length === 0) return { ok: false, reason: 'no auth token configured' };
    if (typeof url !== 'string' || url.length === 0) return { ok: false, reason: 'missing URL' };
    if (!isRecord(params)) return { ok: false, reason: 'parameters must be an object' };
    if (typeof signature !== 'string' || signature.trim().length === 0) return { ok: false, reason: 'missing signature header' };
    const given = signature.trim();
    let valid = false;
    // Every variant is computed and compared, so the timing does not depend on which one matches.
    for (const variant of urlVariants(url)) {
      if (timingSafeStringEqual(computeTwilioSignature(authToken, variant, params), given)) valid = true;
    }
    return valid ? { ok: true } : { ok: false, reason: 'signature mismatch' };
  } catch {
    return { ok: false, reason: 'signature could not be verified' };
  }
}

/**
 * MessageStatus → kind. null: a state before the carrier has the message (queued, accepted, scheduled, sending) or an
 * inbound one — nothing the send result did not already say. read (WhatsApp, RCS) counts as opened.
 */
const kinds: Readonly<Record<string, DeliveryKind | null>> = {
  queued: null,
  accepted: null,
  scheduled: null,
  sending: null,
  receiving: null,
  received: null,
  partially_delivered: null,
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
  canceled: 'failed',
  read: 'opened',
};

/**
 * Error codes that mean the number itself is bad (suppress it): 21211 invalid 'To', 21614 not a mobile number,
 * 30005 unknown destination handset, 30006 landline or unreachable carrier.
 */
const HARD_ERROR_CODES = new Set(['21211', '21614', '30005', '30006']);

export interface TwilioParseOptions {
  /** The callback URL Twilio called: its `notification_id` query parameter is our notification id. */
  url?: string;
  /** Time of receipt, used as occurredAt (default: now). */
  now?: Date | number;
}

/**
 * A Twilio status callback as a DeliveryEvent: sent, delivered, undelivered/failed/canceled→failed (hard for the
 * error codes of a bad number), read→opened. Returns null for states that record nothing (queued, accepted,
 * scheduled, sending, inbound ones) and for statuses Twilio may add later. Throws InboundPayloadError when
 * MessageSid or MessageStatus is missing or malformed.
 */
export function parseTwilioStatus(params: CallbackParams, options: TwilioParseOptions = {}): DeliveryEvent | null {
  return guarded('twilio', () => {
    if (!isRecord(params)) throw new InboundPayloadError('twilio', 'body', 'expected form parameters');
    const sid = singleParam('twilio', params, 'MessageSid') ?? singleParam('twilio', params, 'SmsSid');
    if (sid === undefined || sid.trim() === '') throw new InboundPayloadError('twilio', 'MessageSid', 'missing');
    const providerMessageId = checkMessageId('twilio', 'MessageSid', sid);
    if (!/^[A-Z]{2}[0-9a-f]{32}$/i.test(providerMessageId)) {
      throw new InboundPayloadError('twilio', 'MessageSid', 'expected a Twilio SID (two letters and 32 hex digits)');
    }
    const status = (singleParam('twilio', params, 'MessageStatus') ?? singleParam('twilio', params, 'SmsStatus'))?.trim().toLowerCase();
    if (!status) throw new InboundPayloadError('twilio', 'MessageStatus', 'missing');
    if (!Object.hasOwn(kinds, status)) return null;
    const kind = kinds[status];
    if (!kind) return null;

    const errorCode = singleParam('twilio', params, 'ErrorCode')?.trim() || undefined;
    const errorMessage = singleParam('twilio', params, 'ErrorMessage')?.trim() || undefined;
    const event: DeliveryEvent = {
      provider: 'twilio',
      providerEventId: derivedEventId('twilio', [providerMessageId, status, errorCode]),
      providerMessageId,
      kind,
      occurredAt: toDate(options.now).toISOString(),
      raw: rawFromParams(params),
    };
    const notificationId =
      notificationIdFromUrl(options.url) ?? notificationIdFrom(params[NOTIFICATION_ID_PARAM]) ?? notificationIdFrom(params.notificationId);
    if (notificationId) event.notificationId = notificationId;
    if (kind === 'failed') {
      event.hard = errorCode !== undefined && HARD_ERROR_CODES.has(errorCode);
      const reason = truncateReason(
        status === 'canceled' ? 'canceled' : [errorCode && `Twilio error ${errorCode}`, errorMessage].filter(Boolean).join(': ') || status,
      );
      if (reason) event.reason = reason;
    }
    return event;
  });
}
