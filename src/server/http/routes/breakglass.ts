import { z } from 'zod';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { auditActor } from '../../../core/admin/principal.ts';
import type { BreakGlassActor } from '../../../core/breakglass/service.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];
const openingParams = z.object({ id: z.uuid('an opening id is a UUID') }).strict();
const openingBody = z
  .object({
    account: z.string().trim().min(1).max(256).describe('Username or work email of the break-glass account.'),
    reason: z.string().trim().min(3, 'say why the account is opened, in a few words').max(500),
  })
  .strict();
// A share is about 90 characters; the cap leaves room for spaces and dashes as people type them.
const shareBody = z.object({ share: z.string().min(1).max(400).describe('One custodian’s share, as printed by `latchkey breakglass seal`.') }).strict();

/**
 * Emergency access from the admin console (permission `breakglass:operate`): an opening is started
 * with a reason, then each custodian's share is POSTed by that custodian's own session or token
 * (shares travel only in request bodies, never in URLs), and the request that completes the
 * threshold gets the password once, with `Cache-Control: no-store`.
 */
export function registerBreakGlassRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const service = latchkey.breakGlass.service;
  const operator = async (request: FastifyRequest): Promise<BreakGlassActor> => {
    const principal = await latchkey.adminAuth.require(request, 'breakglass:operate');
    const context = requestContext(request);
    const actor = auditActor(principal);
    return { kind: actor.kind, id: actor.id, ip: context.ip, userAgent: context.userAgent };
  };
  const noStore = (reply: FastifyReply): void => {
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  };

  // Read with policy:read (security admins and auditors): who holds custody is governance data, not helpdesk data.
  typed.get(
    '/api/admin/breakglass/status',
    { preValidation: latchkey.adminAuth.guard('policy:read'), schema: { tags: ['admin'], summary: 'Every break-glass account: seal state, custodians, threshold, last drill, next drill due, overdue and watch flags (as `latchkey breakglass status`).', security } },
    async () => ({ accounts: await service.status() }),
  );

  typed.post(
    '/api/admin/breakglass/openings',
    { preValidation: latchkey.adminAuth.guard('breakglass:operate'), schema: { tags: ['admin'], summary: 'Start an emergency opening of a break-glass account; custodians then send their shares.', security, body: openingBody } },
    async (request, reply) => {
      const opening = await service.beginOpening(request.body.account, request.body.reason, await operator(request));
      noStore(reply);
      return reply.code(201).send({ opening });
    },
  );

  typed.post(
    '/api/admin/breakglass/openings/:id/shares',
    { preValidation: latchkey.adminAuth.guard('breakglass:operate'), schema: { tags: ['admin'], summary: 'Send one custodian’s share; the share that completes the threshold returns the password, once.', security, params: openingParams, body: shareBody } },
    async (request, reply) => {
      const result = await service.submitShare(request.params.id, request.body.share, await operator(request));
      noStore(reply);
      return result.password === null ? { opening: result.opening } : { opening: result.opening, password: result.password, shownOnce: true };
    },
  );
}
