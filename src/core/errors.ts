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
  'auth.second_factor_missing': 'Admin sign-in needs an authenticator app registered to the account.',
  'enrollment.not_found': 'No such registered method on this account.',
  'enrollment.invalid_input': 'The details given for this method are not valid.',
  'travel.invalid_input': 'The trip details are not valid.',
  'travel.not_found': 'No such declared trip on this account, or it was already cancelled.',
  'self_service.frozen': 'Self-service is frozen for this account after a disputed change; contact the helpdesk.',
  'dispute.link_invalid': 'This link is unknown, has expired or was already used.',
  'alert.not_found': 'No alert has this id.',
  'alert.wrong_status': 'The alert’s status does not allow this change.',
  'hold.not_found': 'No privileged recovery hold has this id.',
  'hold.self_confirmation': 'A held privileged recovery must be confirmed by another admin, never by the held account itself.',
  'hold.wrong_status': 'The hold was already confirmed.',
  'policy.invalid': 'The policy document is not valid; nothing was stored.',
  'policy.would_strand': 'The new policy would leave accounts with no way to recover; nothing was stored.',
  'policy.conflict': 'Another policy version was published at the same moment; review it and publish again.',
  'policy.unchanged': 'The policy text is the same as the version in force.',
  'policy.version_not_found': 'No policy version has this number.',
  'directory.unavailable': 'The directory cannot be reached; try again shortly.',
  'dependency.unavailable': 'A service Latchkey depends on cannot be reached; try again shortly.',
  'breakglass.not_break_glass': 'The account is not a break-glass account (not a member of tierGroups.break_glass).',
  'breakglass.not_sealed': 'The break-glass account has no seal in force.',
  'breakglass.already_sealed': 'The break-glass account is already sealed.',
  'breakglass.wrong_state': 'The seal or opening is not in a state that allows this.',
  'breakglass.invalid_custody': 'The custodians or the threshold are not valid.',
  'breakglass.shares_refused': 'The shares do not rebuild the sealed password (too few, mistyped, repeated or from another seal).',
  'breakglass.directory_refused': 'The directory refused the generated break-glass password.',
  'breakglass.not_found': 'No break-glass seal, drill or opening has this id.',
  'helpdesk.forbidden': 'This operator may not issue a pass for this account.',
  'helpdesk.verification_required': 'No valid identity verification of this person by this operator; verify them first.',
  'helpdesk.verification_not_allowed': 'The policy does not allow this way of verifying this person.',
  'helpdesk.approval_invalid': 'This approval link is unknown, expired or already used.',
  'account.not_found': 'No such account.',
  'registration.required': 'Register the required recovery methods before doing anything else.',
  'dayone.invalid_rows': 'The new-hire file has invalid rows; nothing was issued.',
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
