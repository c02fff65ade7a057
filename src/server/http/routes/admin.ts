import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AUDIT_EVENT_TYPES, type AuditEventType } from '../../../core/audit/events.ts';
import { asAccountId, asFlowId } from '../../../core/account/ids.ts';
import type { AdminScope } from '../../../core/ports/store.ts';
import type { AdminActor } from '../../../core/app/admin-queries.ts';
import type { Latchkey } from '../../compose.ts';
import { bearer, requestContext } from '../app.ts';

const security = [{ bearer: [] }];
const limit = z.coerce.number().int().min(1).max(500).default(100);
const eventTypes = Object.keys(AUDIT_EVENT_TYPES) as [AuditEventType, ...AuditEventType[]];

/** The admin API: token-authenticated, scoped, read-only in this release, and every read audited. */
export function registerAdminRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminTokens, adminQueries } = latchkey;
  const actor = async (request: FastifyRequest, scope: AdminScope): Promise<AdminActor> => {
    const token = await adminTokens.authorize(bearer(request), scope);
    const context = requestContext(request);
    return { tokenId: token.id, ip: context.ip, userAgent: context.userAgent };
  };

  typed.get(
    '/api/admin/accounts',
    { schema: { tags: ['admin'], summary: 'Accounts of the built-in directory.', security, querystring: z.object({ query: z.string().max(256).optional(), after: z.string().max(256).optional(), limit }).strict() } },
    async (request) => ({
      accounts: await adminQueries.accounts(await actor(request, 'accounts:read'), {
        limit: request.query.limit,
        ...(request.query.query ? { query: request.query.query } : {}),
        ...(request.query.after ? { after: request.query.after } : {}),
      }),
    }),
  );

  typed.get(
    '/api/admin/accounts/:id',
    { schema: { tags: ['admin'], summary: 'One account: tier, lock state and registered methods (never their secrets).', security, params: z.object({ id: z.string().min(1).max(200) }).strict() } },
    async (request) => ({ account: await adminQueries.account(await actor(request, 'accounts:read'), request.params.id) }),
  );

  typed.get(
    '/api/admin/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'Audit events, oldest first, filtered; page with `after` (the last seq seen).',
        security,
        querystring: z
          .object({
            since: z.iso.datetime({ offset: true }).optional(),
            until: z.iso.datetime({ offset: true }).optional(),
            type: z.union([z.enum(eventTypes), z.array(z.enum(eventTypes)).max(20)]).optional(),
            outcome: z.enum(['success', 'failure', 'info']).optional(),
            subject: z.string().max(200).optional(),
            ip: z.string().max(64).optional(),
            flowId: z.uuid().optional(),
            after: z.coerce.number().int().min(0).optional(),
            limit,
          })
          .strict(),
      },
    },
    async (request) => {
      const query = request.query;
      const types = query.type === undefined ? undefined : Array.isArray(query.type) ? query.type : [query.type];
      return adminQueries.audit(await actor(request, 'audit:read'), {
        limit: query.limit,
        ...(query.since ? { since: new Date(query.since) } : {}),
        ...(query.until ? { until: new Date(query.until) } : {}),
        ...(types ? { types } : {}),
        ...(query.outcome ? { outcome: query.outcome } : {}),
        ...(query.subject ? { subject: asAccountId(query.subject) } : {}),
        ...(query.ip ? { ip: query.ip } : {}),
        ...(query.flowId ? { flowId: asFlowId(query.flowId) } : {}),
        ...(query.after !== undefined ? { afterSeq: query.after } : {}),
      });
    },
  );

  typed.get(
    '/api/admin/outbox',
    {
      schema: {
        tags: ['admin'],
        summary: 'The outbox; message text is readable only for the dev outbox (no real channel configured).',
        security,
        querystring: z.object({ status: z.enum(['pending', 'sending', 'delivered', 'dead']).optional(), account: z.string().max(200).optional(), limit }).strict(),
      },
    },
    async (request) => ({
      messages: await adminQueries.outbox(await actor(request, 'outbox:read'), {
        limit: request.query.limit,
        ...(request.query.status ? { status: request.query.status } : {}),
        ...(request.query.account ? { accountId: asAccountId(request.query.account) } : {}),
      }),
    }),
  );
}
