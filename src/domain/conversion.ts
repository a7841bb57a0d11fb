import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { notificationChannels } from './notification-events.js';

/**
 * Conversion: a reservation, an order or a visit the central server recorded (ConversionRecorded on
 * central.conversions.recorded), as this module attributes it to what it sent. One stream per conversion
 * (`conversion-<conversion id>`): the first attribution stands, so the same conversion reported twice (a redelivery,
 * or a second message with another envelope id) counts once.
 *
 * How it was attributed (attributed_by), most precise first: the notification or the publication the central server
 * names; else the campaign it names; else the tracked link the customer came through (utm_* parameters, see
 * tracked-link.ts). A conversion that names nothing of ours is not recorded.
 */

export const conversionKinds = ['reservation', 'order', 'visit'] as const;
export const attributionMethods = ['notification', 'publication', 'campaign', 'tracked_link'] as const;
/** Notification channels, and social_media for publications (the campaign channel type). */
export const analyticsChannels = [...notificationChannels, 'social_media'] as const;
export type AnalyticsChannel = (typeof analyticsChannels)[number];

export function conversionStreamId(conversionId: string): string {
  return `conversion-${conversionId}`;
}

export const ConversionAttributed = defineEvent(
  'ConversionAttributed',
  1,
  z.object({
    conversion_id: z.uuid(),
    /** The id of the central server's ConversionRecorded message. */
    source_event_id: z.uuid(),
    kind: z.enum(conversionKinds),
    /** Euros; null when not known yet (a reservation). */
    amount: z.number().min(0).nullable(),
    currency: z.literal('EUR'),
    campaign_id: z.uuid().nullable(),
    notification_id: z.uuid().nullable(),
    publication_id: z.uuid().nullable(),
    channel: z.enum(analyticsChannels).nullable(),
    /** The notification's provider or the social platform; null when unknown. */
    platform: z.string().min(1).max(100).nullable(),
    attributed_by: z.enum(attributionMethods),
    occurred_at: z.iso.datetime({ offset: true }),
    attributed_at: z.iso.datetime({ offset: true }),
  }),
);

export const conversionEvents = { ConversionAttributed } satisfies EventCatalogue;

export type ConversionAttribution = z.infer<typeof ConversionAttributed.schema>;
export type ConversionEvent = { type: 'ConversionAttributed'; data: ConversionAttribution };
export type ConversionCommand = { type: 'AttributeConversion'; attribution: ConversionAttribution };
export type ConversionState = { attributed: boolean };

export const conversionDecider: Decider<ConversionCommand, ConversionEvent, ConversionState> = {
  initialState: () => ({ attributed: false }),
  decide: (command, state) => (state.attributed ? [] : [{ type: 'ConversionAttributed', data: command.attribution }]),
  evolve: () => ({ attributed: true }),
};
