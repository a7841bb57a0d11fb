import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { notificationChannels } from './notification-events.js';

/**
 * Spend: what sending one message cost, for the accounting module. One stream per notification
 * (`spend-<notification id>`), recorded once: the first record stands.
 *
 * source says where the amount comes from:
 * - reported: the provider reported it (Twilio's price on the Message resource; OVH's credits used, priced with the
 *   configured unit_cost of one credit);
 * - configured: the provider reports nothing (SendGrid, Mailjet, SMTP, push), so the unit_cost configured for it in
 *   notifications.json is used.
 */

export const spendSources = ['reported', 'configured'] as const;
export type SpendSource = (typeof spendSources)[number];
/** What `quantity` counts: messages, SMS segments (Twilio), SMS credits (OVH). */
export const spendUnits = ['message', 'segment', 'credit'] as const;

export function spendStreamId(notificationId: string): string {
  return `spend-${notificationId}`;
}

export const SpendRecorded = defineEvent(
  'SpendRecorded',
  1,
  z.object({
    notification_id: z.uuid(),
    campaign_id: z.uuid().nullable(),
    channel: z.enum(notificationChannels),
    provider: z.string().min(1).max(100),
    provider_message_id: z.string().min(1).max(200),
    amount: z.number().min(0),
    /** ISO 4217, as the provider reported it or as configured. */
    currency: z.string().regex(/^[A-Z]{3}$/),
    source: z.enum(spendSources),
    /** How many units the amount is for (segments, credits), when known. */
    quantity: z.number().min(0).nullable(),
    unit: z.enum(spendUnits).nullable(),
    recorded_at: z.iso.datetime({ offset: true }),
  }),
);

export const spendEvents = { SpendRecorded } satisfies EventCatalogue;

export type SpendRecord = z.infer<typeof SpendRecorded.schema>;
export type SpendEvent = { type: 'SpendRecorded'; data: SpendRecord };
export type SpendCommand = { type: 'RecordSpend'; spend: SpendRecord };
export type SpendState = { recorded: boolean };

export const spendDecider: Decider<SpendCommand, SpendEvent, SpendState> = {
  initialState: () => ({ recorded: false }),
  decide: (command, state) => (state.recorded ? [] : [{ type: 'SpendRecorded', data: command.spend }]),
  evolve: () => ({ recorded: true }),
};
