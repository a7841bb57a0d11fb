import { z } from 'zod';
import { DomainError } from './domain-error.js';
import { MAX_PUSH_TOKEN_LENGTH, type NotificationChannel, type NotificationStatus } from './notification-events.js';
import type { NotificationState } from './notification.js';

/** Rules and helpers of the notification decider (notification.ts), kept apart so that file stays readable. */

type ExistingState = Exclude<NotificationState, { status: 'none' }>;

const emailSchema = z.email();
const e164Schema = z.e164();

/** email: an email address; sms: an E.164 number (+33612345678); push: a non-empty subscription/token string. */
export function recipientProblem(channel: NotificationChannel, recipient: string): string | null {
  switch (channel) {
    case 'email':
      return emailSchema.safeParse(recipient).success ? null : 'must be an email address';
    case 'sms':
      return e164Schema.safeParse(recipient).success ? null : 'must be an E.164 phone number, e.g. +33612345678';
    case 'push':
      return recipient.trim() !== '' && recipient.length <= MAX_PUSH_TOKEN_LENGTH
        ? null
        : `must be a non-empty push subscription or token (at most ${MAX_PUSH_TOKEN_LENGTH} characters)`;
  }
}

export function assertValidRecipient(channel: NotificationChannel, recipient: string): void {
  const problem = recipientProblem(channel, recipient);
  if (problem !== null) {
    throw new DomainError('invalid_recipient', `Invalid ${channel} recipient`, [{ path: 'recipient', message: problem }]);
  }
}

export function assertTransition(from: NotificationStatus, to: NotificationStatus, allowedFrom: NotificationStatus[]): void {
  if (!allowedFrom.includes(from)) {
    throw new DomainError('invalid_transition', `A ${from} notification cannot become ${to}`, [
      { path: 'status', message: `${from} → ${to} is not allowed; allowed from: ${allowedFrom.join(', ')}` },
    ]);
  }
}

/** Reports from the provider must name the message the provider gave us when it was sent. */
export function assertSameMessage(state: ExistingState, providerMessageId: string): void {
  if (state.provider_message_id !== providerMessageId) {
    throw new DomainError('provider_message_mismatch', 'The report is for another provider message', [
      { path: 'provider_message_id', message: `expected ${state.provider_message_id}` },
    ]);
  }
}

/** Opens and clicks only exist for a message that was sent (sent or delivered). */
export function assertInteractive(state: ExistingState, providerMessageId: string): void {
  if (state.status !== 'sent' && state.status !== 'delivered') {
    throw new DomainError('interaction_not_allowed', `A ${state.status} notification cannot be opened or clicked`, [
      { path: 'status', message: `interactions need sent or delivered, not ${state.status}` },
    ]);
  }
  assertSameMessage(state, providerMessageId);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
