import { z } from 'zod';

export const errorSchema = z.object({
  error: z.string().describe('Stable error code, e.g. validation_failed, campaign_not_found, invalid_transition'),
  message: z.string(),
  details: z.array(z.object({ path: z.string(), message: z.string() })),
});

/** The error responses every authenticated route can give, for the OpenAPI document. */
export const errorResponses = {
  400: errorSchema.describe('Invalid request: details name each offending field'),
  401: errorSchema.describe('Missing or unknown API key'),
  403: errorSchema.describe('The key lacks the scope'),
  404: errorSchema.describe('Not found'),
  409: errorSchema.describe('Concurrency conflict, or the same Idempotency-Key is still running'),
  422: errorSchema.describe('A business rule refused the command, or an Idempotency-Key was reused with another body'),
  503: errorSchema.describe('Not ready, or the read model has not reached min_position'),
};
