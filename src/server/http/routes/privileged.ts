import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];
const idParams = z.object({ id: z.uuid('a hold id is a UUID') }).strict();
const reasonBody = z.object({ reason: z.string().trim().min(1, 'say why, in a few words').max(500) }).strict();
const listQuery = z
  .object({
    status: z.enum(['held', 'confirmed', 'unconfirmed']).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

/**
 * Holds of privileged recoveries (policy `privileged.holdForConfirmation`): list them (`accounts:read`)
 * and confirm one (`privileged:confirm`, never by the held account itself). Reading marks holds past
 * their deadline unconfirmed first, so nobody confirms a hold the audit trail already calls missed
 * without that being recorded as late.
 */
export function registerPrivilegedRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, privileged } = latchkey;

  typed.get(
    '/api/admin/privileged-holds',
    { preValidation: adminAuth.guard('accounts:read'), schema: { tags: ['admin'], summary: 'Held privileged recoveries, newest first; filter by status.', security, querystring: listQuery } },
    async (request) => ({
      holds: await privileged.list(await adminAuth.require(request, 'accounts:read'), { limit: request.query.limit, ...(request.query.status ? { status: request.query.status } : {}) }, requestContext(request)),
    }),
  );

  typed.post(
    '/api/admin/privileged-holds/:id/confirm',
    {
      preValidation: adminAuth.guard('privileged:confirm'),
      schema: { tags: ['admin'], summary: 'Confirm a held privileged recovery as a second admin (with a reason); the account may self-serve again.', security, params: idParams, body: reasonBody },
    },
    async (request) => ({ hold: await privileged.confirm(await adminAuth.require(request, 'privileged:confirm'), request.params.id, request.body.reason, requestContext(request)) }),
  );
}
