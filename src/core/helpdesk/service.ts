import type { DirectoryAccount, Tier } from '../account/account.ts';
import { asAccountId, asChallengeId, asEnrollmentId } from '../account/ids.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import { maskEmail } from '../account/masking.ts';
import { actionRefusal, auditActor, can, rolesFor, type AdminPrincipal } from '../admin/principal.ts';
import type { AuditEventInput, AuditEventType, AuditRecord } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { openEnrollmentSecret } from '../enrollment/secrets.ts';
import { DomainError } from '../errors.ts';
import type { MethodContext } from '../methods/method.ts';
import type { MethodId } from '../methods/method-ids.ts';
import { getMethod } from '../methods/registry.ts';
import { formatPass } from '../methods/temporary-access-pass/temporary-access-pass.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { helpdeskApprovalRequest } from '../notifications/templates.ts';
import { resolveTier } from '../policy/tier.ts';
import type { HelpdeskVerificationMethod, HelpdeskVerificationRecord } from '../ports/store.ts';
import { checkPassBounds, issuePassInTransaction, passView, type AuditBase, type PassView } from './access-passes.ts';

/** Methods whose code an agent may send (or ask the person to read out) to verify them. */
const CODE_METHODS: readonly MethodId[] = ['email_code', 'sms_code', 'totp'];
/** How far back the console shows a person's self-service attempts. */
const RECENT_ATTEMPT_DAYS = 14;
const ATTEMPT_EVENT_TYPES: readonly AuditEventType[] = ['recovery.started', 'challenge.passed', 'challenge.failed', 'challenge.exhausted', 'recovery.completed', 'recovery.expired', 'recovery.superseded', 'recovery.interrupted', 'recovery.gates_satisfied'];

export interface HelpdeskSettings {
  /** Base URL the manager's approval link starts with (`https://sspr.example.org`). */
  readonly approvalBaseUrl: string;
  /** Approver addresses by username, else by department (from configuration; the directory has no manager attribute in every schema). */
  readonly managerEmails: Readonly<Record<string, string>>;
}

/** One self-service flow of the person, as the console shows it: methods and outcomes, never codes. */
export interface RecentAttempt {
  readonly flowId: string;
  readonly purpose: string;
  readonly startedAt: string;
  readonly gates: readonly { readonly method: string; readonly outcome: 'passed' | 'failed' | 'exhausted'; readonly at: string }[];
  readonly ending: 'completed' | 'expired' | 'superseded' | 'interrupted' | 'open';
}

export interface HelpdeskAccountView {
  readonly account: { readonly id: string; readonly username: string; readonly displayName: string; readonly department: string | null; readonly tier: Tier; readonly enabled: boolean };
  readonly methods: readonly { readonly id: string; readonly method: MethodId; readonly label: string; readonly status: string; readonly lastUsedAt: string | null; readonly codeVerification: boolean }[];
  readonly verificationMethods: readonly HelpdeskVerificationMethod[];
  readonly livePass: PassView | null;
  readonly recentAttempts: readonly RecentAttempt[];
  /** Why this operator may not issue a pass for this account, or null when they may. */
  readonly issueRefusal: string | null;
}

export interface VerificationView {
  readonly id: string;
  readonly accountId: string;
  readonly method: HelpdeskVerificationMethod;
  readonly status: HelpdeskVerificationRecord['status'];
  readonly expiresAt: string;
  readonly approver: string | null;
}

const verificationView = (record: HelpdeskVerificationRecord): VerificationView => ({
  id: record.id,
  accountId: record.accountId,
  method: record.method,
  status: record.status,
  expiresAt: record.expiresAt.toISOString(),
  approver: record.approverHint,
});


/**
 * The helpdesk path for a person who lost their methods: look them up, verify them in a way the
 * policy allows, and issue a Temporary Access Pass (FAC-9). Every step is audited with the agent as
 * actor. SECURITY: PRIV-3 — a pass for a privileged account needs the `security_admin` role, a
 * break-glass account never gets one, and no operator can issue one for their own account; a pass
 * needs a verification this operator completed for this person (FAC-9: no issuance without
 * evidence), used once. The operator never sees or sets a password (PRIV-2).
 */
export class HelpdeskService {
  constructor(
    private readonly deps: AppDeps,
    private readonly settings: () => HelpdeskSettings,
  ) {}

  async lookup(principal: AdminPrincipal, identifier: string, request: RequestContext): Promise<HelpdeskAccountView> {
    const { deps } = this;
    const account = await this.findAccount(identifier);
    const policy = deps.policy();
    const now = deps.clock.now();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    const enrollments = (await deps.store.enrollments.listForAccount(account.id)).filter((record) => record.methodId !== 'temporary_access_pass');
    const live = await deps.store.temporaryAccessPasses.findLive(account.id);
    const attempts = await deps.store.audit.query({ subject: account.id, since: new Date(now.getTime() - RECENT_ATTEMPT_DAYS * 86_400_000), types: ATTEMPT_EVENT_TYPES, limit: 500 });
    await deps.store.audit.append([{ ...this.base(principal, account, request, now), type: 'helpdesk.account_viewed', outcome: 'info', reason: null, data: { agent_account: principal.accountId } }]);
    return {
      account: { id: account.id, username: account.username, displayName: account.displayName, department: account.department, tier, enabled: account.enabled },
      methods: enrollments.map((record) => ({ id: record.id, method: record.methodId, label: record.label, status: record.status, lastUsedAt: record.lastUsedAt?.toISOString() ?? null, codeVerification: record.status === 'active' && CODE_METHODS.includes(record.methodId) })),
      verificationMethods: tier === 'break_glass' ? [] : policy.temporaryAccessPass.helpdesk.verification[tier],
      livePass: live ? passView(live) : null,
      recentAttempts: summariseAttempts(attempts),
      issueRefusal: this.refusal(principal, account, tier),
    };
  }

  /**
   * Starts verifying the person: sends a code to a registered method (`method_code`), mails the
   * manager an approval link (`manager_approval`), or records the agent's out-of-band check with
   * a reason and a ticket (`out_of_band`, verified at once).
   */
  async startVerification(
    principal: AdminPrincipal,
    input: { accountId: string; method: HelpdeskVerificationMethod; enrollmentId?: string | undefined; reason?: string | undefined; ticket?: string | undefined },
    request: RequestContext,
  ): Promise<{ verification: VerificationView; challenge: { method: MethodId; codeLength: number | null } | null }> {
    const { deps } = this;
    const account = await this.accountById(input.accountId);
    const policy = deps.policy();
    const now = deps.clock.now();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    await this.authorize(principal, account, tier, request, now, 'verify');
    const allowed = tier === 'break_glass' ? [] : policy.temporaryAccessPass.helpdesk.verification[tier];
    const base = this.base(principal, account, request, now);
    if (!allowed.includes(input.method)) {
      await deps.store.audit.append([{ ...base, type: 'helpdesk.issue_refused', outcome: 'failure', reason: 'helpdesk.verification_not_allowed', data: { method: input.method, agent_account: principal.accountId } }]);
      throw new DomainError('helpdesk.verification_not_allowed', `The policy does not allow ${input.method} verification for ${tier} accounts.`);
    }
    const id = deps.random.uuid();
    const ttlSeconds = policy.temporaryAccessPass.helpdesk.verificationTtlSeconds;
    const record: HelpdeskVerificationRecord = {
      id,
      accountId: account.id,
      agentKind: principal.kind,
      agentId: principal.id,
      method: input.method,
      enrollmentId: null,
      approvalTokenHash: null,
      approverHint: null,
      reason: null,
      ticket: null,
      status: 'pending',
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      verifiedAt: null,
      usedAt: null,
    };
    if (input.method === 'method_code') return this.startCode(principal, account, tier, record, input.enrollmentId, request, now);
    if (input.method === 'manager_approval') return this.startApproval(principal, account, record, request, now);
    const reason = input.reason?.trim() ?? '';
    const ticket = input.ticket?.trim() ?? '';
    // FAC-9: an out-of-band check counts only with the evidence recorded: what was checked, and the ticket.
    if (reason.length < 10) throw new DomainError('request.invalid', 'reason: describe the out-of-band check in at least 10 characters');
    if (ticket.length === 0) throw new DomainError('request.invalid', 'ticket: the helpdesk ticket id is required');
    const verified: HelpdeskVerificationRecord = { ...record, reason, ticket, status: 'verified', verifiedAt: now };
    await deps.store.transaction(async (tx) => {
      await tx.temporaryAccessPasses.insertVerification(verified);
      await tx.audit.append([
        { ...base, type: 'helpdesk.verification_started', outcome: 'info', reason: null, data: { verification_id: id, method: 'out_of_band', ticket, agent_account: principal.accountId } },
        { ...base, type: 'helpdesk.verified', outcome: 'success', reason: null, data: { verification_id: id, method: 'out_of_band', ticket, check: reason.slice(0, 200), agent_account: principal.accountId } },
      ]);
    });
    return { verification: verificationView(verified), challenge: null };
  }

  /** Checks the code the person read out (sent to their method, or shown by their authenticator app). */
  async checkCode(principal: AdminPrincipal, verificationId: string, code: string, request: RequestContext): Promise<VerificationView> {
    const { deps } = this;
    const record = await this.ownVerification(principal, verificationId);
    if (record.method !== 'method_code' || record.enrollmentId === null) throw new DomainError('helpdesk.verification_required', 'This verification does not take a code.');
    const account = await this.accountById(record.accountId);
    const enrollment = await deps.store.enrollments.get(record.enrollmentId);
    const now = deps.clock.now();
    const base = this.base(principal, account, request, now);
    if (!enrollment || enrollment.status !== 'active') throw new DomainError('helpdesk.verification_required', 'The method the code went to is no longer registered.');
    const method = getMethod(enrollment.methodId);
    const secret = openEnrollmentSecret(deps.cipher, enrollment);
    const passed = await deps.store.transaction(async (tx) => {
      const challengeId = asChallengeId(record.id);
      const attempt = await tx.challenges.registerAttempt(challengeId, now);
      let ok = false;
      if (attempt !== null) {
        const challenge = await tx.challenges.get(challengeId);
        const verdict = await method.verify({ code }, challenge?.secretHash ?? null, { id: enrollment.id, secret }, this.methodContext(now));
        if (verdict.kind === 'match') {
          const single = verdict.singleUse;
          const claimed = single === null || (single.mode === 'claim' ? await tx.singleUse.claimOnce(enrollment.id, single.keyHash, single.purpose, account.id, now) : false);
          ok = claimed && (await tx.challenges.consume(challengeId, now)) && (await tx.temporaryAccessPasses.moveVerification(record.id, 'pending', 'verified', now));
        }
      }
      const data = { verification_id: record.id, method: 'method_code', code_method: enrollment.methodId, agent_account: principal.accountId };
      await tx.audit.append([ok ? { ...base, type: 'helpdesk.verified', outcome: 'success', reason: null, data } : { ...base, type: 'helpdesk.verification_failed', outcome: 'failure', reason: 'challenge.invalid', data }]);
      return ok;
    });
    if (!passed) throw new DomainError('challenge.invalid');
    return { ...verificationView(record), status: 'verified' };
  }

  async verification(principal: AdminPrincipal, verificationId: string): Promise<VerificationView> {
    return verificationView(await this.ownVerification(principal, verificationId));
  }

  /** What the manager's link shows: whose pass, until when. Reading it changes nothing (mail scanners prefetch links). */
  async describeApproval(token: string): Promise<{ username: string; status: HelpdeskVerificationRecord['status']; expiresAt: string }> {
    const record = await this.approvalByToken(token);
    const account = await this.accountById(record.accountId);
    return { username: account.username, status: record.status, expiresAt: record.expiresAt.toISOString() };
  }

  /** The manager approves: the verification becomes usable for one pass. Single-use and expiring. */
  async approve(token: string, request: RequestContext): Promise<{ username: string; status: 'verified' }> {
    const { deps } = this;
    const record = await this.approvalByToken(token);
    const account = await this.accountById(record.accountId);
    const now = deps.clock.now();
    const policy = deps.policy();
    const base: AuditBase = { at: now, actor: { kind: 'anonymous', id: null }, subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(policy, account.groups, account.directoryPrivileged), flowId: null };
    const approved = await deps.store.transaction(async (tx) => {
      const moved = await tx.temporaryAccessPasses.moveVerification(record.id, 'pending', 'verified', now);
      const data = { verification_id: record.id, method: 'manager_approval', approver: record.approverHint };
      await tx.audit.append([moved ? { ...base, type: 'helpdesk.verified', outcome: 'success', reason: null, data } : { ...base, type: 'helpdesk.verification_failed', outcome: 'failure', reason: 'helpdesk.approval_invalid', data }]);
      return moved;
    });
    if (!approved) throw new DomainError('helpdesk.approval_invalid');
    return { username: account.username, status: 'verified' };
  }

  /**
   * Issues a pass on a completed verification of this operator for this person, consuming the
   * verification. The pass is returned once; only its keyed hash is stored.
   */
  async issuePass(
    principal: AdminPrincipal,
    input: { accountId: string; verificationId: string; lifetimeSeconds?: number; uses?: number; validFrom?: Date },
    request: RequestContext,
  ): Promise<{ pass: string; accessPass: PassView }> {
    const { deps } = this;
    const account = await this.accountById(input.accountId);
    const policy = deps.policy();
    const now = deps.clock.now();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    await this.authorize(principal, account, tier, request, now, 'issue');
    const lifetimeSeconds = input.lifetimeSeconds ?? policy.temporaryAccessPass.defaultLifetimeSeconds;
    const uses = input.uses ?? policy.temporaryAccessPass.defaultUses;
    checkPassBounds(policy, lifetimeSeconds, uses);
    const validFrom = input.validFrom ?? now;
    if (validFrom.getTime() < now.getTime() - 60_000 || validFrom.getTime() > now.getTime() + 30 * 86_400_000) throw new DomainError('request.invalid', 'validFrom: must be between now and 30 days ahead');
    const base = this.base(principal, account, request, now);
    // SECURITY: PRIV-10 — one operator (or a stolen console session) cannot hand out passes in bulk.
    const budget = await deps.rateLimiter.consume('recipient', `tap_issuer:${principal.kind}:${principal.id}`, policy.temporaryAccessPass.helpdesk.passesPerOperator);
    if (!budget.allowed) {
      await deps.store.audit.append([{ ...base, type: 'helpdesk.issue_refused', outcome: 'failure', reason: 'rate.limited', data: { rule: 'operator_rate', step: 'issue', agent_account: principal.accountId } }]);
      throw new DomainError('rate.limited', 'This operator issued too many passes recently. Wait, or ask a colleague to check.', { retryAfterSeconds: budget.retryAfterSeconds });
    }
    const verification = await deps.store.temporaryAccessPasses.getVerification(input.verificationId);
    const usable = verification !== null && verification.accountId === account.id && verification.agentKind === principal.kind && verification.agentId === principal.id && verification.status === 'verified' && verification.expiresAt.getTime() > now.getTime();
    if (!usable) {
      await deps.store.audit.append([{ ...base, type: 'helpdesk.issue_refused', outcome: 'failure', reason: 'helpdesk.verification_required', data: { verification_id: input.verificationId.slice(0, 64), agent_account: principal.accountId } }]);
      throw new DomainError('helpdesk.verification_required');
    }
    const issued = await deps.store.transaction(async (tx) => {
      if (!(await tx.temporaryAccessPasses.moveVerification(verification.id, 'verified', 'used', now))) throw new DomainError('helpdesk.verification_required');
      const events: AuditEventInput[] = [];
      const result = await issuePassInTransaction(
        tx,
        deps,
        { account, kind: 'helpdesk', validFrom, lifetimeSeconds, uses, issuer: auditActor(principal), evidence: { verification_id: verification.id, verification_method: verification.method, ticket: verification.ticket, agent_account: principal.accountId } },
        now,
        base,
        events,
      );
      await tx.audit.append(events);
      return result;
    });
    return { pass: formatPass(issued.pass), accessPass: passView(issued.record) };
  }

  /** Revokes the account's live pass (the person got their device back, or the pass went astray). */
  async revokePass(principal: AdminPrincipal, accountId: string, reason: string, request: RequestContext): Promise<{ revoked: boolean }> {
    const { deps } = this;
    const account = await this.accountById(accountId);
    const now = deps.clock.now();
    const base = this.base(principal, account, request, now);
    return deps.store.transaction(async (tx) => {
      const revoked = await tx.temporaryAccessPasses.revokeLive(account.id, 'revoked', now);
      if (!revoked) return { revoked: false };
      await tx.enrollments.delete(revoked.enrollmentId);
      await tx.audit.append([{ ...base, type: 'tap.revoked', outcome: 'success', reason: 'revoked', data: { pass_id: revoked.id, kind: revoked.kind, uses: revoked.uses, note: reason.slice(0, 200), agent_account: principal.accountId } }]);
      return { revoked: true };
    });
  }

  /**
   * Why this operator may not issue a pass for this account, or null. The console's one rule for
   * acting on accounts (actionRefusal: own account; privileged, break-glass or admin targets need a
   * security admin), plus: a break-glass account never gets a pass, from anyone (PRIV-4).
   */
  refusal(principal: AdminPrincipal, account: DirectoryAccount, tier: Tier): string | null {
    if (!can(principal, 'tap:issue')) return 'auth.forbidden';
    if (tier === 'break_glass') return 'break_glass';
    return actionRefusal(principal, { accountId: account.id, tier, roles: rolesFor(account.groups, this.deps.policy().adminRoles) });
  }

  private async authorize(principal: AdminPrincipal, account: DirectoryAccount, tier: Tier, request: RequestContext, now: Date, step: 'verify' | 'issue'): Promise<void> {
    const refusal = this.refusal(principal, account, tier);
    if (refusal === null) return;
    await this.deps.store.audit.append([{ ...this.base(principal, account, request, now), type: 'helpdesk.issue_refused', outcome: 'failure', reason: refusal === 'auth.forbidden' ? 'auth.forbidden' : 'helpdesk.forbidden', data: { rule: refusal, step, agent_account: principal.accountId } }]);
    const detail =
      refusal === 'own_account'
        ? 'No operator may issue a pass for their own account.'
        : refusal === 'break_glass'
          ? 'Break-glass accounts never get a pass; follow the offline procedure.'
          : refusal === 'target_privileged'
            ? 'Only a security admin may issue a pass for a privileged account or another admin.'
            : 'This operator lacks the tap:issue permission.';
    throw new DomainError(refusal === 'auth.forbidden' ? 'auth.forbidden' : 'helpdesk.forbidden', detail);
  }

  private async startCode(
    principal: AdminPrincipal,
    account: DirectoryAccount,
    tier: Tier,
    record: HelpdeskVerificationRecord,
    enrollmentId: string | undefined,
    request: RequestContext,
    now: Date,
  ): Promise<{ verification: VerificationView; challenge: { method: MethodId; codeLength: number | null } }> {
    const { deps } = this;
    const policy = deps.policy();
    const enrollment = enrollmentId ? await deps.store.enrollments.get(asEnrollmentId(enrollmentId)) : null;
    if (!enrollment || enrollment.accountId !== account.id || enrollment.status !== 'active' || !CODE_METHODS.includes(enrollment.methodId)) {
      throw new DomainError('enrollment.not_found', 'enrollmentId: choose an active email, phone or authenticator app method of this person.');
    }
    const method = getMethod(enrollment.methodId);
    const secret = openEnrollmentSecret(deps.cipher, enrollment);
    const challenge = await method.beginChallenge({ id: enrollment.id, secret }, this.methodContext(now), record.id);
    if (challenge.message) {
      // SECURITY: an agent (or a stolen console session) cannot pump codes at a person's phone (RATE-7).
      const decision = await deps.rateLimiter.consume('recipient', `helpdesk:${enrollment.id}`, policy.rateLimits.messagesPerRecipient);
      if (!decision.allowed) throw new DomainError('rate.limited', 'Too many codes were sent to this method. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
    const stored: HelpdeskVerificationRecord = { ...record, enrollmentId: enrollment.id };
    const base = this.base(principal, account, request, now);
    await deps.store.transaction(async (tx) => {
      await tx.temporaryAccessPasses.insertVerification(stored);
      await tx.challenges.insert({
        id: asChallengeId(record.id),
        flowId: null,
        accountId: account.id,
        methodId: enrollment.methodId,
        enrollmentId: enrollment.id,
        secretHash: challenge.secretHash,
        attempts: 0,
        maxAttempts: tier === 'break_glass' ? 1 : policy.tiers[tier].maxAttemptsPerChallenge,
        createdAt: now,
        expiresAt: new Date(now.getTime() + Math.min(challenge.ttlSeconds, policy.temporaryAccessPass.helpdesk.verificationTtlSeconds) * 1000),
        consumedAt: null,
      });
      const events: AuditEventInput[] = [{ ...base, type: 'helpdesk.verification_started', outcome: 'info', reason: null, data: { verification_id: record.id, method: 'method_code', code_method: enrollment.methodId, agent_account: principal.accountId } }];
      if (challenge.message) events.push(await enqueueMessage(tx, deps, challenge.message, account.id, now, base));
      await tx.audit.append(events);
    });
    return { verification: verificationView(stored), challenge: { method: enrollment.methodId, codeLength: challenge.prompt.codeLength } };
  }

  private async startApproval(principal: AdminPrincipal, account: DirectoryAccount, record: HelpdeskVerificationRecord, request: RequestContext, now: Date): Promise<{ verification: VerificationView; challenge: null }> {
    const { deps } = this;
    const settings = this.settings();
    const policy = deps.policy();
    // SECURITY: the approver comes from configuration, never from the request: a caller who
    // persuades the agent cannot route the approval to an address they control (PRIV-10).
    const approver = settings.managerEmails[account.username] ?? (account.department ? settings.managerEmails[account.department] : undefined);
    if (!approver) throw new DomainError('helpdesk.verification_not_allowed', 'No manager address is configured for this person (helpdesk.managerEmails); choose another way to verify them.');
    const token = deps.random.bytes(32).toString('base64url');
    const ttlSeconds = policy.temporaryAccessPass.helpdesk.approvalLinkTtlSeconds;
    const stored: HelpdeskVerificationRecord = { ...record, approvalTokenHash: deps.secrets.mac('helpdesk_approval', token), approverHint: maskEmail(approver), expiresAt: new Date(now.getTime() + ttlSeconds * 1000) };
    const link = `${settings.approvalBaseUrl.replace(/\/+$/, '')}/api/helpdesk/approvals/${token}`;
    const base = this.base(principal, account, request, now);
    await deps.store.transaction(async (tx) => {
      await tx.temporaryAccessPasses.insertVerification(stored);
      const events: AuditEventInput[] = [{ ...base, type: 'helpdesk.verification_started', outcome: 'info', reason: null, data: { verification_id: record.id, method: 'manager_approval', approver: stored.approverHint, agent_account: principal.accountId } }];
      events.push(await enqueueMessage(tx, deps, helpdeskApprovalRequest(policy.organisationName, approver, { username: account.username, link, expiresAt: stored.expiresAt }), account.id, now, base));
      await tx.audit.append(events);
    });
    return { verification: verificationView(stored), challenge: null };
  }

  private async approvalByToken(token: string): Promise<HelpdeskVerificationRecord> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new DomainError('helpdesk.approval_invalid');
    const record = await this.deps.store.temporaryAccessPasses.findVerificationByApprovalToken(this.deps.secrets.mac('helpdesk_approval', token));
    if (!record || record.status !== 'pending' || record.expiresAt.getTime() <= this.deps.clock.now().getTime()) throw new DomainError('helpdesk.approval_invalid');
    return record;
  }

  private async ownVerification(principal: AdminPrincipal, id: string): Promise<HelpdeskVerificationRecord> {
    const record = await this.deps.store.temporaryAccessPasses.getVerification(id);
    // Another operator's verification is as good as unknown: it cannot be checked or used here.
    if (!record || record.agentKind !== principal.kind || record.agentId !== principal.id) throw new DomainError('helpdesk.verification_required', 'No such verification of yours.');
    return record;
  }

  private async findAccount(identifier: string): Promise<DirectoryAccount> {
    const canonical = canonicalIdentifier(identifier);
    const lookup = canonical.ok ? await this.deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
    if (lookup.kind !== 'one') throw new DomainError('account.not_found', lookup.kind === 'none' ? 'No account has this username or email.' : 'Several accounts match; use the username.');
    return lookup.account;
  }

  private async accountById(id: string): Promise<DirectoryAccount> {
    const account = await this.deps.directory.getAccount(asAccountId(id));
    if (!account || !account.enabled) throw new DomainError('account.not_found');
    return account;
  }

  private methodContext(now: Date): MethodContext {
    return { now, purpose: 'sign_in', policy: this.deps.policy(), displayName: '', services: { random: this.deps.random, secrets: this.deps.secrets, passwords: this.deps.passwords } };
  }

  private base(principal: AdminPrincipal, account: DirectoryAccount, request: RequestContext, now: Date): AuditBase {
    const policy = this.deps.policy();
    return { at: now, actor: auditActor(principal), subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(policy, account.groups, account.directoryPrivileged), flowId: null };
  }
}

/** Groups audit records of the person's flows into attempts, newest first. */
export function summariseAttempts(records: readonly AuditRecord[]): RecentAttempt[] {
  const byFlow = new Map<string, { purpose: string; startedAt: string; gates: RecentAttempt['gates'][number][]; ending: RecentAttempt['ending'] }>();
  for (const record of records) {
    if (!record.flowId) continue;
    let attempt = byFlow.get(record.flowId);
    if (!attempt) {
      attempt = { purpose: 'unknown', startedAt: record.at.toISOString(), gates: [], ending: 'open' };
      byFlow.set(record.flowId, attempt);
    }
    const method = typeof record.data['method'] === 'string' ? record.data['method'] : 'unknown';
    if (record.type === 'recovery.started') {
      attempt.purpose = typeof record.data['purpose'] === 'string' ? record.data['purpose'] : 'unknown';
      attempt.startedAt = record.at.toISOString();
    } else if (record.type === 'challenge.passed') attempt.gates.push({ method, outcome: 'passed', at: record.at.toISOString() });
    else if (record.type === 'challenge.failed') attempt.gates.push({ method, outcome: 'failed', at: record.at.toISOString() });
    else if (record.type === 'challenge.exhausted') attempt.gates.push({ method, outcome: 'exhausted', at: record.at.toISOString() });
    else if (record.type === 'recovery.completed') attempt.ending = 'completed';
    else if (record.type === 'recovery.expired' && attempt.ending === 'open') attempt.ending = 'expired';
    else if (record.type === 'recovery.superseded' && attempt.ending === 'open') attempt.ending = 'superseded';
    else if (record.type === 'recovery.interrupted') attempt.ending = 'interrupted';
  }
  return [...byFlow.entries()].map(([flowId, attempt]) => ({ flowId, ...attempt })).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}
