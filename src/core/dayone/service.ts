import { z } from 'zod';
import type { DirectoryAccount, Tier } from '../account/account.ts';
import { canonicalIdentifier, isEmailAddress } from '../account/identifier.ts';
import { maskEmail } from '../account/masking.ts';
import { actionRefusal, auditActor, rolesFor, type AdminPrincipal } from '../admin/principal.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { DomainError } from '../errors.ts';
import { formatPass, splitPass } from '../methods/temporary-access-pass/temporary-access-pass.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { accessPassDelivery } from '../notifications/templates.ts';
import { startOfDay } from '../reports/period.ts';
import { resolveTier } from '../policy/tier.ts';
import { issuePassInTransaction, type AuditBase } from '../helpdesk/access-passes.ts';

/** Where a day-one pass goes: half to the manager and half to the personal address, or whole to one of them. */
export const DAY_ONE_DELIVERIES = ['split', 'manager', 'personal'] as const;
export type DayOneDelivery = (typeof DAY_ONE_DELIVERIES)[number];

/** At most this many new hires per batch: one transaction holds them all. */
export const MAX_DAY_ONE_ROWS = 1_000;

/** One row of the new-hire file as read, with the line it started on (for error messages). */
export interface NewHireRow {
  readonly line: number;
  readonly record: Readonly<Record<string, unknown>>;
}

const email = z.string().trim().max(254).refine((value) => isEmailAddress(value), 'must be an email address like name@example.org');
const rowSchema = z.object({
  username: z.string().trim().min(1, 'is required').max(256),
  start_date: z
    .string()
    .trim()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
    .refine((value) => !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value), 'is not a calendar date'),
  manager_email: email,
  personal_email: email,
});

export interface DayOneResult {
  readonly batchId: string;
  readonly issued: readonly { readonly line: number; readonly username: string; readonly passId: string; readonly validFrom: string; readonly expiresAt: string; readonly deliveredTo: readonly string[] }[];
}

/**
 * Day-one passes for new hires, in bulk. The batch is all or nothing: every row is checked first
 * (fields, a known enabled account, a tier this operator may serve, no duplicates, a start date whose
 * pass would not already be over), every problem is reported with its line, and only a clean file
 * issues anything, in one transaction. Passes are never shown to the operator: they go by mail, by
 * default split in two halves to the manager and to the personal address HR recorded, so neither
 * alone can sign in (and a half is malformed: it never even reaches the store).
 */
export class DayOneService {
  constructor(private readonly deps: AppDeps) {}

  async issue(principal: AdminPrincipal, rows: readonly NewHireRow[], options: { delivery: DayOneDelivery }, request: RequestContext): Promise<DayOneResult> {
    const { deps } = this;
    const policy = deps.policy();
    const settings = policy.temporaryAccessPass.dayOne;
    const now = deps.clock.now();
    if (rows.length === 0) throw new DomainError('dayone.invalid_rows', 'The file has no rows.', { errors: ['the file has no rows'] });
    if (rows.length > MAX_DAY_ONE_ROWS) throw new DomainError('dayone.invalid_rows', `At most ${MAX_DAY_ONE_ROWS} rows per batch.`, { errors: [`${rows.length} rows; at most ${MAX_DAY_ONE_ROWS} per batch`] });
    const errors: string[] = [];
    const planned: { line: number; account: DirectoryAccount; tier: Tier; validFrom: Date; managerEmail: string; personalEmail: string }[] = [];
    const seen = new Map<string, number>();
    const [hours, minutes] = settings.validFromTime.split(':').map(Number);
    for (const { line, record } of rows) {
      const parsed = rowSchema.safeParse(record);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) errors.push(`line ${line}: ${issue.path.map(String).join('.') || 'row'}: ${/received undefined$/.test(issue.message) ? 'is required' : issue.message}`);
        continue;
      }
      const row = parsed.data;
      const canonical = canonicalIdentifier(row.username);
      const lookup = canonical.ok ? await deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
      if (lookup.kind !== 'one' || !lookup.account.enabled) {
        errors.push(`line ${line}: username: no enabled account ${lookup.kind === 'ambiguous' ? 'is uniquely named' : 'has'} this username`);
        continue;
      }
      const account = lookup.account;
      const earlier = seen.get(account.id);
      if (earlier !== undefined) {
        errors.push(`line ${line}: username: the same person as line ${earlier}`);
        continue;
      }
      seen.set(account.id, line);
      const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
      const refusal = tier === 'break_glass' ? 'break_glass' : actionRefusal(principal, { accountId: account.id, tier, roles: rolesFor(account.groups, policy.adminRoles) });
      if (refusal === 'break_glass') errors.push(`line ${line}: username: break-glass accounts never get a pass`);
      else if (refusal === 'target_privileged') errors.push(`line ${line}: username: a privileged account or an admin; only a security admin may issue its pass`);
      else if (refusal === 'own_account') errors.push(`line ${line}: username: no operator may issue a pass for their own account`);
      const validFrom = new Date(startOfDay(row.start_date, settings.timeZone).getTime() + ((hours ?? 0) * 60 + (minutes ?? 0)) * 60_000);
      if (validFrom.getTime() + settings.lifetimeSeconds * 1000 <= now.getTime()) errors.push(`line ${line}: start_date: is in the past`);
      if (validFrom.getTime() > now.getTime() + 366 * 86_400_000) errors.push(`line ${line}: start_date: is more than a year ahead`);
      planned.push({ line, account, tier, validFrom, managerEmail: row.manager_email, personalEmail: row.personal_email });
    }
    if (errors.length > 0) throw new DomainError('dayone.invalid_rows', `Nothing was issued. ${errors.slice(0, 20).join('; ')}`, { errors });

    const batchId = deps.random.uuid();
    const actor = auditActor(principal);
    const issued = await deps.store.transaction(async (tx) => {
      const results: DayOneResult['issued'][number][] = [];
      const events: AuditEventInput[] = [];
      for (const plan of planned) {
        const base: AuditBase = { at: now, actor, subject: plan.account.id, ip: request.ip, userAgent: request.userAgent, department: plan.account.department, tier: plan.tier, flowId: null };
        const { pass, record } = await issuePassInTransaction(
          tx,
          deps,
          { account: plan.account, kind: 'day_one', validFrom: plan.validFrom, lifetimeSeconds: settings.lifetimeSeconds, uses: settings.uses, issuer: actor, evidence: { batch_id: batchId, delivery: options.delivery, line: plan.line } },
          now,
          base,
          events,
        );
        const message = { username: plan.account.username, validFrom: record.validFrom, expiresAt: record.expiresAt };
        const deliveries: { to: string; passText: string; part: 'whole' | 'first_half' | 'second_half'; forManager: boolean }[] =
          options.delivery === 'split'
            ? [
                { to: plan.managerEmail, passText: formatPass(splitPass(pass)[0]), part: 'first_half', forManager: true },
                { to: plan.personalEmail, passText: formatPass(splitPass(pass)[1]), part: 'second_half', forManager: false },
              ]
            : [{ to: options.delivery === 'manager' ? plan.managerEmail : plan.personalEmail, passText: formatPass(pass), part: 'whole', forManager: options.delivery === 'manager' }];
        for (const delivery of deliveries) {
          events.push(await enqueueMessage(tx, deps, accessPassDelivery(policy.organisationName, delivery.to, { ...message, ...delivery }), plan.account.id, now, base));
        }
        results.push({ line: plan.line, username: plan.account.username, passId: record.id, validFrom: record.validFrom.toISOString(), expiresAt: record.expiresAt.toISOString(), deliveredTo: deliveries.map((delivery) => maskEmail(delivery.to)) });
      }
      events.push({ at: now, actor, subject: null, ip: request.ip, userAgent: request.userAgent, department: null, tier: null, flowId: null, type: 'dayone.batch_issued', outcome: 'success', reason: null, data: { batch_id: batchId, passes: planned.length, delivery: options.delivery } });
      await tx.audit.append(events);
      return results;
    });
    return { batchId, issued };
  }
}
