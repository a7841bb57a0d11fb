import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The normalized form of what e-mail and SMS providers tell us after a send (delivery receipts, bounces, opens,
 * clicks, complaints, unsubscriptions), and the helpers the per-provider parsers share. Everything here is pure and
 * framework-free: the HTTP route hands over the raw body, headers, public URL and parsed params.
 */

export const inboundProviders = ['sendgrid', 'mailjet', 'twilio', 'ovh'] as const;
export type InboundProvider = (typeof inboundProviders)[number];

export const deliveryKinds = [
  'sent',
  'delivered',
  'deferred',
  'bounced',
  'failed',
  'opened',
  'clicked',
  'unsubscribed',
  'spam',
] as const;
export type DeliveryKind = (typeof deliveryKinds)[number];

export interface DeliveryEvent {
  provider: InboundProvider;
  /**
   * Stable, for idempotency: the provider's own event id (SendGrid sg_event_id), or `sha256:<hex>` of the message id,
   * the status and the provider's timestamp (plus the URL for clicks) when the provider gives none. A redelivered
   * callback gives the same id.
   */
  providerEventId: string;
  /** The id the provider gave at send time (SendGrid X-Message-Id, Mailjet MessageID, Twilio MessageSid, OVH id). */
  providerMessageId: string;
  /** Ours, when the provider echoes it (SendGrid custom_args, Mailjet CustomID, a callback URL query parameter). */
  notificationId?: string;
  kind: DeliveryKind;
  /** bounced/failed: true when the address or number is bad for good (suppress it), false when it may work later. */
  hard?: boolean;
  /** clicked: the link. */
  url?: string;
  /** What the provider said went wrong (SMTP response, error code and text). */
  reason?: string;
  /** ISO 8601, UTC. */
  occurredAt: string;
  /** The provider's event as received, minus anything that looks like a secret (tokens, passwords, signatures). */
  raw: Record<string, unknown>;
}

export type VerificationResult = { ok: true } | { ok: false; reason: string };

/** A payload that does not have the shape the provider documents. `field` says where (e.g. `[3].sg_message_id`). */
export class InboundPayloadError extends Error {
  constructor(
    readonly provider: InboundProvider,
    readonly field: string,
    message: string,
  ) {
    super(`${provider} payload, ${field}: ${message}`);
    this.name = 'InboundPayloadError';
  }
}

export function isInboundPayloadError(error: unknown): error is InboundPayloadError {
  return error instanceof InboundPayloadError;
}

/** What a batch parser (SendGrid, Mailjet) found: the events it maps, the ones it skips, and the malformed ones. */
export interface InboundBatch {
  events: DeliveryEvent[];
  /** Well-formed events of a type we do not track (e.g. SendGrid group_resubscribe, the dashboard's test event). */
  ignored: Array<{ index: number; event: string }>;
  /** Malformed events; the others are still returned. */
  invalid: InboundPayloadError[];
}

/** Query parameter / custom argument that carries our notification id (SendGrid custom_args, callback URLs). */
export const NOTIFICATION_ID_PARAM = 'notification_id';

export interface BatchLimits {
  /** Refuse bodies larger than this before parsing (default 8 MiB). */
  maxBodyBytes?: number;
  /** Refuse batches with more events than this (default 10,000). */
  maxEvents?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_EVENTS = 10_000;
/** Longest reason kept (the domain's MAX_NOTIFICATION_ERROR_LENGTH). */
export const MAX_REASON_LENGTH = 2_000;
/** Longest provider message id accepted (the domain's provider_message_id limit). */
export const MAX_PROVIDER_MESSAGE_ID_LENGTH = 200;
const MAX_NOTIFICATION_ID_LENGTH = 200;
const MAX_RAW_DEPTH = 8;

// ---- comparisons --------------------------------------------------------------------------------------------------

/**
 * Constant-time string equality: both sides are hashed first, so neither the content nor the length of the expected
 * value leaks through timing.
 */
export function timingSafeStringEqual(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * For callbacks without a signature (OVH): the secret token we put in the callback URL. `given` is whatever the
 * query parser produced (a string, an array when repeated, nothing).
 */
export function verifyCallbackToken(input: { expected: string; given: unknown }): VerificationResult {
  try {
    const { expected, given } = input ?? ({} as { expected: string; given: unknown });
    if (typeof expected !== 'string' || expected.length === 0) return { ok: false, reason: 'no callback token configured' };
    const value = Array.isArray(given) && given.length === 1 ? (given[0] as unknown) : given;
    if (typeof value !== 'string' || value.length === 0) return { ok: false, reason: 'missing callback token' };
    return timingSafeStringEqual(expected, value) ? { ok: true } : { ok: false, reason: 'callback token mismatch' };
  } catch {
    return { ok: false, reason: 'unreadable callback token' };
  }
}

// ---- ids and times ------------------------------------------------------------------------------------------------

/** `sha256:<hex>` over the provider and the given parts: the event id of providers that have none. */
export function derivedEventId(provider: InboundProvider, parts: ReadonlyArray<string | number | undefined>): string {
  const canonical = JSON.stringify([provider, ...parts.map((part) => (part === undefined ? null : String(part)))]);
  return `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

/** Unix seconds (a number, or a string of digits) → ISO 8601. */
export function isoFromUnixSeconds(provider: InboundProvider, field: string, value: unknown): string {
  const seconds = typeof value === 'string' && /^\d{1,12}(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) {
    throw new InboundPayloadError(provider, field, 'expected a Unix timestamp in seconds');
  }
  // 1e11 s is the year 5138: a larger value is most likely milliseconds, which the providers here never send.
  if (seconds <= 0 || seconds >= 1e11) throw new InboundPayloadError(provider, field, `timestamp out of range: ${seconds}`);
  return new Date(Math.round(seconds * 1000)).toISOString();
}

export function toDate(now: Date | number | undefined): Date {
  if (now instanceof Date) return now;
  if (typeof now === 'number') return new Date(now);
  return new Date();
}

// ---- field readers ------------------------------------------------------------------------------------------------

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireString(
  provider: InboundProvider,
  object: Record<string, unknown>,
  key: string,
  path: string,
): string {
  const value = object[key];
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new InboundPayloadError(provider, `${path}${key}`, value === undefined ? 'missing' : 'expected a non-empty string');
  }
  return value;
}

export function optionalString(
  provider: InboundProvider,
  object: Record<string, unknown>,
  key: string,
  path: string,
): string | undefined {
  const value = object[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new InboundPayloadError(provider, `${path}${key}`, 'expected a string');
  return value;
}

export function checkMessageId(provider: InboundProvider, field: string, id: string): string {
  const trimmed = id.trim();
  if (trimmed.length === 0) throw new InboundPayloadError(provider, field, 'empty message id');
  if (trimmed.length > MAX_PROVIDER_MESSAGE_ID_LENGTH) {
    throw new InboundPayloadError(provider, field, `message id longer than ${MAX_PROVIDER_MESSAGE_ID_LENGTH} characters`);
  }
  return trimmed;
}

/** Our notification id, when the value is a plausible one; anything else is left out rather than refused. */
export function notificationIdFrom(value: unknown): string | undefined {
  const single = Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
  if (typeof single !== 'string') return undefined;
  const trimmed = single.trim();
  return trimmed.length > 0 && trimmed.length <= MAX_NOTIFICATION_ID_LENGTH ? trimmed : undefined;
}

/** The `notification_id` (or `notificationId`) query parameter of a callback URL. */
export function notificationIdFromUrl(url: string | undefined): string | undefined {
  if (typeof url !== 'string' || url.length === 0) return undefined;
  try {
    const parsed = new URL(url);
    return notificationIdFrom(parsed.searchParams.get(NOTIFICATION_ID_PARAM) ?? parsed.searchParams.get('notificationId'));
  } catch {
    return undefined;
  }
}

export function truncateReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const trimmed = reason.trim();
  if (trimmed.length === 0) return undefined;
  return trimmed.length > MAX_REASON_LENGTH ? `${trimmed.slice(0, MAX_REASON_LENGTH - 1)}…` : trimmed;
}

/** Form or query parameters as parsers give them: a string, an array when a name repeats, or nothing. */
export type CallbackParams = Readonly<Record<string, string | readonly string[] | undefined>>;

/** One parameter's value; a repeated parameter is refused (a provider never repeats these). */
export function singleParam(provider: InboundProvider, params: CallbackParams, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (value.length === 1 && typeof value[0] === 'string') return value[0];
    throw new InboundPayloadError(provider, name, 'parameter repeated');
  }
  throw new InboundPayloadError(provider, name, 'expected a string');
}

// ---- raw payloads -------------------------------------------------------------------------------------------------

const SECRET_KEY = /(token|secret|passw(or)?d|signature|authorization|api[_-]?key|credential)/i;

/**
 * A copy of a provider payload without keys that look like secrets (at any depth) and with nesting capped, for
 * `DeliveryEvent.raw`. `extraSecretKeys` names further keys to drop, e.g. the query parameter carrying our token.
 */
export function redactRaw(value: Record<string, unknown>, extraSecretKeys: readonly string[] = []): Record<string, unknown> {
  const extra = new Set(extraSecretKeys.map((key) => key.toLowerCase()));
  const walk = (node: unknown, depth: number): unknown => {
    if (Array.isArray(node)) return depth >= MAX_RAW_DEPTH ? '[truncated]' : node.map((item) => walk(item, depth + 1));
    if (isRecord(node)) {
      if (depth >= MAX_RAW_DEPTH) return '[truncated]';
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) {
        if (SECRET_KEY.test(key) || extra.has(key.toLowerCase())) continue;
        out[key] = walk(item, depth + 1);
      }
      return out;
    }
    return node;
  };
  return walk(value, 0) as Record<string, unknown>;
}

/** Query/form params as a plain record for `raw` (arrays kept as arrays), secrets removed. */
export function rawFromParams(params: CallbackParams, extraSecretKeys: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    out[key] = typeof value === 'string' ? value : [...value];
  }
  return redactRaw(out, extraSecretKeys);
}

// ---- JSON bodies --------------------------------------------------------------------------------------------------

/**
 * Rewrites integer literals too large for a double as strings, so that JSON.parse keeps them exact: Mailjet's
 * MessageID (e.g. 19421777835146490) is above 2^53 and would otherwise be silently rounded. Strings are skipped
 * token by token, so digits inside them are never touched.
 */
export function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let copiedUpTo = 0;
  let i = 0;
  const length = text.length;
  while (i < length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < length) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) {
          i++;
          break;
        } else i++;
      }
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < length) {
        const d = text.charCodeAt(i);
        const numeric = (d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x2b || d === 0x2d || d === 0x45 || d === 0x65;
        if (!numeric) break;
        i++;
      }
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copiedUpTo, start)}"${token}"`;
        copiedUpTo = i;
      }
      continue;
    }
    i++;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/**
 * Parses a JSON webhook body that holds one event object or an array of them, within limits. Throws an
 * InboundPayloadError (field `body`) for anything else.
 */
export function parseJsonEvents(provider: InboundProvider, rawBody: unknown, limits: BatchLimits = {}): unknown[] {
  const maxBodyBytes = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
  if (!Buffer.isBuffer(rawBody)) throw new InboundPayloadError(provider, 'body', 'expected the raw body as a Buffer');
  if (rawBody.length === 0) throw new InboundPayloadError(provider, 'body', 'empty body');
  if (rawBody.length > maxBodyBytes) {
    throw new InboundPayloadError(provider, 'body', `body of ${rawBody.length} bytes exceeds the ${maxBodyBytes}-byte limit`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteUnsafeIntegers(rawBody.toString('utf8')));
  } catch {
    throw new InboundPayloadError(provider, 'body', 'not valid JSON');
  }
  const events = Array.isArray(parsed) ? parsed : isRecord(parsed) ? [parsed] : undefined;
  if (!events) throw new InboundPayloadError(provider, 'body', 'expected a JSON object or an array of objects');
  if (events.length === 0) throw new InboundPayloadError(provider, 'body', 'no events');
  if (events.length > maxEvents) {
    throw new InboundPayloadError(provider, 'body', `${events.length} events exceed the limit of ${maxEvents}`);
  }
  return events;
}

/**
 * Runs a per-event mapper over a batch: mapped events, ignored types and malformed events apart. The mapper returns
 * `{ ignored: type }` for event types we do not track and throws InboundPayloadError for malformed ones.
 */
export function mapBatch(
  provider: InboundProvider,
  items: unknown[],
  map: (item: unknown, index: number) => DeliveryEvent | { ignored: string },
): InboundBatch {
  const batch: InboundBatch = { events: [], ignored: [], invalid: [] };
  items.forEach((item, index) => {
    try {
      const result = map(item, index);
      if ('ignored' in result) batch.ignored.push({ index, event: result.ignored });
      else batch.events.push(result);
    } catch (error) {
      batch.invalid.push(
        error instanceof InboundPayloadError ? error : new InboundPayloadError(provider, `[${index}]`, 'unreadable event'),
      );
    }
  });
  return batch;
}

/** The strict form of a batch: its events, or the first malformed event's error. */
export function strictEvents(batch: InboundBatch): DeliveryEvent[] {
  const [first] = batch.invalid;
  if (first) throw first;
  return batch.events;
}

/** Any unexpected exception from parsing becomes an InboundPayloadError: parsers never crash the caller. */
export function guarded<T>(provider: InboundProvider, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InboundPayloadError) throw error;
    throw new InboundPayloadError(provider, 'body', 'unreadable payload');
  }
}
