import { suppressionBlocks, suppressionScopes, suppressionSeverity, type MessageKind, type SuppressionReason } from '../../../domain/consent.js';
import type { NotificationChannel, NotificationSkipReason } from '../../../domain/notification.js';
import { nextSendableTime, type QuietHoursRules } from './quiet-hours.js';

/**
 * The consent policy the notification worker applies just before sending (French rules for marketing messages;
 * transactional messages are exempt from consent and quiet hours):
 *
 * 0. an erased address (GDPR erasure request) → skip 'suppressed', whatever the kind;
 * 1. a suppression that blocks every message (hard_bounce, spam_report) → skip 'suppressed', whatever the kind;
 * 2. transactional → send;
 * 3. marketing, opted out by suppression (unsubscribe, stop) → skip 'opted_out';
 * 4. marketing, consent recorded as refused or withdrawn → skip 'opted_out'; never recorded → skip 'no_consent';
 * 5. marketing SMS in quiet hours (default: outside Monday–Saturday 10:00–20:00 Paris, Sundays and public holidays)
 *    → defer until the next allowed time;
 * 6. otherwise → send.
 *
 * It reads the consents read model, which follows the consent streams a few milliseconds behind: a withdrawal recorded
 * in the very same instant as a send may not be seen by it.
 */

export type ConsentDecision =
  | { send: true }
  | { send: false; skip: NotificationSkipReason; detail: string }
  | { send: false; deferUntil: Date };

export interface ConsentCheck {
  recipient: string;
  channel: NotificationChannel;
  kind: MessageKind;
  at: Date;
}

/** What the policy needs to know of one (recipient, channel): the consents read model row. */
export interface ConsentSnapshot {
  /** null: never recorded. */
  granted: boolean | null;
  /** Who recorded the current consent state. */
  source: string | null;
  /** The active suppressions. */
  suppressions: readonly { reason: SuppressionReason; source: string }[];
  /** The address was erased at the person's request: nothing goes to it any more. */
  erased?: boolean;
}

export interface ConsentLookup {
  find(recipient: string, channel: NotificationChannel): Promise<ConsentSnapshot | null>;
}

export interface ConsentPolicyOptions {
  /** Quiet hours of marketing SMS (defaults: see quiet-hours.ts). */
  quietHours?: Partial<QuietHoursRules>;
}

export class ConsentPolicy {
  constructor(
    private readonly lookup: ConsentLookup,
    private readonly options: ConsentPolicyOptions = {},
  ) {}

  async check(input: ConsentCheck): Promise<ConsentDecision> {
    const snapshot = await this.lookup.find(input.recipient, input.channel);
    return decideConsent(snapshot, input, this.options);
  }
}

/** The policy as a pure function of what the read model holds (null: nothing recorded for this recipient). */
export function decideConsent(snapshot: ConsentSnapshot | null, input: ConsentCheck, options: ConsentPolicyOptions = {}): ConsentDecision {
  const { channel, kind } = input;
  if (snapshot?.erased) return { send: false, skip: 'suppressed', detail: `${channel} recipient erased (GDPR erasure request): blocks every message` };
  const suppressions = [...(snapshot?.suppressions ?? [])].sort(
    (a, b) => suppressionSeverity.indexOf(a.reason) - suppressionSeverity.indexOf(b.reason),
  );
  const blocking = suppressions.find((s) => suppressionBlocks(s.reason, kind));
  if (blocking) {
    const scope = suppressionScopes[blocking.reason] === 'all' ? 'every message' : 'marketing';
    return {
      send: false,
      skip: suppressionScopes[blocking.reason] === 'all' ? 'suppressed' : 'opted_out',
      detail: `${channel} recipient suppressed (${blocking.reason}, source ${blocking.source}): blocks ${scope}`,
    };
  }
  if (kind === 'transactional') return { send: true };
  if (snapshot === null || snapshot.granted === null) {
    return { send: false, skip: 'no_consent', detail: `no marketing consent recorded on ${channel}` };
  }
  if (!snapshot.granted) {
    return { send: false, skip: 'opted_out', detail: `marketing consent on ${channel} withdrawn (source ${snapshot.source ?? 'unknown'})` };
  }
  if (channel === 'sms') {
    const next = nextSendableTime(input.at, options.quietHours);
    if (next.getTime() !== input.at.getTime()) return { send: false, deferUntil: next };
  }
  return { send: true };
}

/**
 * Whether a notification is marketing: one sent for a campaign is; otherwise its template's kind decides (templates
 * say marketing or transactional). A template whose kind is unknown counts as marketing: consent is then required,
 * which is the safe side.
 */
export function messageKindOf(notification: { campaign_id: string | null }, templateKind: MessageKind | null | undefined): MessageKind {
  if (notification.campaign_id !== null) return 'marketing';
  return templateKind ?? 'marketing';
}
