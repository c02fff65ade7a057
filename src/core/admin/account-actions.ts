import type { DirectoryAccount } from '../account/account.ts';
import { asAccountId, asEnrollmentId } from '../account/ids.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { METHOD_NAMES } from '../enrollment/service.ts';
import { DomainError } from '../errors.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { noticeRecipients } from '../notifications/recipients.ts';
import { enrollmentNotice } from '../notifications/templates.ts';
import { resolveTier } from '../policy/tier.ts';
import { actionRefusal, auditActor, rolesFor, type AdminPrincipal } from './principal.ts';

/** The longest reason an admin can give; it is kept in the audit record. */
export const ADMIN_REASON_MAX_CHARS = 500;

const REFUSALS = {
  own_account: 'Nobody acts on their own account through the console; ask another admin.',
  target_privileged: 'This account is privileged, break-glass or an admin: only a security admin may act on it.',
} as const;

/**
 * What the console does to an account: unlock it in the directory, revoke a registered method.
 * Each action is authorised twice — the route asks for `accounts:write`, and here the target is
 * checked against who asks (actionRefusal: own account, privileged targets) — and audited in the
 * same transaction as the change, with the admin as actor and the reason they gave.
 */
export class AdminAccountActions {
  constructor(private readonly deps: AppDeps) {}

  /** Clears the account's lock and failed sign-in counter in the directory. */
  async unlock(principal: AdminPrincipal, accountId: string, reason: string, request: RequestContext): Promise<{ wasLocked: boolean }> {
    const { deps } = this;
    const account = await this.target(principal, accountId, request);
    const wasLocked = (await deps.directory.readLockState(account.id)).locked;
    await deps.directory.unlock(account.id);
    await deps.store.audit.append([{ ...this.base(principal, account, request), type: 'account.unlocked', outcome: 'success', reason: 'admin.action', data: { reason_text: this.reasonText(reason), was_locked: wasLocked } }]);
    return { wasLocked };
  }

  /**
   * Removes a registered method (and its stored single-use codes) and tells the person on every
   * address of record, the removed one included (SESS-4): a revocation they did not ask for is
   * exactly what they must hear about.
   */
  async revokeMethod(principal: AdminPrincipal, accountId: string, enrollmentId: string, reason: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const account = await this.target(principal, accountId, request);
    const record = await deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id) throw new DomainError('enrollment.not_found');
    const policy = deps.policy();
    const now = deps.clock.now();
    const base = this.base(principal, account, request);
    await deps.store.transaction(async (tx) => {
      const events: AuditEventInput[] = [{ ...base, type: 'enrollment.removed', outcome: 'success', reason: 'admin.revoked', data: { method: record.methodId, enrollment_id: record.id, reason_text: this.reasonText(reason) } }];
      for (const [to, channel] of await noticeRecipients(tx, deps.cipher, account, { includeEnrollment: record.id })) {
        events.push(await enqueueMessage(tx, deps, enrollmentNotice(policy.organisationName, 'removed', METHOD_NAMES[record.methodId], channel, to, now, request.ip, null), account.id, now, base));
      }
      await tx.singleUse.deleteForEnrollment(record.id);
      await tx.enrollments.delete(record.id);
      await tx.audit.append(events);
    });
  }

  /** The account an action is about, once the principal may act on it; refusals are audited like any 403. */
  private async target(principal: AdminPrincipal, accountId: string, request: RequestContext): Promise<DirectoryAccount> {
    const { deps } = this;
    const account = await deps.directory.getAccount(asAccountId(accountId));
    if (!account) throw new DomainError('route.not_found', 'No such account.');
    const policy = deps.policy();
    const refusal = actionRefusal(principal, { accountId: account.id, tier: resolveTier(policy, account.groups, account.directoryPrivileged), roles: rolesFor(account.groups, policy.adminRoles) });
    if (refusal !== null) {
      await deps.store.audit.append([{ ...this.base(principal, account, request), type: 'admin.access_denied', outcome: 'failure', reason: 'auth.forbidden', data: { refusal } }]);
      throw new DomainError('auth.forbidden', REFUSALS[refusal]);
    }
    return account;
  }

  private reasonText(reason: string): string {
    // One line, so a reason cannot forge extra lines in a syslog or CSV export of the audit log.
    const text = reason.replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').trim().slice(0, ADMIN_REASON_MAX_CHARS);
    if (text === '') throw new DomainError('request.invalid', 'reason: say why, in a few words.');
    return text;
  }

  private base(principal: AdminPrincipal, account: DirectoryAccount, request: RequestContext): Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'> {
    return {
      at: this.deps.clock.now(),
      actor: auditActor(principal),
      subject: account.id,
      ip: request.ip,
      userAgent: request.userAgent,
      department: account.department,
      tier: resolveTier(this.deps.policy(), account.groups, account.directoryPrivileged),
      flowId: null,
    };
  }
}
