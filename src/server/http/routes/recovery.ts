import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { METHOD_IDS } from '../../../core/methods/method-ids.ts';
import type { StepResult } from '../../../core/flows/recovery/service.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext, requireBearer } from '../app.ts';
import { sendProblem } from '../problem.ts';

/** Identifiers are one scalar string: arrays, objects and lists are schema errors (INP-1). */
export const identifierField = z.string().min(1, 'identifier is required').max(256, 'identifier is at most 256 characters');
const codeField = z.string().min(1, 'code is required').max(64, 'code is at most 64 characters');
export const passwordField = z.string().max(1024, 'password is at most 1024 characters');

const base64url = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
/**
 * A WebAuthn credential as `@simplewebauthn/browser` serialises it: the answer to a passkey
 * registration (`attestationObject`) or authentication (`authenticatorData`, `signature`). Bounded
 * and shape-checked here; the method verifies its content.
 */
export const webauthnCredentialField = z
  .object({
    id: base64url(1024).min(1),
    rawId: base64url(1024).min(1),
    type: z.literal('public-key'),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
    clientExtensionResults: z.record(z.string().max(64), z.unknown()).refine((value) => Object.keys(value).length <= 16, 'at most 16 extension results'),
    response: z
      .object({
        clientDataJSON: base64url(4096).min(1),
        attestationObject: base64url(16384).optional(),
        authenticatorData: base64url(4096).optional(),
        signature: base64url(1024).optional(),
        userHandle: base64url(1024).optional(),
        transports: z.array(z.string().max(16)).max(8).optional(),
        publicKey: base64url(4096).optional(),
        publicKeyAlgorithm: z.int().optional(),
      })
      .strict(),
  })
  .strict();

const flowSecurity = [{ bearer: [] }];

/**
 * Waits until `floorMs` after `receivedAt` (a performance.now() reading). Every entry point that
 * starts a reset or unlock (this API, the portal's form) answers through it.
 *
 * SECURITY: the reply waits for a fixed floor above the processing time, so whether the identifier
 * named an account (a lookup hit, more rows decoded) cannot be read from timing (ENUM-2, ENUM-5).
 * Timers count from libuv's loop clock, read when this loop turn began and so stale by exactly the
 * processing time: a plain sleep would end earlier for the costlier (real) path. One timer turn
 * refreshes the clock before the remaining wait is measured.
 */
export async function holdStartFloor(receivedAt: number, floorMs: number): Promise<void> {
  await sleep(0);
  const wait = receivedAt + floorMs - performance.now();
  if (wait > 0) await sleep(wait);
}

/** Maps a step's outcome to the reply: refusals that keep the flow alive are problems carrying the flow. */
export function sendStep(reply: FastifyReply, result: StepResult): FastifyReply {
  const extra = { flow: result.view, ...(result.flowToken ? { flowToken: result.flowToken } : {}) };
  switch (result.outcome) {
    case 'challenge_failed':
      return sendProblem(reply, 'challenge.invalid', 'That code or answer is not correct, or it has expired. Try again or choose another method.', extra);
    case 'challenge_exhausted':
      return sendProblem(reply, 'challenge.invalid', 'That code can no longer be used. Choose a method to get a new one.', extra);
    case 'password_rejected':
      return sendProblem(reply, 'password.policy', `Choose another password: ${result.rejections.join(' ')}`, { ...extra, reasons: result.rejections });
    case 'expired':
      return sendProblem(reply, 'flow.expired', 'The time to set a new password ran out. Start again.');
    case 'ok':
      return reply.send({ ...extra, ...(result.sessionToken ? { sessionToken: result.sessionToken } : {}), ...(result.reconfirmation ? { reconfirmation: result.reconfirmation } : {}) });
  }
}

/**
 * The recovery API. A flow is continued with the flow token returned at start (and rotated after
 * every passed gate) as a bearer credential: the flow id alone continues nothing.
 */
export function registerRecoveryRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { recovery } = latchkey;

  typed.post(
    '/api/recovery/flows',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Start a password reset or an account unlock for a username or work email.',
        description: 'The reply is the same whether or not the account exists.',
        body: z.object({ identifier: identifierField, purpose: z.enum(['reset', 'unlock']).default('reset') }).strict(),
      },
    },
    async (request, reply) => {
      const receivedAt = performance.now();
      const started = await recovery.start({ identifier: request.body.identifier, purpose: request.body.purpose }, requestContext(request));
      await holdStartFloor(receivedAt, latchkey.config.startResponseFloorMs);
      return reply.code(201).send({ flowToken: started.flowToken, flow: started.view });
    },
  );

  typed.get('/api/recovery/flow', { schema: { tags: ['recovery'], summary: 'The current step of the flow.', security: flowSecurity, querystring: z.object({}).strict() } }, async (request) => ({
    flow: await recovery.describe(requireBearer(request), requestContext(request)),
  }));

  typed.post(
    '/api/recovery/flow/method',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Choose the method for the next gate; a code is sent if the method sends one.',
        security: flowSecurity,
        body: z.object({ method: z.enum(METHOD_IDS) }).strict(),
      },
    },
    async (request, reply) => sendStep(reply, await recovery.chooseMethod(requireBearer(request), request.body.method, requestContext(request))),
  );

  typed.post(
    '/api/recovery/flow/answer',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Answer the open challenge with a code (with answers for security questions, with the WebAuthn credential for a passkey).',
        security: flowSecurity,
        body: z.union([
          z.object({ code: codeField }).strict(),
          z.object({ answers: z.array(z.string().min(1).max(256)).min(1).max(5) }).strict(),
          z.object({ credential: webauthnCredentialField }).strict(),
        ]),
      },
    },
    async (request, reply) => sendStep(reply, await recovery.answer(requireBearer(request), request.body, requestContext(request))),
  );

  typed.post(
    '/api/recovery/flow/password',
    {
      schema: {
        tags: ['recovery'],
        summary: 'Set the new password once every gate is passed.',
        security: flowSecurity,
        body: z.object({ password: passwordField, confirmPassword: passwordField }).strict(),
      },
    },
    async (request, reply) => sendStep(reply, await recovery.setPassword(requireBearer(request), request.body, requestContext(request))),
  );

  typed.post(
    '/api/recovery/flow/unlock',
    { schema: { tags: ['recovery'], summary: 'Unlock the account once every gate is passed.', security: flowSecurity, body: z.object({}).strict().optional() } },
    async (request, reply) => sendStep(reply, await recovery.confirmUnlock(requireBearer(request), requestContext(request))),
  );

}
