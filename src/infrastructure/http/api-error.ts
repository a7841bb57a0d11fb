/**
 * The catalogue of API error codes. Every error response is {error: code, message, details: [{path, message}]}.
 */
export interface ErrorDetail {
  path: string;
  message: string;
}

export const errorCatalogue = {
  validation_failed: { status: 400, message: 'The request is invalid' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON' },
  invalid_position: { status: 400, message: 'The position is not valid' },
  unauthorized: { status: 401, message: 'A valid API key is required (Authorization: Bearer <key>)' },
  forbidden: { status: 403, message: 'The API key lacks the scope this route needs' },
  not_found: { status: 404, message: 'Not found' },
  route_not_found: { status: 404, message: 'No such route' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  concurrency_conflict: { status: 409, message: 'The resource was changed by someone else; reload and retry' },
  already_exists: { status: 409, message: 'The resource already exists' },
  idempotency_in_progress: { status: 409, message: 'A request with this Idempotency-Key is still being processed' },
  payload_too_large: { status: 413, message: 'The request body is too large' },
  unsupported_media_type: { status: 415, message: 'Send the body as application/json' },
  idempotency_key_reused: { status: 422, message: 'This Idempotency-Key was used with a different request' },
  domain_rule_violated: { status: 422, message: 'A business rule refused the command' },
  too_many_requests: { status: 429, message: 'Too many requests' },
  internal_error: { status: 500, message: 'Internal error' },
  service_unavailable: { status: 503, message: 'The service is not ready' },
  projection_lagging: { status: 503, message: 'The read model has not reached the requested position yet' },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode | string,
    message?: string,
    readonly details: ErrorDetail[] = [],
    status?: number,
    readonly headers: Record<string, string> = {},
  ) {
    const known = errorCatalogue[code as ErrorCode];
    super(message ?? known?.message ?? code);
    this.status = status ?? known?.status ?? 500;
    this.name = 'ApiError';
  }
}

export interface ErrorBody {
  error: string;
  message: string;
  details: ErrorDetail[];
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: error.code, message: error.message, details: error.details };
}
