import { z } from 'zod';
import { conversionKinds } from '../../domain/conversion.js';

/**
 * ConversionRecorded v1 as the central server publishes it on central.conversions.recorded (docs/asyncapi.yaml): the
 * shared envelope around a reservation, order or visit, with what it can be attributed to. Fields we do not know are
 * ignored, as the contract allows within a version.
 */
export const conversionRecordedSchema = z.object({
  id: z.uuid(),
  type: z.literal('ConversionRecorded'),
  schema_version: z.literal(1),
  occurred_at: z.iso.datetime({ offset: true }),
  correlation_id: z.string().nullish(),
  causation_id: z.string().nullish(),
  data: z.object({
    conversion_id: z.uuid(),
    kind: z.enum(conversionKinds),
    amount: z.number().min(0).max(1_000_000).nullable(),
    currency: z.literal('EUR'),
    campaign_id: z.uuid().nullable(),
    notification_id: z.uuid().nullable(),
    publication_id: z.uuid().nullable(),
    customer_id: z.uuid().nullish(),
    /** The tracked link the customer came through, with its utm_* parameters (see tracked-link.ts); optional. */
    landing_url: z.string().max(2_000).nullish(),
    occurred_at: z.iso.datetime({ offset: true }),
  }),
});

export type ConversionRecorded = z.infer<typeof conversionRecordedSchema>;

/** The subject, after the central server's prefix (central by default). */
export const conversionsSubject = 'conversions.recorded';
