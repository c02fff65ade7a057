import type { DirectoryAccount } from '../../account/account.ts';
import type { AccountId, FlowId } from '../../account/ids.ts';
import type { AdminPrincipal } from '../../admin/principal.ts';
import { auditActor, rolesFor } from '../../admin/principal.ts';
import type { AppDeps, RequestContext } from '../../app/deps.ts';
import type { AuditEventInput } from '../../audit/events.ts';
import { DomainError } from '../../errors.ts';
import { enqueueMessage } from '../../notifications/outbox.ts';
import { privilegedRecoveryAdminNotice } from '../../notifications/templates.ts';
import type { PrivilegedHoldRecord, Repositories } from '../../ports/store.ts';

type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

/** Why a privileged start runs as a decoy although the tier allows self-service. */
export const PRIVILEGED_HELD_REASON = 'privileged.held';

const SWEEPER = { kind: 'system' as const, id: 'privileged-holds' };
const SWEEP_BATCH = 100;

/** Writes that finish a privileged recovery inside its transaction; built before it opens. */
export type PrivilegedFinish = (tx: Repositories, input: { flowId: FlowId; now: Date; request: RequestContext; base: AuditBase }, events: AuditEventInput[]) => Promise<void>;

/** A hold as the admin API shows it. */
export interface PrivilegedHoldView {
  readonly id: string;
  readonly accountId: string;
  readonly flowId: string;
  readonly purpose: 'reset' | 'unlock';
  readonly status: PrivilegedHoldRecord['status'];
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly resolvedAt: string | null;
  readonly resolvedBy: string | null;
}

const holdView = (hold: PrivilegedHoldRecord): PrivilegedHoldView => ({
  id: hold.id,
  accountId: hold.accountId,
  flowId: hold.flowId,
  purpose: hold.purpose,
  status: hold.status,
  createdAt: hold.createdAt.toISOString(),
  deadlineAt: hold.deadlineAt.toISOString(),
  resolvedAt: hold.resolvedAt?.toISOString() ?? null,
  resolvedBy: hold.resolvedBy,
});

/**
 * What a privileged reset or unlock adds to the engine's own finish (which already ends flows,
 * codes and sessions and tells the person on every channel of record): a notice to every security
 * admin, and, with policy `privileged.holdForConfirmation`, a hold that keeps the account out of
 * self-service until a second admin confirms the recovery. The `privileged_recovery` alert itself is
 * raised by its detector from the audit stream, its one path; the hold's request for confirmation
 * is the `privileged_hold` detector's, from `privileged.recovery_held`.
 *
 * SECURITY: the hold does not touch the account's directory admin groups. Latchkey's directory
 * writes are the password and the lock only; removing someone from Domain Admins is a write that
 * can lock an organisation out of its own directory, and a compromised Latchkey must not be able
 * to strip or restore admin rights. What the hold withholds is Latchkey's own: no further reset or
 * unlock of that account until a second person has looked, while every security admin is told at once.
 */
export class PrivilegedRecovery {
  constructor(
    private readonly deps: AppDeps,
    /** Addresses configured outside the directory (server configuration `securityAdmins.emails`). */
    private readonly configuredAdminEmails: readonly string[],
  ) {}

  /**
   * Every security admin's address: the configured ones and the work e-mail of every enabled
   * directory account whose groups map to `security_admin` (policy `adminRoles`), except the
   * recovered account itself (it gets the person's notice). Read before the recovery's transaction:
   * the built-in directory lives in the same database.
   */
  async securityAdminEmails(recovered: AccountId): Promise<string[]> {
    const addresses = new Set(this.configuredAdminEmails);
    const roleGroups = this.deps.policy().adminRoles;
    if ((roleGroups.security_admin ?? []).length > 0) {
      for await (const account of this.deps.directory.listAccounts()) {
        if (!account.enabled || account.id === recovered || !account.workEmail) continue;
        if (rolesFor(account.groups, roleGroups).has('security_admin')) addresses.add(account.workEmail);
      }
    }
    return [...addresses].sort();
  }

  /**
   * Why a start for this privileged account must run as a decoy (`privileged.held`), or null.
   * A hold whose deadline passed is marked unconfirmed first; it goes on holding.
   */
  async startRefusal(accountId: AccountId): Promise<string | null> {
    await this.expireOverdue();
    const blocking = await this.deps.store.privilegedHolds.blockingForAccount(accountId);
    return blocking.length > 0 ? PRIVILEGED_HELD_REASON : null;
  }

  /** Prepares the privileged part of a recovery's finish; the reads happen now, the writes in `finish`. */
  async prepare(account: DirectoryAccount, purpose: 'reset' | 'unlock'): Promise<PrivilegedFinish> {
    const recipients = await this.securityAdminEmails(account.id);
    const policy = this.deps.policy();
    return async (tx, { flowId, now, request, base }, events) => {
      let hold: PrivilegedHoldRecord | null = null;
      if (policy.privileged.holdForConfirmation) {
        hold = {
          id: this.deps.random.uuid(),
          accountId: account.id,
          flowId,
          purpose,
          status: 'held',
          createdAt: now,
          deadlineAt: new Date(now.getTime() + policy.privileged.confirmationDeadlineSeconds * 1000),
          resolvedAt: null,
          resolvedBy: null,
          version: 0,
        };
        await tx.privilegedHolds.insert(hold);
        events.push({ ...base, type: 'privileged.recovery_held', outcome: 'info', reason: 'privileged.hold', data: { hold_id: hold.id, purpose, deadline: hold.deadlineAt.toISOString() } });
      }
      // The notices are about the account, not activity of it: the outbox row names no account, so
      // they neither count against its message budget nor show among its own messages.
      const noticeBase: AuditBase = { ...base, subject: null };
      for (const to of recipients) {
        const notice = privilegedRecoveryAdminNotice(policy.organisationName, purpose, account.username, to, now, request.ip, hold);
        events.push(await enqueueMessage(tx, this.deps, notice, null, now, noticeBase));
      }
    };
  }

  /** Holds, newest first; overdue ones are marked unconfirmed before they are read. The read is audited like any admin read. */
  async list(principal: AdminPrincipal, query: { status?: PrivilegedHoldRecord['status']; limit: number }, request: RequestContext): Promise<PrivilegedHoldView[]> {
    await this.expireOverdue();
    const holds = (await this.deps.store.privilegedHolds.list(query)).map(holdView);
    await this.deps.store.audit.append([
      { type: 'admin.accounts_queried', at: this.deps.clock.now(), actor: auditActor(principal), subject: null, outcome: 'success', reason: null, ip: request.ip, userAgent: request.userAgent, department: null, tier: null, flowId: null, data: { count: holds.length } },
    ]);
    return holds;
  }

  /**
   * A second admin confirms a held recovery, ending the hold. SECURITY: the held account itself can
   * never confirm its own recovery (an attacker who took it over would otherwise clear the hold);
   * a late confirmation (after the deadline) is allowed and audited as such.
   */
  async confirm(principal: AdminPrincipal, holdId: string, reason: string, request: RequestContext): Promise<PrivilegedHoldView> {
    const { store, clock } = this.deps;
    await this.expireOverdue();
    const hold = await store.privilegedHolds.get(holdId);
    if (!hold) throw new DomainError('hold.not_found');
    if (principal.accountId !== null && principal.accountId === hold.accountId) throw new DomainError('hold.self_confirmation');
    if (hold.status === 'confirmed') throw new DomainError('hold.wrong_status');
    const now = clock.now();
    const confirmed: PrivilegedHoldRecord = { ...hold, status: 'confirmed', resolvedAt: now, resolvedBy: `${auditActor(principal).kind}:${auditActor(principal).id}` };
    await store.transaction(async (tx) => {
      if (!(await tx.privilegedHolds.update(confirmed, hold.version))) throw new DomainError('hold.wrong_status');
      await tx.audit.append([
        {
          type: 'privileged.recovery_confirmed',
          at: now,
          actor: auditActor(principal),
          subject: hold.accountId,
          outcome: 'success',
          reason: null,
          ip: request.ip,
          userAgent: request.userAgent,
          department: null,
          tier: 'privileged',
          flowId: hold.flowId,
          data: { hold_id: hold.id, purpose: hold.purpose, late: hold.status === 'unconfirmed', reason_text: reason.slice(0, 500) },
        },
      ]);
    });
    return holdView({ ...confirmed, version: hold.version + 1 });
  }

  /**
   * Marks every hold past its deadline unconfirmed, audited once each (compare-and-set: two
   * instances sweeping at once record it once). Called by the hold worker and before every read.
   */
  async expireOverdue(): Promise<number> {
    const { store, clock } = this.deps;
    const now = clock.now();
    let marked = 0;
    for (const hold of await store.privilegedHolds.listOverdue(now, SWEEP_BATCH)) {
      const unconfirmed: PrivilegedHoldRecord = { ...hold, status: 'unconfirmed', resolvedAt: now, resolvedBy: `system:${SWEEPER.id}` };
      await store.transaction(async (tx) => {
        if (!(await tx.privilegedHolds.update(unconfirmed, hold.version))) return;
        await tx.audit.append([
          {
            type: 'privileged.recovery_unconfirmed',
            at: now,
            actor: SWEEPER,
            subject: hold.accountId,
            outcome: 'failure',
            reason: 'privileged.unconfirmed',
            ip: null,
            userAgent: null,
            department: null,
            tier: 'privileged',
            flowId: hold.flowId,
            data: { hold_id: hold.id, purpose: hold.purpose, deadline: hold.deadlineAt.toISOString() },
          },
        ]);
        marked += 1;
      });
    }
    return marked;
  }
}
