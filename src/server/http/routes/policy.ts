import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { auditActor, type AdminScope } from '../../../core/admin/principal.ts';
import type { PolicyActor, PolicyViewer } from '../../../core/policy/paths/policy-service.ts';
import type { PolicyVersionRecord } from '../../../core/policy/versions.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';

const security = [{ bearer: [] }];

/**
 * A policy document is larger than any other request body (the commented default is about 12 KB),
 * so the two routes that take one accept up to this much; every other route keeps the global limit.
 */
export const POLICY_BODY_LIMIT_BYTES = 256 * 1024;
/** Errors are reported under this name (`policy.yaml:LINE:COL`), as `latchkey policy check` would for a file. */
const POLICY_NAME = 'policy.yaml';

const policyText = z.string().min(1, 'send the whole YAML document').max(200_000);
const simulateBody = z.object({ text: policyText }).strict();
const publishBody = z
  .object({
    text: policyText,
    reason: z.string().trim().min(1, 'say why, in a few words').max(500),
    force: z.boolean().default(false).describe('Publish even when the simulation finds accounts with no way left to recover.'),
  })
  .strict();
const versionParams = z.object({ n: z.coerce.number().int().min(1).max(2_147_483_647) }).strict();
const historyQuery = z
  .object({
    before: z.coerce.number().int().min(1).max(2_147_483_647).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

const summary = (record: Omit<PolicyVersionRecord, 'text' | 'diff'>): Record<string, unknown> => ({
  version: record.version,
  hash: record.hash,
  createdAt: record.createdAt.toISOString(),
  actor: { kind: record.actorKind, id: record.actorId },
  reason: record.reason,
  source: record.source,
  linesAdded: record.linesAdded,
  linesRemoved: record.linesRemoved,
});

/**
 * The policy API of the admin console: the document in force with its validation messages, its
 * recovery paths and findings, findings about registered methods, a what-if simulation, publishing
 * and simulation (`policy:write`) and the version history (`policy:read`). Callers are tokens or
 * console sessions (AdminAuth); an auditor or helpdesk principal cannot publish. Logic lives in PolicyService; these
 * handlers only authorize, validate the request and shape the reply.
 */
export function registerPolicyRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { adminAuth, policies } = latchkey;
  const authorize = async (request: FastifyRequest, permission: AdminScope): Promise<PolicyActor> => auditActor(await adminAuth.require(request, permission));
  const viewer = async (request: FastifyRequest, permission: AdminScope): Promise<PolicyViewer> => ({ actor: await authorize(request, permission), ...requestContext(request) });

  typed.get(
    '/api/admin/policy',
    { schema: { tags: ['admin'], summary: 'The policy version in force: its text, who published it and why, and its validation messages.', security } },
    async (request) => {
      await authorize(request, 'policy:read');
      const record = policies.currentVersion();
      const validation = policies.validate(record.text, `policy version ${record.version}`);
      return { version: summary(record), text: record.text, valid: validation.ok, messages: validation.ok ? [] : validation.errors };
    },
  );

  typed.get(
    '/api/admin/policy/paths',
    { schema: { tags: ['admin'], summary: 'Every combination of methods that completes a reset or unlock, per tier, with its strength and findings.', security } },
    async (request) => {
      await authorize(request, 'policy:read');
      return { version: policies.currentVersion().version, ...policies.paths() };
    },
  );

  typed.get(
    '/api/admin/policy/findings',
    { schema: { tags: ['admin'], summary: 'Findings about registered methods: privileged accounts with only weak methods, one address or number on several accounts, methods due for re-confirmation.', security } },
    async (request) => {
      return { version: policies.currentVersion().version, findings: await policies.accountFindings(await viewer(request, 'policy:read')) };
    },
  );

  typed.post(
    '/api/admin/policy/simulate',
    {
      // The pre-publish check: it reads every account's methods, and the console offers it to those who may publish.
      preValidation: adminAuth.guard('policy:write'),
      bodyLimit: POLICY_BODY_LIMIT_BYTES,
      schema: { tags: ['admin'], summary: 'What a proposed policy would do to today’s accounts: who could still recover, who could not and why, and which paths appear or disappear (permission policy:write).', security, body: simulateBody },
    },
    async (request) => {
      const by = await viewer(request, 'policy:write');
      return { simulation: await policies.simulate(request.body.text, POLICY_NAME, by) };
    },
  );

  typed.put(
    '/api/admin/policy',
    {
      preValidation: adminAuth.guard('policy:write'),
      bodyLimit: POLICY_BODY_LIMIT_BYTES,
      schema: { tags: ['admin'], summary: 'Publish a new policy version: validated, simulated (refused if it strands accounts, unless force), stored with its diff and audited (permission policy:write).', security, body: publishBody },
    },
    async (request) => {
      const actor = await authorize(request, 'policy:write');
      const { text, reason, force } = request.body;
      const result = await policies.publish({ text, name: POLICY_NAME, reason, force, actor, source: 'api' });
      return { version: { ...summary(result.version), diff: result.version.diff }, simulation: result.simulation };
    },
  );

  typed.get(
    '/api/admin/policy/versions',
    { schema: { tags: ['admin'], summary: 'Policy versions, newest first: who, when, why and how many lines changed; page with `before`.', security, querystring: historyQuery } },
    async (request) => {
      await authorize(request, 'policy:read');
      const versions = await policies.history({ limit: request.query.limit, ...(request.query.before !== undefined ? { beforeVersion: request.query.before } : {}) });
      return { versions: versions.map(summary) };
    },
  );

  typed.get(
    '/api/admin/policy/versions/:n',
    { schema: { tags: ['admin'], summary: 'One policy version: its full text and the full diff from the version before.', security, params: versionParams } },
    async (request) => {
      await authorize(request, 'policy:read');
      const record = await policies.version(request.params.n);
      return { version: { ...summary(record), diff: record.diff }, text: record.text };
    },
  );
}
