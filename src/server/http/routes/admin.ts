import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { stringify } from 'csv-stringify/sync';
import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditRecord } from '../../../core/audit/events.ts';
import { FORMULA_START } from './reports.ts';
import { asAccountId, asFlowId } from '../../../core/account/ids.ts';
import type { AdminScope } from '../../../core/ports/store.ts';
import type { AdminActor } from '../../../core/app/admin-queries.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];
const limit = z.coerce.number().int().min(1).max(500).default(100);
const eventTypes = Object.keys(AUDIT_EVENT_TYPES) as [AuditEventType, ...AuditEventType[]];
/** The most events one CSV or JSONL download holds; page on with the `x-next-after` header. */
const AUDIT_EXPORT_MAX = 10_000;
const AUDIT_CSV_COLUMNS = ['seq', 'id', 'at', 'type', 'outcome', 'reason', 'actor_kind', 'actor_id', 'subject', 'ip', 'user_agent', 'department', 'tier', 'flow_id', 'data', 'prev_hash', 'hash'] as const;

/**
 * Audit events as CSV, one row each, `data` as a JSON cell. SECURITY: user agents, reasons and
 * department names come from outside; a text cell a spreadsheet would run as a formula is prefixed
 * with `'` (CSV injection), as in the usage report.
 */
export function auditCsv(events: readonly AuditRecord[]): string {
  const rows = events.map((event) => {
    const cells: Record<(typeof AUDIT_CSV_COLUMNS)[number], string> = {
      seq: String(event.seq),
      id: event.id,
      at: event.at.toISOString(),
      type: event.type,
      outcome: event.outcome,
      reason: event.reason ?? '',
      actor_kind: event.actor.kind,
      actor_id: event.actor.id ?? '',
      subject: event.subject ?? '',
      ip: event.ip ?? '',
      user_agent: event.userAgent ?? '',
      department: event.department ?? '',
      tier: event.tier ?? '',
      flow_id: event.flowId ?? '',
      data: JSON.stringify(event.data),
      prev_hash: event.prevHash,
      hash: event.hash,
    };
    for (const column of AUDIT_CSV_COLUMNS) if (FORMULA_START.test(cells[column]) && Number.isNaN(Number(cells[column]))) cells[column] = `'${cells[column]}`;
    return cells;
  });
  return stringify(rows, { header: true, columns: [...AUDIT_CSV_COLUMNS] });
}

/** The admin API: token-authenticated, scoped, read-only in this release, and every read audited. */
export function registerAdminRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, adminQueries } = latchkey;
  const actor = async (request: FastifyRequest, permission: AdminScope): Promise<AdminActor> => {
    const principal = await adminAuth.require(request, permission);
    const context = requestContext(request);
    return { principal, ip: context.ip, userAgent: context.userAgent };
  };

  typed.get(
    '/api/admin/accounts',
    { schema: { tags: ['admin'], summary: 'Accounts of the configured directory whose username, display name or work email contains `query`, in username order; page with `after` (the last username seen).', security, querystring: z.object({ query: z.string().max(256).optional(), after: z.string().max(256).optional(), limit }).strict() } },
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
            limit: z.coerce.number().int().min(1).max(AUDIT_EXPORT_MAX).optional().describe('At most 500 for JSON (default 100); CSV and JSONL downloads take up to 10000 (default 10000).'),
            format: z.enum(['json', 'csv', 'jsonl']).default('json').describe('json: a page with nextAfter; csv or jsonl: a file download of the same events.'),
          })
          .strict()
          .refine((query) => query.format !== 'json' || query.limit === undefined || query.limit <= 500, { message: 'at most 500 for JSON; CSV and JSONL take up to 10000', path: ['limit'] }),
      },
    },
    async (request, reply) => {
      const query = request.query;
      const types = query.type === undefined ? undefined : Array.isArray(query.type) ? query.type : [query.type];
      const page = await adminQueries.audit(
        await actor(request, 'audit:read'),
        {
          limit: query.limit ?? (query.format === 'json' ? 100 : AUDIT_EXPORT_MAX),
          ...(query.since ? { since: new Date(query.since) } : {}),
          ...(query.until ? { until: new Date(query.until) } : {}),
          ...(types ? { types } : {}),
          ...(query.outcome ? { outcome: query.outcome } : {}),
          ...(query.subject ? { subject: asAccountId(query.subject) } : {}),
          ...(query.ip ? { ip: query.ip } : {}),
          ...(query.flowId ? { flowId: asFlowId(query.flowId) } : {}),
          ...(query.after !== undefined ? { afterSeq: query.after } : {}),
        },
        query.format,
      );
      if (query.format === 'json') return page;
      const file = query.format === 'csv' ? auditCsv(page.events) : page.events.map((event) => `${JSON.stringify(event)}\n`).join('');
      // The next page of a download starts after this seq, as for JSON (a header, since the body is the file).
      if (page.nextAfter !== null) void reply.header('x-next-after', String(page.nextAfter));
      return reply
        .type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit.${query.format}"`)
        .header('cache-control', 'no-store')
        .send(file);
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
      devChannels: adminQueries.devOutboxChannels,
      messages: await adminQueries.outbox(await actor(request, 'outbox:read'), {
        limit: request.query.limit,
        ...(request.query.status ? { status: request.query.status } : {}),
        ...(request.query.account ? { accountId: asAccountId(request.query.account) } : {}),
      }),
    }),
  );
}
