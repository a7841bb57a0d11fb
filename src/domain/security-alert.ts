import { z } from 'zod';
import { defineEvent, type EventCatalogue } from './event-schema.js';

/**
 * Security alerts: what an operator should look at, kept in the event store beside the business events so that they
 * are auditable and can be followed by a subscriber. One stream per UTC day keeps each stream short.
 */

export const securityAlertKinds = ['repeated_authentication_failures'] as const;
export const securityAlertSubjects = ['client_address', 'key_prefix'] as const;

export const SecurityAlertRaised = defineEvent(
  'SecurityAlertRaised',
  1,
  z.object({
    alert_id: z.uuid(),
    kind: z.enum(securityAlertKinds),
    /** Who the alert is about: the client address, or the first characters of the key presented (never the key). */
    subject_type: z.enum(securityAlertSubjects),
    subject: z.string().min(1).max(100),
    failures: z.number().int().min(1),
    threshold: z.number().int().min(1),
    window_seconds: z.number().int().min(1),
    /** Why the keys were refused, and how many times each. */
    reasons: z.record(z.string(), z.number().int().min(0)),
    first_failure_at: z.iso.datetime({ offset: true }),
    raised_at: z.iso.datetime({ offset: true }),
  }),
);

export const securityAlertEvents = { SecurityAlertRaised } satisfies EventCatalogue;

export type SecurityAlert = z.infer<typeof SecurityAlertRaised.schema>;

/** `security-2025-06-30`: the UTC day the alert was raised. */
export function securityStreamId(at: Date): string {
  return `security-${at.toISOString().slice(0, 10)}`;
}
