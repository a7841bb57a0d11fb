import { z } from 'zod';

/**
 * The CRM events this service consumes, as docs/asyncapi.yaml describes them (channels crm.customers.created|updated|
 * deleted, crm.consents.changed, crm.segments.membership_changed): the shared envelope
 * {id, type, schema_version, occurred_at, correlation_id, causation_id, data}. Fields we do not know are ignored, as
 * the contract allows within a version.
 */

const timestamp = z.iso.datetime({ offset: true });
const nullableText = z.string().max(500).nullable();

const customerData = z.object({
  customer_id: z.uuid(),
  /** Checked against the notification rules when stored: a malformed address is kept out, not the whole customer. */
  email: z.string().max(320).nullable(),
  phone: z.string().max(32).nullable(),
  first_name: nullableText,
  last_name: nullableText,
  language: z.string().max(35),
});

const envelope = <Type extends string, Data extends z.ZodType>(type: Type, data: Data) =>
  z.object({
    id: z.uuid(),
    type: z.literal(type),
    schema_version: z.literal(1),
    occurred_at: timestamp,
    correlation_id: z.string().nullish(),
    causation_id: z.string().nullish(),
    data,
  });

export const crmEventSchema = z.discriminatedUnion('type', [
  envelope('CustomerCreated', customerData),
  envelope('CustomerUpdated', customerData),
  envelope(
    'CustomerDeleted',
    z.object({
      customer_id: z.uuid(),
      reason: z.enum(['erasure_request', 'merged', 'other']),
      merged_into: z.uuid().nullish(),
    }),
  ),
  envelope(
    'ConsentChanged',
    z.object({
      customer_id: z.uuid(),
      channel: z.enum(['email', 'sms', 'push']),
      recipient: z.string().min(1).max(8_192),
      status: z.enum(['granted', 'withdrawn']),
      source: z.string().max(200),
      at: timestamp,
    }),
  ),
  envelope(
    'SegmentMembershipChanged',
    z.object({
      segment_id: z.string().trim().min(1).max(200),
      segment_name: z.string().max(500),
      added: z.array(z.uuid()),
      removed: z.array(z.uuid()),
      at: timestamp,
    }),
  ),
]);
export type CrmEvent = z.infer<typeof crmEventSchema>;
export type CrmEventOf<Type extends CrmEvent['type']> = Extract<CrmEvent, { type: Type }>;
