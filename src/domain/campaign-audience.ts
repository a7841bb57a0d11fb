import { z } from 'zod';
import type { DomainErrorDetail } from './domain-error.js';

/**
 * Who a campaign's e-mails and SMS go to: its `target_audience`, resolved against the CRM customers the audience read
 * model holds (src/projections/audience). Shapes:
 *
 *   {"segment": "fideles"}                                        every member of a CRM segment
 *   {"segment": "fideles", "filters": {"language": "fr"}}         the members that match every filter
 *   {"customers": ["9a8b7c6d-…", "…"]}                            explicit recipients, by CRM customer id
 *   {"segment": "fideles", "customers": ["…"]}                    both (a customer counts once)
 *
 * Customers are named by their CRM id, never by address: campaign events are kept for good, and an id says nothing
 * once the CRM has erased the person. Campaigns created before the shape was defined may hold other keys; they are
 * refused when the campaign is launched, not when it is read.
 */

export const MAX_EXPLICIT_CUSTOMERS = 10_000;

const languageSchema = z.string().trim().min(2).max(35);

export const audienceFiltersSchema = z.strictObject({
  /** A language tag ("fr") or a list of them: the customer's CRM language must be one of them. */
  language: z.union([languageSchema, z.array(languageSchema).min(1).max(20)]).optional(),
});

export const targetAudienceSchema = z
  .strictObject({
    segment: z.string().trim().min(1).max(200).optional().describe('A CRM segment id, as in crm.segments.membership_changed'),
    filters: audienceFiltersSchema.optional(),
    customers: z.array(z.uuid()).min(1).max(MAX_EXPLICIT_CUSTOMERS).optional().describe('CRM customer ids'),
  })
  .refine((a) => a.segment !== undefined || a.customers !== undefined, {
    message: 'name a segment, or customers by their CRM id',
    path: ['segment'],
  });
export type TargetAudience = z.infer<typeof targetAudienceSchema>;

/** The languages a filter accepts, or null when it does not filter on language. */
export function audienceLanguages(audience: TargetAudience): string[] | null {
  const language = audience.filters?.language;
  if (language === undefined) return null;
  return (Array.isArray(language) ? language : [language]).map((l) => l.toLowerCase());
}

/** The audience as the campaign stores it, or the reasons it is not one (paths under target_audience). */
export function parseTargetAudience(value: unknown): { audience: TargetAudience } | { problems: DomainErrorDetail[] } {
  const parsed = targetAudienceSchema.safeParse(value);
  if (parsed.success) return { audience: parsed.data };
  return {
    problems: parsed.error.issues.map((issue) => ({
      path: ['target_audience', ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  };
}

/** What the audience read model said about a campaign's audience when it was launched. */
export interface AudienceFacts {
  /** false: the segment named is not one the CRM has told us about. */
  segmentKnown: boolean;
  /** Customers in the audience (whatever their addresses). */
  size: number;
  /** Customers with an address on each channel. */
  perChannel: { email: number; sms: number };
}
