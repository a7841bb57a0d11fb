import {
  checkMessageId,
  derivedEventId,
  guarded,
  InboundPayloadError,
  isRecord,
  notificationIdFrom,
  NOTIFICATION_ID_PARAM,
  rawFromParams,
  singleParam,
  toDate,
  truncateReason,
  type CallbackParams,
  type DeliveryEvent,
  type DeliveryKind,
} from './inbound-event.js';

/**
 * OVHcloud SMS delivery receipts (DLR). The callback URL is set on the SMS API user (control panel "Callback", guide
 * "Tout savoir sur les utilisateurs SMS", step 5); when a message's status changes OVH calls it with these query
 * parameters:
 * - id: the SMS id (the `ids` returned by POST /sms/{serviceName}/jobs);
 * - ptt: a precise state code (table below; GET /sms/ptts describes them);
 * - date: the date of the DLR;
 * - description: the DLR state id — 0 creating/pending, 1 success, 2 failed, 4 waiting, 8 buffered, 16 error (not
 *   billed); descriptionDlr: its description. (OVH's pages are not consistent about which of the two carries the
 *   number, so whichever is numeric is used.)
 * There is no signature: the callback URL carries a secret token of ours, checked with verifyCallbackToken, and kept
 * out of `raw`. The URL is per API user, not per message, so the notification id is normally found through the
 * provider message id.
 */

interface PttInfo {
  kind: DeliveryKind;
  hard?: boolean;
  text: string;
}

/** OVH's documented ptt codes (non-exhaustive list published by OVH). */
export const ovhPttCodes: Readonly<Record<number, PttInfo>> = {
  1: { kind: 'deferred', text: 'not yet delivered (phone related problem), being retried' },
  2: { kind: 'deferred', text: 'not yet delivered (operator related problem), being retried within the network' },
  3: { kind: 'sent', text: 'accepted by the operator' },
  4: { kind: 'delivered', text: 'delivered' },
  5: { kind: 'failed', hard: false, text: 'undelivered, no detailed reason known' },
  6: { kind: 'sent', text: 'final state unknown: the operator gave no delivery information' },
  8: { kind: 'failed', hard: false, text: 'expired within the operator SMSC' },
  20: { kind: 'failed', hard: false, text: 'undeliverable in its current form' },
  21: { kind: 'failed', hard: false, text: 'expired for lack of subscriber credit' },
  23: { kind: 'failed', hard: true, text: 'incorrect, invalid, blacklisted or permanently barred number' },
  24: { kind: 'failed', hard: false, text: 'subscriber temporarily absent' },
  25: { kind: 'failed', hard: false, text: 'temporary condition in the operator network' },
  26: { kind: 'failed', hard: false, text: 'temporary phone related error' },
  27: { kind: 'failed', hard: true, text: 'handset permanently unable to receive this type of message' },
  28: { kind: 'failed', hard: false, text: 'rejected as suspected spam by the operator' },
  29: { kind: 'failed', hard: false, text: 'content not permitted on the network or shortcode' },
  33: { kind: 'failed', hard: false, text: 'parental lock' },
  39: { kind: 'failed', hard: false, text: 'new operator failure' },
  73: { kind: 'failed', hard: false, text: 'ported combination unreachable' },
  74: { kind: 'failed', hard: false, text: 'number roaming' },
  76: { kind: 'failed', hard: false, text: 'ported combination blocked for the client' },
  202: { kind: 'failed', hard: false, text: 'ported combination blocked for the client' },
};

/** OVH's DLR state ids. */
export const ovhDlrStates: Readonly<Record<number, { kind: DeliveryKind; final: boolean; text: string }>> = {
  0: { kind: 'sent', final: false, text: 'creating or pending' },
  1: { kind: 'delivered', final: true, text: 'success' },
  2: { kind: 'failed', final: true, text: 'failed' },
  4: { kind: 'deferred', final: false, text: 'waiting' },
  8: { kind: 'deferred', final: false, text: 'buffered' },
  16: { kind: 'failed', final: true, text: 'error (not billed)' },
};

const dlrStateByText: Readonly<Record<string, number>> = {
  'creating or pending': 0,
  pending: 0,
  success: 1,
  failed: 2,
  waiting: 4,
  buffered: 8,
  error: 16,
  'error (not billed)': 16,
};

function dlrStateOf(params: CallbackParams): number | undefined {
  const candidates = [singleParam('ovh', params, 'description'), singleParam('ovh', params, 'descriptionDlr'), singleParam('ovh', params, 'dlr')];
  for (const candidate of candidates) {
    const value = candidate?.trim();
    if (value && /^\d{1,3}$/.test(value)) return Number(value);
  }
  for (const candidate of candidates) {
    const value = candidate?.trim().toLowerCase();
    if (value && Object.hasOwn(dlrStateByText, value)) return dlrStateByText[value];
  }
  return undefined;
}

const PARIS = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Paris',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** A wall-clock time in Europe/Paris (OVH's) as an instant. */
function parisToUtc(year: number, month: number, day: number, hour: number, minute: number, second: number): Date {
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  const offsetAt = (instant: number): number => {
    const parts = Object.fromEntries(PARIS.formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
    const asUtc = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
    return asUtc - instant;
  };
  const first = wall - offsetAt(wall);
  return new Date(wall - offsetAt(first));
}

/**
 * OVH's DLR date: Unix seconds or milliseconds, ISO 8601 with an offset, or a local "YYYY-MM-DD HH:MM:SS" read as
 * Europe/Paris time. undefined when absent or unreadable (the receipt is still recorded, at the time of receipt).
 */
export function parseOvhDate(value: string | undefined): Date | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  let date: Date | undefined;
  if (/^\d{10}$/.test(text)) date = new Date(Number(text) * 1000);
  else if (/^\d{13}$/.test(text)) date = new Date(Number(text));
  else {
    const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
    if (local) {
      const [year, month, day, hour, minute, second] = local.slice(1).map((part) => Number(part ?? '0')) as [number, number, number, number, number, number];
      const calendar = new Date(Date.UTC(year, month - 1, day));
      const valid = calendar.getUTCMonth() === month - 1 && calendar.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
      if (valid) date = parisToUtc(year, month, day, hour, minute, second);
    } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
      date = new Date(text);
    }
  }
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

export interface OvhParseOptions {
  /** Time of receipt, used when the receipt has no readable date (default: now). */
  now?: Date | number;
  /** Query parameters to keep out of `raw` besides anything named like a token or secret (e.g. your token's name). */
  secretParams?: readonly string[];
}

/**
 * An OVH SMS delivery receipt as a DeliveryEvent. The DLR state decides when it is final (1 → delivered, 2 and
 * 16 → failed); otherwise the ptt code does (3 → sent, 4 → delivered, 1/2 → deferred, failure codes → failed, hard
 * for 23 and 27), then the DLR state (0 → sent, 4/8 → deferred). Throws InboundPayloadError when id is missing, ptt is
 * not a number, or neither code is known.
 */
export function parseOvhReceipt(params: CallbackParams, options: OvhParseOptions = {}): DeliveryEvent {
  return guarded('ovh', () => {
    if (!isRecord(params)) throw new InboundPayloadError('ovh', 'query', 'expected query parameters');
    const id = singleParam('ovh', params, 'id');
    if (id === undefined || id.trim() === '') throw new InboundPayloadError('ovh', 'id', 'missing');
    const providerMessageId = checkMessageId('ovh', 'id', id);

    const pttText = singleParam('ovh', params, 'ptt')?.trim() || undefined;
    if (pttText !== undefined && !/^\d{1,4}$/.test(pttText)) throw new InboundPayloadError('ovh', 'ptt', 'expected a numeric code');
    const ptt = pttText === undefined ? undefined : Number(pttText);
    const pttInfo = ptt !== undefined && Object.hasOwn(ovhPttCodes, ptt) ? ovhPttCodes[ptt] : undefined;
    const dlr = dlrStateOf(params);
    const dlrInfo = dlr !== undefined && Object.hasOwn(ovhDlrStates, dlr) ? ovhDlrStates[dlr] : undefined;

    const kind: DeliveryKind | undefined = dlrInfo?.final ? dlrInfo.kind : (pttInfo?.kind ?? dlrInfo?.kind);
    if (!kind) {
      throw new InboundPayloadError(
        'ovh',
        ptt !== undefined ? 'ptt' : 'description',
        `unknown delivery state (ptt ${pttText ?? 'absent'}, DLR state ${dlr ?? 'absent'})`,
      );
    }

    const dateText = singleParam('ovh', params, 'date');
    const occurredAt = (parseOvhDate(dateText) ?? toDate(options.now)).toISOString();
    const event: DeliveryEvent = {
      provider: 'ovh',
      providerEventId: derivedEventId('ovh', [providerMessageId, pttText, dlr, dateText?.trim()]),
      providerMessageId,
      kind,
      occurredAt,
      raw: rawFromParams(params, options.secretParams ?? []),
    };
    const notificationId = notificationIdFrom(params[NOTIFICATION_ID_PARAM]);
    if (notificationId) event.notificationId = notificationId;
    if (kind === 'failed' || kind === 'deferred') {
      const pttExplains = pttInfo && (pttInfo.kind === 'failed' || pttInfo.kind === 'deferred');
      const reason = truncateReason(
        pttExplains
          ? `ptt ${ptt}: ${pttInfo.text}`
          : [ptt !== undefined ? `ptt ${ptt}` : undefined, dlrInfo ? `DLR ${dlrInfo.text}` : undefined].filter(Boolean).join(', '),
      );
      if (reason) event.reason = reason;
      if (kind === 'failed') event.hard = pttExplains ? pttInfo.hard === true : false;
    }
    return event;
  });
}
