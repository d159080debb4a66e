// The typed error family every layer throws. A FlotillaError carries a stable `code`, a message that
// says what was wrong, and `hint`: what the caller should do next. Nothing here does I/O.

export type ErrorCode =
  | 'invalid_input'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'unauthorized'
  | 'illegal_transition'
  | 'unavailable'
  | 'data_residency_violation'
  | 'internal';

export interface ErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Base of every error Flotilla reports to a caller; anything else is `internal`. */
export class FlotillaError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

export class InvalidInputError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid_input', message, options);
  }
}

export class NotFoundError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('not_found', message, options);
  }
}

export class ConflictError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', message, options);
  }
}

export class ForbiddenError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('forbidden', message, options);
  }
}

export class UnauthorizedError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('unauthorized', message, options);
  }
}

export class IllegalTransitionError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('illegal_transition', message, options);
  }
}

/** The store or a dependency is unreachable for now; the same call may work when retried. */
export class UnavailableError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('unavailable', message, options);
  }
}

/** A transfer would take resources a data residency policy pins out of its region (HTTP 403). */
export class ResidencyViolationError extends FlotillaError {
  constructor(message: string, options?: ErrorOptions) {
    super('data_residency_violation', message, options);
  }
}

/** The error as a caller sees it: never a stack, never a raw driver message. */
export interface PublicError {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export function toPublicError(err: FlotillaError): PublicError {
  return {
    code: err.code,
    message: err.message,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    ...(err.details === undefined ? {} : { details: err.details }),
  };
}

/** The HTTP status each error code answers with on Flotilla's HTTP APIs (REST, peer protocol). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  data_residency_violation: 403,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  unavailable: 503,
  internal: 500,
};
