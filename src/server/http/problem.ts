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
  'enrollment.not_found': 404,
  'enrollment.invalid_input': 422,
  'directory.unavailable': 503,
  'dependency.unavailable': 503,
  internal: 500,
};

/** Sends an RFC 9457 problem document: `code` is stable, `detail` is for the person. */
export function sendProblem(reply: FastifyReply, code: ErrorCode, detail: string, extra: Readonly<Record<string, unknown>> = {}): FastifyReply {
  const status = STATUS_BY_CODE[code];
  const retryAfter = extra['retryAfterSeconds'];
  if (typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  return reply
    .code(status)
    .type('application/problem+json; charset=utf-8')
    .send({ type: `urn:latchkey:problem:${code}`, title: ERROR_CODES[code], status, code, detail, ...extra });
}
