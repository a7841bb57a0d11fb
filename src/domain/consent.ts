import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { MAX_PUSH_TOKEN_LENGTH, notificationChannels, type NotificationChannel } from './notification-events.js';
import { assertValidRecipient } from './notification-rules.js';

/**
 * Consent: what one recipient agreed to on one channel (French rules for marketing messages: CNIL, CPCE L34-5), and
 * whether the address is suppressed. One stream per (recipient, channel), named `consent-<sha256>` so that stream ids
 * carry no personal data (consentStreamId).
 *
 * Two independent facts live here:
 * - consent (RecordConsent → ConsentGranted / ConsentWithdrawn): marketing needs it granted; null until recorded;
 * - suppressions (SuppressRecipient → RecipientSuppressed, ReleaseSuppression → SuppressionReleased), one per reason,
 *   several at once possible. What a suppression blocks on its channel (suppressionScopes):
 *     hard_bounce, spam_report → every message, transactional included (the address is dead, or the person reported
 *                                us as spam: sending anything more hurts them and our sender reputation);
 *     unsubscribe, stop        → marketing only (the person opted out of promotions; a booking confirmation still goes).
 *
 * Rules:
 * - recording the state already recorded gives no event (consent granted twice, a reason suppressed twice, releasing a
 *   reason that is not active);
 * - an unsubscribe or a STOP is also a withdrawal of consent: SuppressRecipient with those reasons withdraws consent
 *   in the same append, unless it is already withdrawn;
 * - granting consent again does not lift a suppression: a CRM sync that re-sends stale consent must not re-subscribe
 *   someone who clicked "unsubscribe". Re-subscribing takes an explicit ReleaseSuppression too;
 * - the recipient is normalized (trimmed, lower-cased) before it is stored, so every spelling finds one stream;
 * - erasure (EraseRecipient → RecipientErased, a GDPR erasure request passed on by the CRM) blocks every message to the
 *   address for good and names it only by its hash. Nothing after it is recorded with the address again: a consent
 *   granted again is refused (recipient_erased), the other commands record nothing.
 */

export const suppressionReasons = ['unsubscribe', 'hard_bounce', 'stop', 'spam_report'] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

export const messageKinds = ['marketing', 'transactional'] as const;
export type MessageKind = (typeof messageKinds)[number];

/** What each suppression reason blocks on its channel: 'all' messages, or 'marketing' only. */
export const suppressionScopes: Record<SuppressionReason, 'all' | 'marketing'> = {
  hard_bounce: 'all',
  spam_report: 'all',
  unsubscribe: 'marketing',
  stop: 'marketing',
};

/** Most restrictive first: the reason a read model shows when several are active. */
export const suppressionSeverity: readonly SuppressionReason[] = ['spam_report', 'hard_bounce', 'stop', 'unsubscribe'];

export function suppressionBlocks(reason: SuppressionReason, kind: MessageKind): boolean {
  return suppressionScopes[reason] === 'all' || kind === 'marketing';
}

export const MAX_CONSENT_SOURCE_LENGTH = 100;

/** Where a consent or suppression came from: 'crm', 'website_form', 'in_restaurant', 'unsubscribe_link', 'twilio'… */
export const consentSourceSchema = z.string().trim().min(1).max(MAX_CONSENT_SOURCE_LENGTH);

export function normalizeRecipient(recipient: string): string {
  return recipient.trim().toLowerCase();
}

/** `consent-<sha256 hex of normalized recipient + ':' + channel>`: the stream of one (recipient, channel). */
export function consentStreamId(recipient: string, channel: NotificationChannel): string {
  return `consent-${createHash('sha256').update(`${normalizeRecipient(recipient)}:${channel}`, 'utf8').digest('hex')}`;
}

// ---- events -------------------------------------------------------------------------------------------------------

const timestamp = z.iso.datetime({ offset: true });
const subject = {
  recipient: z.string().min(1).max(MAX_PUSH_TOKEN_LENGTH),
  channel: z.enum(notificationChannels),
  source: z.string().min(1).max(MAX_CONSENT_SOURCE_LENGTH),
  at: timestamp,
};

export const ConsentGranted = defineEvent('ConsentGranted', 1, z.object(subject));
export const ConsentWithdrawn = defineEvent('ConsentWithdrawn', 1, z.object(subject));
export const RecipientSuppressed = defineEvent(
  'RecipientSuppressed',
  1,
  z.object({ ...subject, reason: z.enum(suppressionReasons) }),
);
export const SuppressionReleased = defineEvent(
  'SuppressionReleased',
  1,
  z.object({ ...subject, reason: z.enum(suppressionReasons) }),
);

/**
 * The address was erased (GDPR): no message of any kind goes to it any more. Only the hash of the address
 * (recipientHash: sha256 of "address:channel", also this stream's id) is recorded, never the address.
 */
export const RecipientErased = defineEvent(
  'RecipientErased',
  1,
  z.object({
    recipient_hash: z.string().regex(/^[0-9a-f]{64}$/),
    channel: z.enum(notificationChannels),
    source: z.string().min(1).max(MAX_CONSENT_SOURCE_LENGTH),
    at: timestamp,
  }),
);

export const consentEvents = {
  ConsentGranted,
  ConsentWithdrawn,
  RecipientSuppressed,
  SuppressionReleased,
  RecipientErased,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type ConsentEvent = EventOf<(typeof consentEvents)[keyof typeof consentEvents]>;

// ---- commands -----------------------------------------------------------------------------------------------------

interface Subject {
  recipient: string;
  channel: NotificationChannel;
  source: string;
  /** Given by the caller: deciders read no clock. */
  now: string;
}

export type ConsentCommand =
  | ({ type: 'RecordConsent'; granted: boolean } & Subject)
  | ({ type: 'SuppressRecipient'; reason: SuppressionReason } & Subject)
  | ({ type: 'ReleaseSuppression'; reason: SuppressionReason } & Subject)
  | ({ type: 'EraseRecipient' } & Subject);

// ---- state --------------------------------------------------------------------------------------------------------

export interface ConsentMark {
  source: string;
  at: string;
}

export interface ConsentState {
  /** Normalized; null for a stream with no events. */
  recipient: string | null;
  channel: NotificationChannel | null;
  /** null: never recorded (which, for marketing, is no consent). */
  consent: ({ granted: boolean } & ConsentMark) | null;
  /** The active suppressions, by reason. */
  suppressions: Partial<Record<SuppressionReason, ConsentMark>>;
  /** Set once the address was erased (absent in states rebuilt before erasure existed). */
  erased?: ConsentMark | null;
}

export const consentDecider: Decider<ConsentCommand, ConsentEvent, ConsentState> = {
  initialState: () => ({ recipient: null, channel: null, consent: null, suppressions: {} }),
  decide,
  evolve,
};

function decide(command: ConsentCommand, state: ConsentState): ConsentEvent[] {
  const recipient = normalizeRecipient(command.recipient);
  const { channel, now: at } = command;
  assertValidRecipient(channel, recipient);
  const source = checkedSource(command.source);
  if (state.recipient !== null && (state.recipient !== recipient || state.channel !== channel)) {
    throw new DomainError('consent_stream_mismatch', 'The command names another recipient or channel than its stream', [
      { path: 'recipient', message: 'does not match the stream' },
    ]);
  }
  const data = { recipient, channel, source, at };
  if (state.erased) {
    if (command.type === 'RecordConsent' && command.granted) {
      throw new DomainError('recipient_erased', 'This address was erased at the person’s request: no consent can be recorded for it', [
        { path: 'recipient', message: 'erased (GDPR erasure request)' },
      ]);
    }
    return [];
  }
  switch (command.type) {
    case 'RecordConsent':
      if (state.consent?.granted === command.granted) return [];
      return [{ type: command.granted ? 'ConsentGranted' : 'ConsentWithdrawn', data }];
    case 'SuppressRecipient': {
      const events: ConsentEvent[] = [];
      if (!state.suppressions[command.reason]) events.push({ type: 'RecipientSuppressed', data: { ...data, reason: command.reason } });
      const optOut = suppressionScopes[command.reason] === 'marketing';
      if (optOut && state.consent?.granted !== false) events.push({ type: 'ConsentWithdrawn', data });
      return events;
    }
    case 'ReleaseSuppression':
      if (!state.suppressions[command.reason]) return [];
      return [{ type: 'SuppressionReleased', data: { ...data, reason: command.reason } }];
    case 'EraseRecipient':
      return [{ type: 'RecipientErased', data: { recipient_hash: consentStreamId(recipient, channel).slice('consent-'.length), channel, source, at } }];
  }
}

function evolve(state: ConsentState, event: ConsentEvent): ConsentState {
  if (event.type === 'RecipientErased') {
    const { channel, source, at } = event.data;
    return { ...state, channel, consent: null, suppressions: {}, erased: { source, at } };
  }
  const { recipient, channel, source, at } = event.data;
  const next = { ...state, recipient, channel };
  switch (event.type) {
    case 'ConsentGranted':
      return { ...next, consent: { granted: true, source, at } };
    case 'ConsentWithdrawn':
      return { ...next, consent: { granted: false, source, at } };
    case 'RecipientSuppressed':
      return { ...next, suppressions: { ...state.suppressions, [event.data.reason]: { source, at } } };
    case 'SuppressionReleased': {
      const { [event.data.reason]: _released, ...others } = state.suppressions;
      return { ...next, suppressions: others };
    }
  }
}

/** The active suppression reasons, most restrictive first. */
export function activeSuppressions(state: Pick<ConsentState, 'suppressions'>): SuppressionReason[] {
  return suppressionSeverity.filter((reason) => state.suppressions[reason] !== undefined);
}

function checkedSource(source: string): string {
  const parsed = consentSourceSchema.safeParse(source);
  if (!parsed.success) {
    throw new DomainError('invalid_source', 'Invalid source', [{ path: 'source', message: parsed.error.issues[0]?.message ?? 'invalid' }]);
  }
  return parsed.data;
}
