import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDomainError } from '../../domain/domain-error.js';
import { WrongExpectedRevisionError } from '../event-store/event-store.js';
import { ApiError, errorBody, type ErrorDetail } from './api-error.js';

/** Turns anything thrown by a route into the catalogue's error shape; only the unknown becomes a 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isDomainError(error)) {
    if (error.code.endsWith('_not_found')) return new ApiError(error.code, error.message, error.details, 404);
    if (error.code.endsWith('_already_exists')) return new ApiError(error.code, error.message, error.details, 409);
    return new ApiError(error.code, error.message, error.details, 422);
  }
  if (error instanceof WrongExpectedRevisionError) {
    return new ApiError('concurrency_conflict', undefined, [
      { path: 'revision', message: `expected ${String(error.expected)}, current ${String(error.actual)}` },
    ]);
  }
  const fastifyError = error as FastifyError;
  if (hasZodFastifySchemaValidationErrors(fastifyError)) {
    const context = fastifyError.validationContext ?? 'body';
    const details: ErrorDetail[] = fastifyError.validation.map((v) => ({
      path: [context, ...v.instancePath.split('/').filter(Boolean)].join('.'),
      message: v.message ?? 'invalid',
    }));
    return new ApiError('validation_failed', `Invalid ${context}: ${details.map((d) => d.path).join(', ')}`, details);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_json', fastifyError.message, [{ path: 'body', message: fastifyError.message }]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('unsupported_media_type');
  }
  if (error instanceof SyntaxError) return new ApiError('invalid_json', error.message);
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    return new ApiError('bad_request', fastifyError.message, [], status);
  }
  return new ApiError('internal_error');
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
    reply.headers(apiError.headers);
    void reply.status(apiError.status).send(errorBody(apiError));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send(errorBody(new ApiError('route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`)));
  });
}
