import { z } from 'zod';
import { defineEvent, type EventCatalogue } from './event-schema.js';

/**
 * The notification aggregate's vocabulary: channels, statuses, the POST /notify request schema and the versioned
 * event schemas (a public contract: snake_case, changes only through a new version). The decider is in notification.ts.
 */

export const notificationChannels = ['email', 'sms', 'push'] as const;
export type NotificationChannel = (typeof notificationChannels)[number];

export const notificationStatuses = ['pending', 'sent', 'delivered', 'failed', 'skipped', 'canceled'] as const;
export type NotificationStatus = (typeof notificationStatuses)[number];

export const notificationErrorClasses = ['transient', 'permanent', 'auth', 'rate_limited', 'validation', 'bounced'] as const;
export type NotificationErrorClass = (typeof notificationErrorClasses)[number];

/**
 * Why a notification failed: send_failed (the provider did not take it), delivery_failed (taken, then bounced or
 * undeliverable).
 */
export const notificationFailureReasons = ['send_failed', 'delivery_failed'] as const;
export type NotificationFailureReason = (typeof notificationFailureReasons)[number];

/**
 * Why a notification was skipped (never sent, on purpose): no_consent (a marketing message to someone who never gave
 * consent), suppressed (the address is suppressed: hard bounce, spam report), opted_out (the recipient withdrew consent,
 * unsubscribed or replied STOP, here or at the provider).
 */
export const notificationSkipReasons = ['no_consent', 'suppressed', 'opted_out'] as const;
export type NotificationSkipReason = (typeof notificationSkipReasons)[number];

export const MAX_NOTIFICATION_ERROR_LENGTH = 2_000;
export const MAX_PUSH_TOKEN_LENGTH = 8_192;

const timestamp = z.iso.datetime({ offset: true });
const providerSchema = z.string().trim().min(1).max(100);
const providerMessageIdSchema = z.string().min(1).max(200);

/** The body of POST /notify. The recipient's format per channel is the decider's rule (a DomainError). */
export const notificationRequestSchema = z.object({
  template_id: z.string().trim().min(1).max(200),
  /** An email address (email), an E.164 phone number such as +33612345678 (sms), a push subscription/token (push). */
  recipient: z.string().min(1).max(MAX_PUSH_TOKEN_LENGTH),
  channel: z.enum(notificationChannels),
  /** The template's variables. */
  data: z.record(z.string(), z.unknown()).default({}),
  campaign_id: z.uuid().optional(),
  /**
   * The A/B/n variant of the campaign's experiment the message belongs to (campaign-experiment.ts), so that its opens,
   * clicks and conversions count for that variant. Absent outside experiments; an optional field added within v1.
   */
  variant_id: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/).optional(),
  /**
   * The template version current when the notification was requested: the message is rendered with it even if a new
   * version is published before it is sent. Absent in notifications requested before versions were pinned.
   */
  template_version: z.number().int().min(0).optional(),
});
export type NotificationRequest = z.infer<typeof notificationRequestSchema>;

// ---- events -------------------------------------------------------------------------------------------------------

export const NotificationRequested = defineEvent(
  'NotificationRequested',
  1,
  notificationRequestSchema.extend({
    notification_id: z.uuid(),
    campaign_id: z.uuid().nullable(),
    requested_at: timestamp,
  }),
);
export const NotificationSent = defineEvent(
  'NotificationSent',
  1,
  z.object({
    notification_id: z.uuid(),
    provider: providerSchema,
    provider_message_id: providerMessageIdSchema,
    sent_at: timestamp,
  }),
);
export const NotificationDelivered = defineEvent(
  'NotificationDelivered',
  1,
  z.object({ notification_id: z.uuid(), provider_message_id: providerMessageIdSchema, delivered_at: timestamp }),
);
export const NotificationFailed = defineEvent(
  'NotificationFailed',
  1,
  z.object({
    notification_id: z.uuid(),
    reason: z.enum(notificationFailureReasons),
    error_class: z.enum(notificationErrorClasses),
    message: z.string().max(MAX_NOTIFICATION_ERROR_LENGTH),
    provider: providerSchema,
    /** null when the provider never accepted the message. */
    provider_message_id: providerMessageIdSchema.nullable(),
    failed_at: timestamp,
  }),
);
/** The notification will not be sent: the consent policy (or the provider's opt-out list) said no. Final. */
export const NotificationSkipped = defineEvent(
  'NotificationSkipped',
  1,
  z.object({
    notification_id: z.uuid(),
    reason: z.enum(notificationSkipReasons),
    /** What the decision was based on, for people (never the recipient's address); '' when nothing to add. */
    detail: z.string().max(MAX_NOTIFICATION_ERROR_LENGTH),
    skipped_at: timestamp,
  }),
);
/**
 * The notification will not be sent: what asked for it (a campaign) was canceled before it went out. Final, except
 * that a send already under way when the cancellation came is still recorded (NotificationSent): it did go out.
 */
export const NotificationCanceled = defineEvent(
  'NotificationCanceled',
  1,
  z.object({
    notification_id: z.uuid(),
    /** Why, for people (e.g. "campaign canceled"); '' when nothing to add. */
    reason: z.string().max(MAX_NOTIFICATION_ERROR_LENGTH),
    canceled_at: timestamp,
  }),
);
/** Every open is recorded; first_open is true only for the first one (unique opens = events with first_open). */
export const NotificationOpened = defineEvent(
  'NotificationOpened',
  1,
  z.object({
    notification_id: z.uuid(),
    provider_message_id: providerMessageIdSchema,
    opened_at: timestamp,
    first_open: z.boolean(),
  }),
);
/** Every click is recorded; first_click is true only for the first one (unique clicks = events with first_click). */
export const NotificationClicked = defineEvent(
  'NotificationClicked',
  1,
  z.object({
    notification_id: z.uuid(),
    provider_message_id: providerMessageIdSchema,
    url: z.httpUrl().max(2_000),
    clicked_at: timestamp,
    first_click: z.boolean(),
  }),
);

export const notificationEvents = {
  NotificationRequested,
  NotificationSent,
  NotificationDelivered,
  NotificationFailed,
  NotificationSkipped,
  NotificationCanceled,
  NotificationOpened,
  NotificationClicked,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type NotificationEvent = EventOf<(typeof notificationEvents)[keyof typeof notificationEvents]>;
