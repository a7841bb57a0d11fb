import { z } from 'zod';
import { defineEvent, type EventCatalogue } from './event-schema.js';

/**
 * The publication aggregate's vocabulary: platforms, statuses, the POST /publish request schema and the versioned
 * event schemas (a public contract: snake_case, changes only through a new version). The decider is in publication.ts.
 */

export const publicationPlatforms = ['facebook', 'instagram', 'twitter', 'google_business', 'linkedin'] as const;
export type Platform = (typeof publicationPlatforms)[number];
export const platformSchema = z.enum(publicationPlatforms);

export const publicationStatuses = [
  'scheduled',
  'publishing',
  'published',
  'partially_published',
  'failed',
  'canceled',
] as const;
export type PublicationStatus = (typeof publicationStatuses)[number];

export const platformStatuses = ['scheduled', 'publishing', 'published', 'failed', 'canceled'] as const;
export type PlatformStatus = (typeof platformStatuses)[number];

export const publishErrorClasses = ['transient', 'permanent', 'auth', 'rate_limited', 'validation'] as const;
export type PublishErrorClass = (typeof publishErrorClasses)[number];

/** Attempts per platform (the first one included); recorded in PublicationScheduled so replays keep the old policy. */
export const MAX_PUBLISH_ATTEMPTS = 5;
/** Stored error messages are cut to this length. */
export const MAX_ERROR_MESSAGE_LENGTH = 2_000;

const timestamp = z.iso.datetime({ offset: true });
const hashtagSchema = z
  .string()
  .trim()
  .regex(/^#?[\p{L}\p{N}_]{1,100}$/u, 'a hashtag is letters, digits and _ (leading # optional)');

export const publicationContentSchema = z.object({
  title: z.string().max(300).default(''),
  body: z.string().max(10_000).default(''),
  media_urls: z.array(z.httpUrl().max(2_000)).max(20).default([]),
  hashtags: z.array(hashtagSchema).max(30).default([]),
});
export type PublicationContent = z.infer<typeof publicationContentSchema>;

const ageSchema = z.number().int().min(13).max(120);
export const targetingSchema = z.object({
  location: z.string().trim().min(1).max(200).optional(),
  /** Kilometres around location. */
  radius: z.number().positive().max(1_000).optional(),
  age_range: z.tuple([ageSchema, ageSchema]).optional(),
});
export type Targeting = z.infer<typeof targetingSchema>;

/** The body of POST /publish. Business rules (platforms, content, time) are the decider's, so they give DomainErrors. */
export const publicationRequestSchema = z.object({
  content: publicationContentSchema,
  platforms: z.array(platformSchema).max(10),
  /** ISO 8601 in UTC (…Z). */
  scheduled_time: z.iso.datetime(),
  targeting: targetingSchema.optional(),
  campaign_id: z.uuid().optional(),
  /** Higher wins when publications compete for one slot (same scale as a campaign's priority). */
  priority: z.number().int().min(0).max(100).default(50),
});
export type PublicationRequest = z.infer<typeof publicationRequestSchema>;

// ---- events -------------------------------------------------------------------------------------------------------

export const PublicationScheduled = defineEvent(
  'PublicationScheduled',
  1,
  publicationRequestSchema.extend({
    publication_id: z.uuid(),
    platforms: z.array(platformSchema).min(1).max(publicationPlatforms.length),
    targeting: targetingSchema.nullable(),
    campaign_id: z.uuid().nullable(),
    max_attempts: z.number().int().min(1).max(50),
    requested_at: timestamp,
  }),
);
export const PublicationRescheduled = defineEvent(
  'PublicationRescheduled',
  1,
  z.object({
    publication_id: z.uuid(),
    previous_time: z.iso.datetime(),
    scheduled_time: z.iso.datetime(),
    reason: z.string().min(1).max(1_000),
    rescheduled_at: timestamp,
  }),
);
export const PublicationCanceled = defineEvent(
  'PublicationCanceled',
  1,
  z.object({
    publication_id: z.uuid(),
    /** The platforms that were still waiting and are now canceled. */
    platforms: z.array(platformSchema).min(1),
    reason: z.string().max(1_000).default(''),
    canceled_at: timestamp,
  }),
);
export const PlatformPublishingStarted = defineEvent(
  'PlatformPublishingStarted',
  1,
  z.object({
    publication_id: z.uuid(),
    platform: platformSchema,
    /**
     * Chosen by the worker, new for each attempt. A platform stuck in publishing with an old started_at reveals a
     * crashed worker: record that attempt failed (transient, retryable) to have it retried.
     */
    attempt_id: z.string().min(1).max(100),
    /** 1 for the first attempt. */
    attempt: z.number().int().min(1),
    started_at: timestamp,
    /**
     * The attempt's deadline: the call that publishes is not sent after it, so a search for the post from then on
     * (plus that call's timeout) cannot be followed by the post. Absent from attempts recorded before 0.7.0.
     */
    publish_by: timestamp.optional(),
  }),
);
export const PlatformPublished = defineEvent(
  'PlatformPublished',
  1,
  z.object({
    publication_id: z.uuid(),
    platform: platformSchema,
    attempt_id: z.string().min(1).max(100),
    post_id: z.string().min(1).max(200),
    post_url: z.httpUrl().max(2_000).nullable(),
    published_at: timestamp,
  }),
);
export const PlatformPublishFailed = defineEvent(
  'PlatformPublishFailed',
  1,
  z.object({
    publication_id: z.uuid(),
    platform: platformSchema,
    attempt_id: z.string().min(1).max(100),
    attempt: z.number().int().min(1),
    error_class: z.enum(publishErrorClasses),
    message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
    retryable: z.boolean(),
    /** true: the platform is scheduled again for next_attempt_at; false: the platform is failed for good. */
    will_retry: z.boolean(),
    next_attempt_at: timestamp.nullable(),
    failed_at: timestamp,
  }),
);

export const publicationEvents = {
  PublicationScheduled,
  PublicationRescheduled,
  PublicationCanceled,
  PlatformPublishingStarted,
  PlatformPublished,
  PlatformPublishFailed,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type PublicationEvent = EventOf<(typeof publicationEvents)[keyof typeof publicationEvents]>;
