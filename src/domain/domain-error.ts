/**
 * A broken business rule. Deciders throw it instead of returning events; the HTTP edge maps it to 422
 * (or 404 for `*_not_found`, 409 for `*_already_exists`).
 */
export interface DomainErrorDetail {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: DomainErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
