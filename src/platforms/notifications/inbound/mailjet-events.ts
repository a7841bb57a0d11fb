import {
  checkMessageId,
  derivedEventId,
  guarded,
  InboundPayloadError,
  isoFromUnixSeconds,
  isRecord,
  mapBatch,
  notificationIdFrom,
  optionalString,
  parseJsonEvents,
  redactRaw,
  requireString,
  strictEvents,
  timingSafeStringEqual,
  truncateReason,
  type BatchLimits,
  type DeliveryEvent,
  type DeliveryKind,
  type InboundBatch,
  type VerificationResult,
} from './inbound-event.js';

/**
 * Mailjet Event API (https://dev.mailjet.com/email/guides/webhooks/, mailjet/api-documentation guides/_event-api.md).
 *
 * - No signature: Mailjet recommends HTTPS with basic auth credentials in the callback URL
 *   (https://user:password@host/path), which arrive as an `Authorization: Basic` header.
 * - One JSON object per request, or a JSON array of events when the callback is registered with Version 2
 *   (events of the last second, types mixed).
 * - Every event has event, time (Unix seconds), email, MessageID, CustomID (ours: the notification id), Payload.
 *   MessageID is an integer above 2^53 (e.g. 19421777835146490): it is read from the JSON text exactly, never through
 *   a double; older grouped events carry it only as the string mj_message_id.
 * - sent is dispatched when the recipient's SMTP server accepted the message: it maps to `delivered`.
 */

export interface MailjetBasicAuthInput {
  expectedUser: string;
  expectedPassword: string;
  /** The Authorization header as received. */
  authorizationHeader: string | undefined | null;
}

export function verifyMailjetBasicAuth(input: MailjetBasicAuthInput): VerificationResult {
  try {
    const { expectedUser, expectedPassword, authorizationHeader } = input;
    if (typeof expectedUser !== 'string' || expectedUser.length === 0 || typeof expectedPassword !== 'string' || expectedPassword.length === 0) {
      return { ok: false, reason: 'no basic auth credentials configured' };
    }
    if (typeof authorizationHeader !== 'string' || authorizationHeader.trim().length === 0) {
      return { ok: false, reason: 'missing Authorization header' };
    }
    const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorizationHeader.trim());
    if (!match) return { ok: false, reason: 'Authorization is not Basic credentials' };
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return { ok: false, reason: 'malformed Basic credentials' };
    // Both comparisons always run: which half was wrong does not show in the timing.
    const userOk = timingSafeStringEqual(expectedUser, decoded.slice(0, colon));
    const passwordOk = timingSafeStringEqual(expectedPassword, decoded.slice(colon + 1));
    return userOk && passwordOk ? { ok: true } : { ok: false, reason: 'credentials mismatch' };
  } catch {
    return { ok: false, reason: 'credentials could not be verified' };
  }
}

const kinds: Readonly<Record<string, DeliveryKind>> = {
  sent: 'delivered',
  open: 'opened',
  click: 'clicked',
  bounce: 'bounced',
  blocked: 'failed',
  spam: 'spam',
  unsub: 'unsubscribed',
};

function messageIdOf(item: Record<string, unknown>, path: string): string {
  const value = item.MessageID ?? item.mj_message_id;
  const field = item.MessageID !== undefined ? `${path}MessageID` : `${path}mj_message_id`;
  if (value === undefined || value === null) throw new InboundPayloadError('mailjet', `${path}MessageID`, 'missing');
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new InboundPayloadError('mailjet', field, 'expected a non-negative integer');
    return String(value);
  }
  if (typeof value === 'string') return checkMessageId('mailjet', field, value);
  throw new InboundPayloadError('mailjet', field, 'expected an integer or a string');
}

function mapEvent(item: unknown, index: number): DeliveryEvent | { ignored: string } {
  const path = `[${index}].`;
  if (!isRecord(item)) throw new InboundPayloadError('mailjet', `[${index}]`, 'expected an event object');
  const type = requireString('mailjet', item, 'event', path);
  const kind = Object.hasOwn(kinds, type) ? kinds[type] : undefined;
  if (!kind) return { ignored: type };

  const providerMessageId = messageIdOf(item, path);
  const occurredAt = isoFromUnixSeconds('mailjet', `${path}time`, item.time);
  const url = kind === 'clicked' ? requireString('mailjet', item, 'url', path) : undefined;

  const event: DeliveryEvent = {
    provider: 'mailjet',
    providerEventId: derivedEventId('mailjet', [providerMessageId, type, String(item.time), url]),
    providerMessageId,
    kind,
    occurredAt,
    raw: redactRaw(item),
  };
  const notificationId = notificationIdFrom(item.CustomID);
  if (notificationId) event.notificationId = notificationId;
  if (url !== undefined) event.url = url;
  if (kind === 'bounced') {
    if (item.hard_bounce !== undefined && typeof item.hard_bounce !== 'boolean') {
      throw new InboundPayloadError('mailjet', `${path}hard_bounce`, 'expected a boolean');
    }
    event.hard = item.hard_bounce === true;
  }
  if (kind === 'bounced' || kind === 'failed') {
    const relatedTo = optionalString('mailjet', item, 'error_related_to', path);
    const error = optionalString('mailjet', item, 'error', path);
    const comment = typeof item.comment === 'string' ? item.comment : undefined;
    const reason = truncateReason([relatedTo, error].filter(Boolean).join(': ') + (comment ? ` (${comment})` : ''));
    if (reason) event.reason = reason;
  }
  return event;
}

/**
 * Every event of a Mailjet Event API body (one object, or an array with Version 2): mapped ones, ignored types, and
 * malformed ones apart. Throws InboundPayloadError only when the body itself is unusable.
 */
export function parseMailjetEventBatch(rawBody: Buffer, limits?: BatchLimits): InboundBatch {
  return guarded('mailjet', () => mapBatch('mailjet', parseJsonEvents('mailjet', rawBody, limits), mapEvent));
}

/**
 * The events of a Mailjet Event API body, mapped: sent→delivered, open→opened, click→clicked (url),
 * bounce→bounced (hard = hard_bounce), blocked→failed, spam, unsub→unsubscribed. Other types are skipped. Throws
 * InboundPayloadError (with the field) for an unusable body or the first malformed event.
 */
export function parseMailjetEvents(rawBody: Buffer, limits?: BatchLimits): DeliveryEvent[] {
  return strictEvents(parseMailjetEventBatch(rawBody, limits));
}
