import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import {
  checkMessageId,
  derivedEventId,
  guarded,
  InboundPayloadError,
  isoFromUnixSeconds,
  isRecord,
  mapBatch,
  notificationIdFrom,
  NOTIFICATION_ID_PARAM,
  optionalString,
  parseJsonEvents,
  redactRaw,
  requireString,
  strictEvents,
  toDate,
  truncateReason,
  type BatchLimits,
  type DeliveryEvent,
  type DeliveryKind,
  type InboundBatch,
  type VerificationResult,
} from './inbound-event.js';

/**
 * SendGrid Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event).
 *
 * - Signed Event Webhook: ECDSA P-256 / SHA-256 over the X-Twilio-Email-Event-Webhook-Timestamp header value
 *   followed by the raw body bytes; the X-Twilio-Email-Event-Webhook-Signature header is the base64 DER signature;
 *   the verification key is the base64 DER SubjectPublicKeyInfo shown in the SendGrid settings.
 * - The body is a JSON array of events. custom_args sent with the message come back as top-level fields
 *   (we use `notification_id`). sg_message_id is the X-Message-Id returned by /v3/mail/send followed by a
 *   `.`-separated per-recipient suffix (e.g. `euo2iKxdSayPF4YE4--I7A.recvd-5f54b5d587-…-6.0`): the part before the
 *   first `.` is what the sender stored.
 */

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

export interface SendGridVerifyInput {
  /** Base64 DER SubjectPublicKeyInfo, as SendGrid shows it (a PEM is accepted too). */
  publicKey: string;
  /** X-Twilio-Email-Event-Webhook-Signature. */
  signature: string | undefined | null;
  /** X-Twilio-Email-Event-Webhook-Timestamp (Unix seconds). */
  timestamp: string | undefined | null;
  /** The body exactly as received: re-serialised JSON does not verify. */
  rawBody: Buffer;
  /** When set, timestamps further than this from `now` are refused (replay protection). */
  toleranceSeconds?: number;
  /** The clock for the tolerance check: a Date or epoch milliseconds (default: the current time). */
  now?: Date | number;
}

const keyCache = new Map<string, KeyObject>();

function publicKeyFrom(text: string): KeyObject {
  const cached = keyCache.get(text);
  if (cached) return cached;
  const trimmed = text.trim();
  const key = trimmed.startsWith('-----BEGIN')
    ? createPublicKey({ key: trimmed, format: 'pem' })
    : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('not an ECDSA P-256 key');
  }
  if (keyCache.size >= 16) keyCache.clear();
  keyCache.set(text, key);
  return key;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function verifySendGridSignature(input: SendGridVerifyInput): VerificationResult {
  try {
    const { publicKey, signature, timestamp, rawBody, toleranceSeconds, now } = input;
    if (typeof publicKey !== 'string' || publicKey.trim().length === 0) return { ok: false, reason: 'no public key configured' };
    if (typeof signature !== 'string' || signature.trim().length === 0) return { ok: false, reason: 'missing signature header' };
    if (typeof timestamp !== 'string' || timestamp.trim().length === 0) return { ok: false, reason: 'missing timestamp header' };
    if (!Buffer.isBuffer(rawBody)) return { ok: false, reason: 'raw body is not a Buffer' };
    const ts = timestamp.trim();
    if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'malformed timestamp header' };
    if (toleranceSeconds !== undefined) {
      const skew = Math.abs(toDate(now).getTime() / 1000 - Number(ts));
      if (!(skew <= toleranceSeconds)) return { ok: false, reason: `timestamp outside the ${toleranceSeconds}s tolerance` };
    }
    const sig = signature.trim();
    // A DER ECDSA P-256 signature is at most 72 bytes (96 base64 characters).
    if (sig.length > 100 || !BASE64.test(sig)) return { ok: false, reason: 'malformed signature header' };
    let key: KeyObject;
    try {
      key = publicKeyFrom(publicKey);
    } catch {
      return { ok: false, reason: 'unusable public key (expected base64 DER SPKI of an ECDSA P-256 key)' };
    }
    const signed = Buffer.concat([Buffer.from(ts, 'utf8'), rawBody]);
    const valid = verify('sha256', signed, { key, dsaEncoding: 'der' }, Buffer.from(sig, 'base64'));
    return valid ? { ok: true } : { ok: false, reason: 'signature mismatch' };
  } catch {
    return { ok: false, reason: 'signature could not be verified' };
  }
}

const kinds: Readonly<Record<string, DeliveryKind>> = {
  processed: 'sent',
  delivered: 'delivered',
  deferred: 'deferred',
  bounce: 'bounced',
  dropped: 'failed',
  open: 'opened',
  click: 'clicked',
  spamreport: 'spam',
  unsubscribe: 'unsubscribed',
  group_unsubscribe: 'unsubscribed',
};

/** The X-Message-Id the sender stored: sg_message_id up to its first `.`. */
export function sendGridXMessageId(sgMessageId: string): string {
  const dot = sgMessageId.indexOf('.');
  return dot === -1 ? sgMessageId : sgMessageId.slice(0, dot);
}

function mapEvent(item: unknown, index: number): DeliveryEvent | { ignored: string } {
  const path = `[${index}].`;
  if (!isRecord(item)) throw new InboundPayloadError('sendgrid', `[${index}]`, 'expected an event object');
  const type = requireString('sendgrid', item, 'event', path);
  const kind = Object.hasOwn(kinds, type) ? kinds[type] : undefined;
  // group_resubscribe, account events, the settings page's test event: nothing to record.
  if (!kind) return { ignored: type };

  const sgMessageId = requireString('sendgrid', item, 'sg_message_id', path);
  const providerMessageId = checkMessageId('sendgrid', `${path}sg_message_id`, sendGridXMessageId(sgMessageId));
  const occurredAt = isoFromUnixSeconds('sendgrid', `${path}timestamp`, item.timestamp);
  const url = kind === 'clicked' ? requireString('sendgrid', item, 'url', path) : undefined;
  const sgEventId = optionalString('sendgrid', item, 'sg_event_id', path);

  const event: DeliveryEvent = {
    provider: 'sendgrid',
    providerEventId: sgEventId ?? derivedEventId('sendgrid', [sgMessageId, type, String(item.timestamp), url]),
    providerMessageId,
    kind,
    occurredAt,
    raw: redactRaw(item),
  };
  const notificationId = notificationIdFrom(item[NOTIFICATION_ID_PARAM]);
  if (notificationId) event.notificationId = notificationId;
  if (url !== undefined) event.url = url;

  if (kind === 'bounced') {
    // type "bounce" is a permanent rejection, "blocked" a temporary one; older payloads without `type` are told
    // apart by the enhanced status code (4.x.x temporary, 5.x.x permanent).
    const bounceType = optionalString('sendgrid', item, 'type', path);
    const status = typeof item.status === 'string' ? item.status : '';
    event.hard = bounceType === 'blocked' ? false : bounceType === 'bounce' ? true : !status.startsWith('4');
  }
  if (kind === 'bounced' || kind === 'failed' || kind === 'deferred') {
    const reasonText = typeof item.reason === 'string' ? item.reason : typeof item.response === 'string' ? item.response : undefined;
    const status = typeof item.status === 'string' && item.status.length > 0 ? item.status : undefined;
    const reason = truncateReason(status && reasonText && !reasonText.includes(status) ? `${status} ${reasonText}` : (reasonText ?? status));
    if (reason) event.reason = reason;
  }
  return event;
}

/**
 * Every event of a SendGrid webhook body: mapped ones, ignored types (group_resubscribe, test events…), and malformed
 * ones apart, so that one bad event does not make SendGrid retry the whole batch. Throws InboundPayloadError only
 * when the body itself is unusable (empty, not JSON, not objects, over the limits).
 */
export function parseSendGridEventBatch(rawBody: Buffer, limits?: BatchLimits): InboundBatch {
  return guarded('sendgrid', () => mapBatch('sendgrid', parseJsonEvents('sendgrid', rawBody, limits), mapEvent));
}

/**
 * The events of a SendGrid webhook body, mapped: processed→sent, delivered, deferred, bounce→bounced (hard unless
 * type "blocked"), dropped→failed, open→opened, click→clicked (url), spamreport→spam,
 * unsubscribe/group_unsubscribe→unsubscribed. Other event types are skipped. Throws InboundPayloadError (with the
 * field) for an unusable body or the first malformed event.
 */
export function parseSendGridEvents(rawBody: Buffer, limits?: BatchLimits): DeliveryEvent[] {
  return strictEvents(parseSendGridEventBatch(rawBody, limits));
}
