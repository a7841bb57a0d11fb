import { z } from 'zod';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { platformSchema } from './publication-events.js';

/**
 * The engagement vocabulary: what the platforms tell us about our published posts, as counters (insights polled, or
 * pushed by a webhook) and as single interactions (a comment, a reaction, a share). Versioned event schemas, a public
 * contract: snake_case, changes only through a new version. The decider is in engagement.ts.
 */

export const engagementSources = ['insights', 'webhook'] as const;
export type EngagementSource = (typeof engagementSources)[number];

export const interactionKinds = ['comment', 'reaction', 'share'] as const;
export type InteractionKind = (typeof interactionKinds)[number];

export const interactionVerbs = ['add', 'remove', 'edited'] as const;
export type InteractionVerb = (typeof interactionVerbs)[number];

export const metricNames = ['likes', 'shares', 'comments', 'reach', 'clicks', 'impressions'] as const;
export type MetricName = (typeof metricNames)[number];

/** Longest platform id kept (post ids, comment ids): the same bound as PlatformPublished.post_id. */
export const MAX_PLATFORM_ID_LENGTH = 200;

const timestamp = z.iso.datetime({ offset: true });
const platformIdSchema = z.string().min(1).max(MAX_PLATFORM_ID_LENGTH);
/** null: the platform does not report this counter. */
const counterSchema = z.number().min(0).nullable();

export const engagementMetricsSchema = z.object({
  likes: counterSchema,
  shares: counterSchema,
  comments: counterSchema,
  reach: counterSchema,
  clicks: counterSchema,
  impressions: counterSchema,
});
export type Metrics = z.infer<typeof engagementMetricsSchema>;

// ---- events -------------------------------------------------------------------------------------------------------

/** The counters of one platform's post, recorded only when they differ from the last ones recorded. */
export const EngagementMeasured = defineEvent(
  'EngagementMeasured',
  1,
  z.object({
    publication_id: z.uuid(),
    platform: platformSchema,
    post_id: platformIdSchema,
    metrics: engagementMetricsSchema,
    source: z.enum(engagementSources),
    measured_at: timestamp,
  }),
);

/** One interaction with one of our posts, as the platform pushed it; recorded once per interaction_id and verb. */
export const EngagementInteractionReceived = defineEvent(
  'EngagementInteractionReceived',
  1,
  z.object({
    publication_id: z.uuid(),
    platform: platformSchema,
    post_id: platformIdSchema,
    /** The platform's id of the comment / reaction / share, or one derived from the notification when it gives none. */
    interaction_id: platformIdSchema,
    kind: z.enum(interactionKinds),
    verb: z.enum(interactionVerbs),
    received_at: timestamp,
  }),
);

export const engagementEvents = {
  EngagementMeasured,
  EngagementInteractionReceived,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type EngagementEvent = EventOf<(typeof engagementEvents)[keyof typeof engagementEvents]>;
