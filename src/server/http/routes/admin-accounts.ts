import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ADMIN_REASON_MAX_CHARS } from '../../../core/admin/account-actions.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];
const accountParams = z.object({ id: z.string().min(1).max(200) }).strict();
const methodParams = z.object({ id: z.string().min(1).max(200), enrollmentId: z.uuid('the method id is a UUID') }).strict();
const reasonBody = z.object({ reason: z.string().trim().min(1, 'say why, in a few words').max(ADMIN_REASON_MAX_CHARS) }).strict();

/**
 * What the console changes on an account (permission `accounts:write`): unlock it, revoke one of
 * its registered methods. A reason is required and kept in the audit record; an admin never sees
 * or sets a password or a method's secret (PRIV-2).
 */
export function registerAdminAccountRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, adminAccounts } = latchkey;

  typed.post(
    '/api/admin/accounts/:id/unlock',
    { preValidation: adminAuth.guard('accounts:write'), schema: { tags: ['admin'], summary: 'Unlock an account in the directory (clears the failed sign-in count), with a reason.', security, params: accountParams, body: reasonBody } },
    async (request) => {
      const principal = await adminAuth.require(request, 'accounts:write');
      const { wasLocked } = await adminAccounts.unlock(principal, request.params.id, request.body.reason, requestContext(request));
      return { account: request.params.id, unlocked: true, wasLocked };
    },
  );

  typed.post(
    '/api/admin/accounts/:id/methods/:enrollmentId/revoke',
    { preValidation: adminAuth.guard('accounts:write'), schema: { tags: ['admin'], summary: 'Revoke a registered recovery method, with a reason; the person is told on every address of record.', security, params: methodParams, body: reasonBody } },
    async (request, reply) => {
      const principal = await adminAuth.require(request, 'accounts:write');
      await adminAccounts.revokeMethod(principal, request.params.id, request.params.enrollmentId, request.body.reason, requestContext(request));
      return reply.code(204).send();
    },
  );
}
