import { z } from 'zod';
import { platformSchema, publicationContentSchema, targetingSchema } from '../domain/publication-events.js';

/**
 * The body of POST /api/communication/publish, as the spec gives it. Times may carry any offset; they are stored in
 * UTC. No scheduled_time means now.
 */
export const publishBodySchema = z.strictObject({
  content: publicationContentSchema,
  platforms: z.array(platformSchema).max(10),
  scheduled_time: z.iso.datetime({ offset: true }).optional().describe('ISO 8601 with Z or an offset; absent: now'),
  targeting: targetingSchema.optional(),
  campaign_id: z.uuid().optional(),
  priority: z.number().int().min(0).max(100).default(50).describe('Higher wins when two posts compete for one slot'),
  id: z.uuid().optional().describe('Client-chosen publication id; generated when absent'),
});
export type PublishBody = z.infer<typeof publishBodySchema>;

export const violationSchema = z.object({
  platform: platformSchema,
  field: z.string(),
  code: z.string(),
  message: z.string(),
  limit: z.number().optional(),
  actual: z.number().optional(),
});

export const suggestionSchema = z
  .object({
    content: publicationContentSchema,
    platforms: z.array(platformSchema),
    dropped_platforms: z.array(z.object({ platform: platformSchema, reason: z.string() })),
  })
  .nullable()
  .describe('An alternative that passes every rule, to send back as is (null when no platform can take it)');

export const invalidPublicationSchema = z.object({
  error: z.literal('publication_invalid'),
  message: z.string(),
  details: z.array(z.object({ path: z.string(), message: z.string() })),
  violations: z.array(violationSchema),
  suggestion: suggestionSchema,
});

export const rescheduleBodySchema = z.strictObject({
  scheduled_time: z.iso.datetime({ offset: true }),
  reason: z.string().trim().max(1_000).optional(),
});

export const cancelBodySchema = z.strictObject({ reason: z.string().max(1_000).optional() }).nullish();

/** An ISO time with any offset → the same instant in UTC (…Z). */
export function toUtc(time: string): string {
  return new Date(time).toISOString();
}
