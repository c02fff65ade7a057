import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { parse as parseCsv } from 'csv-parse/sync';
import { DAY_ONE_DELIVERIES, MAX_DAY_ONE_ROWS, type NewHireRow } from '../../../core/dayone/service.ts';
import { HELPDESK_VERIFICATION_METHODS } from '../../../core/helpdesk/policy.ts';
import { DomainError } from '../../../core/errors.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';
import { identifierField } from './recovery.ts';

const security = [{ bearer: [] }];
const uuid = z.uuid('must be a UUID');
const approvalToken = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not an approval link token') }).strict();
const APPROVAL_URL = /^((?:\/api)?\/helpdesk\/approvals\/)[^/?#]+/;

/**
 * A request URL fit for logs: the token of a manager's approval link (the JSON link or its page) is
 * cut out, so whoever reads the access log cannot approve a pass in the manager's place (LOG-3).
 */
export function redactApprovalUrl(url: string): string {
  return url.replace(APPROVAL_URL, '$1[redacted]');
}

/** `helpdesk` in latchkey.yaml: where approval links point, and who approves for whom. */
export const helpdeskConfigSchema = z
  .object({
    approvalBaseUrl: z.url().optional().describe('Base URL of the approval links mailed to managers; unset means portal.publicUrl, else http://host:port.'),
    managerEmails: z
      .record(z.string().min(1).max(256), z.email())
      .default({})
      .describe('Approver address by username or by department; the manager-approval verification mails this address and no other.'),
  })
  .strict();

/**
 * Reads a new-hire CSV (header row: username, start_date, manager_email, personal_email) into rows
 * with the line each starts on, so errors can name it. A malformed file is a `dayone.invalid_rows`.
 */
export function parseNewHireCsv(text: string): NewHireRow[] {
  try {
    const records = parseCsv(text, { columns: (header: string[]) => header.map((name) => name.trim().toLowerCase()), skip_empty_lines: true, trim: true, info: true, bom: true }) as { record: Record<string, string>; info: { lines: number } }[];
    // csv-parse counts the line a record ends on; a record without quoted line breaks starts there too.
    return records.map(({ record, info }) => ({ line: info.lines, record: Object.fromEntries(Object.entries(record).filter(([, value]) => value !== '')) }));
  } catch (error) {
    throw new DomainError('dayone.invalid_rows', `The file is not valid CSV: ${(error as Error).message}`, { errors: [(error as Error).message] });
  }
}

/**
 * The helpdesk path (verify a person, issue a Temporary Access Pass), day-one bulk issuance, the
 * manager's approval link, and the self-service sign-in with a pass. Every admin route needs the
 * `tap:issue` permission; the service applies the account rules (PRIV-3) and audits every step.
 */
export function registerHelpdeskRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const { helpdesk, accessPasses, dayOne, adminAuth } = latchkey;

  typed.post(
    '/api/me/sign-in/pass',
    {
      schema: {
        tags: ['self-service'],
        summary: 'Sign in with a Temporary Access Pass to register new methods.',
        description: 'Returns a session in which only registering methods is allowed until the policy minimum is met (`registration.missing`).',
        body: z.object({ username: identifierField, pass: z.string().min(1).max(64) }).strict(),
      },
    },
    async (request) => ({ status: 'signed_in' as const, ...(await accessPasses.signIn(request.body, requestContext(request))) }),
  );

  typed.get(
    '/api/admin/helpdesk/accounts/:identifier',
    { schema: { tags: ['helpdesk'], summary: 'Look a person up: methods, recent self-service attempts (method and outcome), live pass, and whether you may issue one.', security, params: z.object({ identifier: identifierField }).strict() } },
    async (request) => helpdesk.lookup(await adminAuth.require(request, 'tap:issue'), request.params.identifier, requestContext(request)),
  );

  typed.post(
    '/api/admin/helpdesk/verifications',
    {
      schema: {
        tags: ['helpdesk'],
        summary: 'Start verifying a person: a code to one of their methods, a manager approval link, or a recorded out-of-band check.',
        security,
        body: z
          .object({
            accountId: z.string().min(1).max(200),
            method: z.enum(HELPDESK_VERIFICATION_METHODS),
            enrollmentId: uuid.optional(),
            reason: z.string().max(500).optional(),
            ticket: z.string().max(100).optional(),
          })
          .strict(),
      },
    },
    async (request) => helpdesk.startVerification(await adminAuth.require(request, 'tap:issue'), request.body, requestContext(request)),
  );

  typed.get(
    '/api/admin/helpdesk/verifications/:id',
    { schema: { tags: ['helpdesk'], summary: 'One of your verifications (poll it while a manager approves).', security, params: z.object({ id: uuid }).strict() } },
    async (request) => ({ verification: await helpdesk.verification(await adminAuth.require(request, 'tap:issue'), request.params.id) }),
  );

  typed.post(
    '/api/admin/helpdesk/verifications/:id/code',
    { schema: { tags: ['helpdesk'], summary: 'Check the code the person reads out.', security, params: z.object({ id: uuid }).strict(), body: z.object({ code: z.string().min(1).max(32) }).strict() } },
    async (request) => ({ verification: await helpdesk.checkCode(await adminAuth.require(request, 'tap:issue'), request.params.id, request.body.code, requestContext(request)) }),
  );

  typed.post(
    '/api/admin/helpdesk/passes',
    {
      schema: {
        tags: ['helpdesk'],
        summary: 'Issue a Temporary Access Pass on a completed verification. The pass is in this reply only.',
        security,
        // SECURITY: strict, with no pass field: an operator cannot choose the pass (TOK-17).
        body: z
          .object({
            accountId: z.string().min(1).max(200),
            verificationId: uuid,
            lifetimeSeconds: z.int().min(1).max(86_400).optional(),
            uses: z.int().min(1).max(10).optional(),
            validFrom: z.iso.datetime({ offset: true }).optional(),
          })
          .strict(),
      },
    },
    async (request) => {
      const { validFrom, lifetimeSeconds, uses, ...rest } = request.body;
      return helpdesk.issuePass(
        await adminAuth.require(request, 'tap:issue'),
        { ...rest, ...(validFrom ? { validFrom: new Date(validFrom) } : {}), ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}), ...(uses !== undefined ? { uses } : {}) },
        requestContext(request),
      );
    },
  );

  typed.post(
    '/api/admin/helpdesk/passes/revoke',
    { schema: { tags: ['helpdesk'], summary: 'Revoke the live pass of an account.', security, body: z.object({ accountId: z.string().min(1).max(200), reason: z.string().min(3).max(200) }).strict() } },
    async (request) => helpdesk.revokePass(await adminAuth.require(request, 'tap:issue'), request.body.accountId, request.body.reason, requestContext(request)),
  );

  typed.post(
    '/api/admin/dayone/passes',
    {
      schema: {
        tags: ['helpdesk'],
        summary: 'Day-one passes for new hires from a CSV (username, start_date, manager_email, personal_email); all rows or none.',
        security,
        body: z.object({ csv: z.string().min(1).max(15_000), delivery: z.enum(DAY_ONE_DELIVERIES).default('split') }).strict(),
      },
    },
    async (request) => {
      const principal = await adminAuth.require(request, 'tap:issue');
      const rows = parseNewHireCsv(request.body.csv);
      if (rows.length > MAX_DAY_ONE_ROWS) throw new DomainError('dayone.invalid_rows', `At most ${MAX_DAY_ONE_ROWS} rows per batch.`);
      return dayOne.issue(principal, rows, { delivery: request.body.delivery }, requestContext(request));
    },
  );

  // The manager's link. GET only describes (mail scanners and link previews fetch links); the
  // approval is the POST, which a scanner does not send.
  typed.get(
    '/api/helpdesk/approvals/:token',
    { schema: { tags: ['helpdesk'], summary: 'What an approval link is for (changes nothing); a browser is sent to the approval page.', params: approvalToken } },
    async (request, reply) => {
      // A manager clicking the mailed link gets the page with an Approve button (pages/admin/helpdesk-approval.ts); scripts keep the JSON.
      if (/\btext\/html\b/.test(request.headers.accept ?? '')) return reply.code(303).header('location', `/helpdesk/approvals/${request.params.token}`).send();
      return { approval: await helpdesk.describeApproval(request.params.token), approveWith: 'POST this URL with the JSON body {}' };
    },
  );

  typed.post(
    '/api/helpdesk/approvals/:token',
    { schema: { tags: ['helpdesk'], summary: 'Approve: the helpdesk may issue one pass on this verification.', params: approvalToken, body: z.object({}).strict() } },
    async (request) => ({ approval: await helpdesk.approve(request.params.token, requestContext(request)) }),
  );
}
