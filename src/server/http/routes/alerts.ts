import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ALERT_SEVERITIES } from '../../../core/monitoring/finding.ts';
import { ALERT_STATUSES } from '../../../core/monitoring/alerts/alert.ts';
import type { AlertActor, AlertDetail } from '../../../core/monitoring/alerts/alert-service.ts';
import { auditActor, can, type AdminScope } from '../../../core/admin/principal.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];
/** A page cursor: `<first seen, epoch ms>.<alert id>` of the last alert of the previous page. */
const CURSOR = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
const cursorOf = (alert: AlertDetail): string => `${new Date(alert.firstSeenAt).getTime()}.${alert.id}`;

const listQuery = z
  .object({
    status: z.enum(ALERT_STATUSES).optional(),
    severity: z.enum(ALERT_SEVERITIES).optional(),
    detector: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a detector id is lower-case snake_case, e.g. repeated_failures').optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    after: z.string().regex(CURSOR, 'use the nextAfter value of the previous page').optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict()
  .refine((query) => query.since === undefined || query.until === undefined || Date.parse(query.since) < Date.parse(query.until), { message: 'since must be before until', path: ['since'] });

const idParams = z.object({ id: z.uuid('an alert id is a UUID') }).strict();
const reasonBody = z.object({ reason: z.string().trim().min(1, 'say why, in a few words').max(500) }).strict();

/**
 * The alerts API for the admin console: admin tokens with `alerts:read` list and read alerts,
 * `alerts:write` acknowledges and resolves them (a reason is required; each change is audited with
 * the token as actor). The subject's username is shown only to a token that may also read accounts.
 */
export function registerAlertRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, alerts } = latchkey;
  const authorize = async (request: FastifyRequest, permission: AdminScope): Promise<{ actor: AlertActor; readsAccounts: boolean }> => {
    const principal = await adminAuth.require(request, permission);
    const context = requestContext(request);
    return { actor: { ...auditActor(principal), ip: context.ip, userAgent: context.userAgent }, readsAccounts: can(principal, 'accounts:read') };
  };

  typed.get(
    '/api/admin/alerts',
    { schema: { tags: ['admin'], summary: 'Alerts, newest first; filter by status, severity, detector and the period they were active in; page with `after`.', security, querystring: listQuery } },
    async (request) => {
      const { actor, readsAccounts } = await authorize(request, 'alerts:read');
      const query = request.query;
      const cursor = query.after ? CURSOR.exec(query.after) : null;
      const page = await alerts.list(
        actor,
        {
          limit: query.limit,
          ...(query.status ? { status: query.status } : {}),
          ...(query.severity ? { severity: query.severity } : {}),
          ...(query.detector ? { detectorId: query.detector } : {}),
          ...(query.since ? { since: new Date(query.since) } : {}),
          ...(query.until ? { until: new Date(query.until) } : {}),
          ...(cursor?.[1] && cursor[2] ? { after: { firstSeenAt: new Date(Number(cursor[1])), id: cursor[2] } } : {}),
        },
        readsAccounts,
      );
      const last = page[page.length - 1];
      return { alerts: page, nextAfter: page.length === query.limit && last ? cursorOf(last) : null };
    },
  );

  typed.get(
    '/api/admin/alerts/:id',
    { schema: { tags: ['admin'], summary: 'One alert: what was seen, against which baseline, the evidence event ids, and who changed its status, when and why.', security, params: idParams } },
    async (request) => {
      const { actor, readsAccounts } = await authorize(request, 'alerts:read');
      return { alert: await alerts.get(actor, request.params.id, readsAccounts) };
    },
  );

  typed.post(
    '/api/admin/alerts/:id/acknowledge',
    { preValidation: adminAuth.guard('alerts:write'), schema: { tags: ['admin'], summary: 'Acknowledge an open alert (someone is on it): repeats stop notifying, escalations still do.', security, params: idParams, body: reasonBody } },
    async (request) => {
      const { actor } = await authorize(request, 'alerts:write');
      return { alert: await alerts.acknowledge(request.params.id, request.body.reason, actor) };
    },
  );

  typed.post(
    '/api/admin/alerts/:id/resolve',
    { preValidation: adminAuth.guard('alerts:write'), schema: { tags: ['admin'], summary: 'Resolve an open or acknowledged alert; a later finding with the same key raises a new alert.', security, params: idParams, body: reasonBody } },
    async (request) => {
      const { actor } = await authorize(request, 'alerts:write');
      return { alert: await alerts.resolve(request.params.id, request.body.reason, actor) };
    },
  );
}
