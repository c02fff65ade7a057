import type { FastifyReply } from 'fastify';
import { ERROR_CODES, type ErrorCode } from '../../core/errors.ts';

/** The one mapping from domain error codes to HTTP statuses. */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  'request.invalid': 400,
  'request.too_large': 413,
  'request.unsupported_media_type': 415,
  'route.not_found': 404,
  'flow.not_found': 404,
  'flow.expired': 410,
  'flow.conflict': 409,
  'flow.wrong_state': 409,
  'method.not_allowed': 422,
  'method.already_used': 422,
  'challenge.invalid': 422,
  'password.policy': 422,
  'password.mismatch': 422,
  'password.directory_refused': 422,
  'self_service.unavailable': 403,
  'rate.limited': 429,
  'auth.failed': 401,
  'auth.required': 401,
  'auth.step_up_required': 403,
  'auth.forbidden': 403,
  'auth.second_factor_missing': 403,
  'enrollment.not_found': 404,
  'enrollment.invalid_input': 422,
  'travel.invalid_input': 422,
  'travel.not_found': 404,
  'self_service.frozen': 403,
  'dispute.link_invalid': 410,
  'alert.not_found': 404,
  'alert.wrong_status': 409,
  'hold.not_found': 404,
  'hold.self_confirmation': 403,
  'hold.wrong_status': 409,
  'policy.invalid': 422,
  'policy.would_strand': 409,
  'policy.conflict': 409,
  'policy.unchanged': 409,
  'policy.version_not_found': 404,
  'directory.unavailable': 503,
  'dependency.unavailable': 503,
  'breakglass.not_break_glass': 422,
  'breakglass.not_sealed': 409,
  'breakglass.already_sealed': 409,
  'breakglass.wrong_state': 409,
  'breakglass.invalid_custody': 422,
  'breakglass.shares_refused': 422,
  'breakglass.directory_refused': 422,
  'breakglass.not_found': 404,
  'helpdesk.forbidden': 403,
  'helpdesk.verification_required': 409,
  'helpdesk.verification_not_allowed': 422,
  'helpdesk.approval_invalid': 410,
  'account.not_found': 404,
  'registration.required': 403,
  'dayone.invalid_rows': 422,
  internal: 500,
};

/**
 * Retry-After for outages with no known end: long enough for a pool to reconnect after a directory
 * restart, short enough that the person's retry lands soon after it is back.
 */
export const RETRY_AFTER_SECONDS_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  'directory.unavailable': 5,
};

/** Sends an RFC 9457 problem document: `code` is stable, `detail` is for the person. */
export function sendProblem(reply: FastifyReply, code: ErrorCode, detail: string, extra: Readonly<Record<string, unknown>> = {}): FastifyReply {
  const status = STATUS_BY_CODE[code];
  const retryAfter = extra['retryAfterSeconds'] ?? RETRY_AFTER_SECONDS_BY_CODE[code];
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  return reply
    .code(status)
    .type('application/problem+json; charset=utf-8')
    .send({ type: `urn:latchkey:problem:${code}`, title: ERROR_CODES[code], status, code, detail, ...extra });
}
