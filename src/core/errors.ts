/**
 * The catalog of domain error codes. Codes are stable (`area.reason`), double as i18n keys, and are
 * documented in docs/error-codes.md (a test keeps the two in sync). The core never names an HTTP
 * status: server/http/problem.ts maps codes to statuses.
 */
export const ERROR_CODES = {
  'request.invalid': 'The request does not match the schema of this endpoint.',
  'request.too_large': 'The request body is larger than this endpoint accepts.',
  'request.unsupported_media_type': 'The request body must be JSON (application/json).',
  'route.not_found': 'No endpoint answers at this path with this method.',
  'flow.not_found': 'The flow does not exist, has ended, or the flow token is wrong.',
  'flow.expired': 'The flow took longer than its time limit; start again.',
  'flow.conflict': 'Another request changed this flow at the same moment; reload its state and retry.',
  'flow.wrong_state': 'The flow is not at the step this request belongs to.',
  'method.not_allowed': 'This method is not allowed for this step under the current policy.',
  'method.already_used': 'This method (or its channel) already counted as a gate in this flow.',
  'challenge.invalid': 'The code or answer is not correct, or it has expired or been used.',
  'password.policy': 'The new password does not meet the password policy.',
  'password.mismatch': 'The new password and its confirmation differ.',
  'password.directory_refused': 'The directory refused the new password; choose another.',
  'self_service.unavailable': 'Self-service recovery is not available for this account; contact the helpdesk.',
  'rate.limited': 'Too many requests; wait before trying again.',
  'auth.failed': 'The sign-in details are not correct.',
  'auth.required': 'This endpoint needs a valid session or token.',
  'auth.step_up_required': 'This change needs a fresh sign-in.',
  'auth.forbidden': 'The token does not carry the scope this endpoint needs.',
  'enrollment.not_found': 'No such registered method on this account.',
  'enrollment.invalid_input': 'The details given for this method are not valid.',
  'directory.unavailable': 'The directory cannot be reached; try again shortly.',
  'dependency.unavailable': 'A service Latchkey depends on cannot be reached; try again shortly.',
  'internal': 'Something went wrong on our side; quote the correlation id to the helpdesk.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A failure the domain expects and names. `detail` is safe to show to the person who caused it. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string = ERROR_CODES[code],
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${code}: ${detail}`);
    this.name = 'DomainError';
  }
}

export const isDomainError = (error: unknown): error is DomainError => error instanceof DomainError;
