import type { DirectoryAccount, Tier } from '../account/account.ts';
import { asChallengeId, asEnrollmentId, type AccountId } from '../account/ids.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { openEnrollmentSecret } from '../enrollment/secrets.ts';
import { DomainError } from '../errors.ts';
import type { ChallengeAnswer, MethodContext } from '../methods/method.ts';
import { applySecretUpdate } from '../enrollment/secret-update.ts';
import type { MethodId } from '../methods/method-ids.ts';
import { getMethod } from '../methods/registry.ts';
import type { FindingSink } from '../monitoring/finding-sink.ts';
import type { Finding } from '../monitoring/finding.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import type { Policy } from '../policy/schema.ts';
import { resolveTier } from '../policy/tier.ts';
import type { EnrollmentRecord, MethodChangeRecord, RemovedEnrollmentSnapshot, Repositories } from '../ports/store.ts';
import { disputePath, disputeTokenHash, isDisputeToken, newDisputeToken } from './dispute-link.ts';
import { activationCoolsOff, reconfirmation, usableFrom, withinAfterRecoveryWindow } from './rules.ts';

type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

/** Detector ids of the findings this service raises (alerts name them). */
export const LIFECYCLE_FINDINGS = {
  disputed: 'method_change_disputed',
  afterRecovery: 'recent_recovery_method_change',
} as const;

/** What a change of methods is, as the enrollment service knows it inside its transaction. */
export interface MethodChangeInput {
  readonly account: DirectoryAccount;
  readonly tier: Tier;
  /** When the session making the change was proven; decides whether an added method cools off. */
  readonly sessionAuthenticatedAt: Date;
  readonly added: EnrollmentRecord | null;
  readonly removed: readonly RemovedEnrollmentSnapshot[];
  readonly afterRecovery: boolean;
  readonly now: Date;
  readonly policy: Policy;
}

/** The recorded change and the link its notices carry. */
export interface RecordedChange {
  readonly change: MethodChangeRecord;
  readonly dispute: { readonly url: string; readonly expiresAt: Date };
}

/** What the landing page of a "this wasn't me" link may show before anything is done. */
export type DisputePreview =
  | { readonly valid: true; readonly changedAt: Date; readonly added: MethodId | null; readonly removed: readonly MethodId[]; readonly expiresAt: Date }
  | { readonly valid: false };

/** A method's lifecycle as the self-service API shows it next to the method. */
export interface MethodLifecycleView {
  /** When the method may serve as a gate (ISO), after any cooling-off; null while pending. */
  readonly usableFrom: string | null;
  /** Re-confirmation: `current`, `due` (asked to confirm or replace) or `lapsed` (no longer a recovery gate); null while pending. */
  readonly reconfirmation: { readonly status: 'current' | 'due' | 'lapsed'; readonly dueAt: string; readonly countsUntil: string } | null;
}

/**
 * The life of recovery methods after registration: recording every change with a "this wasn't me"
 * link for the earlier channels, undoing a disputed change and freezing self-service, lifting a
 * freeze, the window after a recovery, and re-confirming stale methods. Rules are the pure functions
 * in rules.ts; this service gathers the facts and writes the results with their audit events.
 */
export class MethodLifecycleService {
  constructor(
    private readonly deps: AppDeps,
    private readonly options: {
      /** The public origin links in messages point at, e.g. https://reset.example.com. */
      readonly publicOrigin: string;
      /** Where findings go (the alert service); null raises none. */
      readonly findings: FindingSink | null;
    },
  ) {}

  /** When the account was last reset or unlocked, if within the policy's after-recovery window. */
  async recentRecoveryAt(accountId: AccountId, now: Date, policy: Policy): Promise<Date | null> {
    if (policy.lifecycle.afterRecoverySeconds === 0) return null;
    const since = new Date(now.getTime() - policy.lifecycle.afterRecoverySeconds * 1000);
    const events = await this.deps.store.audit.query({ subject: accountId, types: ['password.reset', 'account.unlocked'], outcome: 'success', since, limit: 100 });
    const last = events[events.length - 1];
    return last && withinAfterRecoveryWindow(last.at, now, policy) ? last.at : null;
  }

  /** The facts the gate-eligibility rules need about an account's methods. */
  async coolingOffEnrollmentIds(accountId: AccountId): Promise<Set<string>> {
    return this.deps.store.methodChanges.coolingOffEnrollmentIds(accountId);
  }

  async isFrozen(accountId: AccountId): Promise<boolean> {
    return (await this.deps.store.methodChanges.getFreeze(accountId)) !== null;
  }

  /** The lifecycle fields of each of an account's methods, by enrollment id. */
  async views(account: DirectoryAccount, records: readonly EnrollmentRecord[]): Promise<Map<string, MethodLifecycleView>> {
    const policy = this.deps.policy();
    const now = this.deps.clock.now();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    const coolsOff = await this.coolingOffEnrollmentIds(account.id);
    const views = new Map<string, MethodLifecycleView>();
    for (const record of records) {
      const state = reconfirmation(record, policy, now);
      views.set(record.id, {
        usableFrom: usableFrom(record, coolsOff.has(record.id), policy, tier)?.toISOString() ?? null,
        reconfirmation: state ? { status: state.status, dueAt: state.dueAt.toISOString(), countsUntil: state.lapsesAt.toISOString() } : null,
      });
    }
    return views;
  }

  /** A removed enrollment as it is now, taken before it is deleted, so a dispute can put it back. */
  async snapshot(tx: Repositories, enrollment: EnrollmentRecord): Promise<RemovedEnrollmentSnapshot> {
    return { enrollment, singleUse: await tx.methodChanges.unconsumedSingleUse(enrollment.id) };
  }

  /**
   * Records a change inside the caller's transaction and returns the link its notices carry.
   * Whether an added method cools off is decided here, from the methods that were active before.
   */
  async recordChange(tx: Repositories, input: MethodChangeInput): Promise<RecordedChange> {
    const { deps } = this;
    const token = newDisputeToken(deps.random);
    const others = input.added ? (await tx.enrollments.listForAccount(input.account.id)).filter((record) => record.id !== input.added?.id) : [];
    const expiresAt = new Date(input.now.getTime() + input.policy.lifecycle.disputeLinkTtlSeconds * 1000);
    const change: MethodChangeRecord = {
      id: deps.random.uuid(),
      accountId: input.account.id,
      createdAt: input.now,
      addedEnrollmentId: input.added?.id ?? null,
      addedMethodId: input.added?.methodId ?? null,
      // SECURITY: after a recovery every addition cools off, whatever the session: that is the takeover window.
      coolsOff: input.added !== null && (input.afterRecovery || activationCoolsOff(others, input.sessionAuthenticatedAt)),
      removed: input.removed,
      afterRecovery: input.afterRecovery,
      tokenHash: disputeTokenHash(deps.secrets, token),
      tokenExpiresAt: expiresAt,
      disputedAt: null,
      revertedAt: null,
    };
    await tx.methodChanges.insert(change);
    return { change, dispute: { url: `${this.options.publicOrigin}${disputePath(token)}`, expiresAt } };
  }

  /** Hands on the finding for a change made soon after a recovery (after its transaction committed). */
  async flagAfterRecovery(account: DirectoryAccount, change: MethodChangeRecord, request: RequestContext, recoveredAt: Date | null): Promise<void> {
    if (!change.afterRecovery) return;
    await this.raise({
      detectorId: LIFECYCLE_FINDINGS.afterRecovery,
      severity: 'high',
      dedupeKey: `${LIFECYCLE_FINDINGS.afterRecovery}:${account.id}`,
      summary: 'A recovery method was changed soon after the account was reset or unlocked (the reset-then-swap takeover pattern).',
      subject: account.id,
      ip: request.ip,
      department: account.department,
      observed: { change_id: change.id, added: change.addedMethodId, removed: change.removed.map((item) => item.enrollment.methodId).join(' '), recovered_at: recoveredAt?.toISOString() ?? null },
      baseline: `method changes within ${Math.round(this.deps.policy().lifecycle.afterRecoverySeconds / 3600)} h of a recovery are flagged`,
      eventIds: [],
      at: change.createdAt,
    });
  }

  /** What a link's landing page shows; reading it changes nothing (mail scanners open links). */
  async preview(token: string): Promise<DisputePreview> {
    const { deps } = this;
    if (!isDisputeToken(token)) return { valid: false };
    const change = await deps.store.methodChanges.findByTokenHash(disputeTokenHash(deps.secrets, token));
    const now = deps.clock.now();
    if (!change || change.disputedAt || change.revertedAt || change.tokenExpiresAt.getTime() <= now.getTime()) return { valid: false };
    return { valid: true, changedAt: change.createdAt, added: change.addedMethodId, removed: change.removed.map((item) => item.enrollment.methodId), expiresAt: change.tokenExpiresAt };
  }

  /**
   * Follows a "this wasn't me" link: in one transaction the link is consumed (exactly once), the
   * change and every later change of the account are undone, self-service is frozen, sessions,
   * open flows and codes end; then a high alert is raised. An unknown, used or expired link is
   * `dispute.link_invalid` and changes nothing.
   */
  async dispute(token: string, request: RequestContext): Promise<{ accountId: AccountId }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const tokenHash = isDisputeToken(token) ? disputeTokenHash(deps.secrets, token) : null;
    const known = tokenHash ? await deps.store.methodChanges.findByTokenHash(tokenHash) : null;
    const account = known ? await deps.directory.getAccount(known.accountId) : null;
    const base: AuditBase = {
      at: now,
      actor: { kind: 'anonymous', id: null },
      subject: known?.accountId ?? null,
      ip: request.ip,
      userAgent: request.userAgent,
      department: account?.department ?? null,
      tier: account ? resolveTier(policy, account.groups, account.directoryPrivileged) : null,
      flowId: null,
    };
    const outcome = await deps.store.transaction(async (tx) => {
      const change = tokenHash ? await tx.methodChanges.dispute(tokenHash, now) : null;
      if (!change) {
        await tx.audit.append([{ ...base, type: 'method_change.disputed', outcome: 'failure', reason: 'dispute.link_invalid', data: { change_id: known?.id ?? null } }]);
        return null;
      }
      const events: AuditEventInput[] = [];
      const later = (await tx.methodChanges.listForAccount(change.accountId, change.createdAt)).filter((item) => item.revertedAt === null);
      // Newest first, so a method a later change removed is back before an earlier change's addition of it is undone.
      for (const item of later.reverse()) {
        if (item.addedEnrollmentId) {
          const added = await tx.enrollments.get(item.addedEnrollmentId);
          await tx.singleUse.deleteForEnrollment(item.addedEnrollmentId);
          if (await tx.enrollments.delete(item.addedEnrollmentId)) {
            events.push({ ...base, type: 'enrollment.removed', outcome: 'success', reason: 'change_disputed', data: { method: added?.methodId ?? item.addedMethodId, enrollment_id: item.addedEnrollmentId, change_id: item.id } });
          }
        }
        for (const snapshot of item.removed) {
          if (await tx.enrollments.get(snapshot.enrollment.id)) continue;
          await tx.enrollments.insert(snapshot.enrollment);
          if (snapshot.singleUse.length > 0) {
            await tx.singleUse.insertMany(snapshot.singleUse.map((secret) => ({ ...secret, accountId: snapshot.enrollment.accountId, enrollmentId: snapshot.enrollment.id })));
          }
          events.push({ ...base, type: 'enrollment.restored', outcome: 'success', reason: 'change_disputed', data: { method: snapshot.enrollment.methodId, enrollment_id: snapshot.enrollment.id, change_id: item.id } });
        }
        await tx.methodChanges.markReverted(item.id, now);
      }
      events.unshift({ ...base, type: 'method_change.disputed', outcome: 'success', reason: null, data: { change_id: change.id, changes_reverted: later.length } });
      if (await tx.methodChanges.freeze({ accountId: change.accountId, frozenAt: now, changeId: change.id })) {
        events.push({ ...base, type: 'account.self_service_frozen', outcome: 'success', reason: 'method_change.disputed', data: { change_id: change.id } });
      }
      // SECURITY: whoever made the change may hold a session or a half-finished recovery; both end now.
      const flowsEnded = await tx.flows.supersedeOpen(change.accountId, null, JSON.stringify({ name: 'superseded' }), 'superseded', now);
      await tx.challenges.invalidateForAccount(change.accountId, now);
      const sessionsEnded = await tx.sessions.deleteForAccount(change.accountId);
      if (sessionsEnded > 0) events.push({ ...base, type: 'session.ended', outcome: 'info', reason: null, data: { reason: 'change_disputed', sessions: sessionsEnded } });
      for (const flowId of flowsEnded) events.push({ ...base, flowId, type: 'recovery.superseded', outcome: 'info', reason: 'change_disputed', data: { by_flow: null } });
      const records = await tx.audit.append(events);
      return { change, reverted: later.length, eventIds: records.map((record) => record.id) };
    });
    if (!outcome) throw new DomainError('dispute.link_invalid');
    await this.raise({
      detectorId: LIFECYCLE_FINDINGS.disputed,
      severity: 'high',
      dedupeKey: `${LIFECYCLE_FINDINGS.disputed}:${outcome.change.accountId}`,
      summary: 'A person said a change of their recovery methods was not theirs: the change was undone and self-service frozen; someone may hold their password.',
      subject: outcome.change.accountId,
      ip: request.ip,
      department: account?.department ?? null,
      observed: { change_id: outcome.change.id, changes_reverted: outcome.reverted, change_ip_after_recovery: outcome.change.afterRecovery },
      baseline: null,
      eventIds: outcome.eventIds.slice(0, 50),
      at: now,
    });
    return { accountId: outcome.change.accountId };
  }

  /** Lifts a freeze (admin); audited with the reason. False when the account was not frozen. */
  async unfreeze(accountId: AccountId, actor: AuditEventInput['actor'], reason: string, request: RequestContext | null): Promise<boolean> {
    const { deps } = this;
    const now = deps.clock.now();
    return deps.store.transaction(async (tx) => {
      const lifted = await tx.methodChanges.unfreeze(accountId);
      if (lifted) {
        await tx.audit.append([
          { type: 'account.self_service_unfrozen', at: now, actor, subject: accountId, outcome: 'success', reason: null, ip: request?.ip ?? null, userAgent: request?.userAgent ?? null, department: null, tier: null, flowId: null, data: { reason } },
        ]);
      }
      return lifted;
    });
  }

  /**
   * Starts re-confirming an active method: a fresh code to the address or phone (nothing is sent
   * for an authenticator app, whose current code is asked for). Returns the id to answer with.
   */
  async beginReconfirmation(account: DirectoryAccount, enrollmentId: string, request: RequestContext): Promise<{ reconfirmationId: string; method: MethodId; publicKey?: Readonly<Record<string, unknown>> }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const record = await this.ownActive(account, enrollmentId);
    const method = getMethod(record.methodId);
    const secret = openEnrollmentSecret(deps.cipher, record);
    const challengeId = asChallengeId(deps.random.uuid());
    const challenge = await method.beginChallenge({ id: record.id, secret }, this.methodContext(policy, now), challengeId);
    // SECURITY: the per-recipient budget of any code (RATE-7), drawn for an app too: each start
    // brings a fresh set of attempts, so starts must be as scarce as sent codes.
    const decision = await deps.rateLimiter.consume('recipient', `reconfirm:${account.id}:${record.id}`, policy.rateLimits.messagesPerRecipient);
    if (!decision.allowed) throw new DomainError('rate.limited', 'Too many confirmation codes were asked for. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    const base = this.personBase(account, request, now, policy);
    await deps.store.transaction(async (tx) => {
      await tx.challenges.insert({
        id: challengeId,
        flowId: null,
        accountId: account.id,
        methodId: record.methodId,
        enrollmentId: record.id,
        secretHash: challenge.secretHash,
        attempts: 0,
        maxAttempts: policy.tiers.standard.maxAttemptsPerChallenge,
        createdAt: now,
        expiresAt: new Date(now.getTime() + challenge.ttlSeconds * 1000),
        consumedAt: null,
      });
      const events: AuditEventInput[] = [];
      if (challenge.message) events.push(await enqueueMessage(tx, deps, challenge.message, account.id, now, base));
      await tx.audit.append(events);
    });
    // A passkey answers with the browser's assertion to these request options, not with a code.
    return { reconfirmationId: challengeId, method: record.methodId, ...(challenge.prompt.publicKey ? { publicKey: challenge.prompt.publicKey } : {}) };
  }

  /** Answers a re-confirmation: a right code confirms the method (it counts as used now). */
  async completeReconfirmation(account: DirectoryAccount, enrollmentId: string, reconfirmationId: string, code: string | ChallengeAnswer, request: RequestContext): Promise<void> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const record = await this.ownActive(account, enrollmentId);
    const challengeId = asChallengeId(reconfirmationId);
    const method = getMethod(record.methodId);
    const secret = openEnrollmentSecret(deps.cipher, record);
    const base = this.personBase(account, request, now, policy);
    const passed = await deps.store.transaction(async (tx) => {
      const challenge = await tx.challenges.get(challengeId);
      let ok = false;
      if (challenge && challenge.enrollmentId === record.id && challenge.flowId === null && challenge.accountId === account.id) {
        const attempt = await tx.challenges.registerAttempt(challengeId, now);
        if (attempt !== null) {
          const verdict = await method.verify(typeof code === 'string' ? { code } : code, challenge.secretHash, { id: record.id, secret }, this.methodContext(policy, now));
          if (verdict.kind === 'match') {
            const single = verdict.singleUse;
            const claimed = single === null || (single.mode === 'claim' ? await tx.singleUse.claimOnce(record.id, single.keyHash, single.purpose, account.id, now) : await tx.singleUse.consume(record.id, single.keyHash, now));
            ok = claimed && (await applySecretUpdate(tx, deps.cipher, record.id, record.secretCiphertext, verdict)) && (await tx.challenges.consume(challengeId, now));
          }
        }
      }
      if (ok) await tx.enrollments.touchLastUsed(record.id, now);
      await tx.audit.append([
        { ...base, type: 'enrollment.reconfirmed', outcome: ok ? 'success' : 'failure', reason: ok ? null : 'challenge.invalid', data: { method: record.methodId, enrollment_id: record.id } },
      ]);
      return ok;
    });
    if (!passed) throw new DomainError('challenge.invalid');
  }

  private async ownActive(account: DirectoryAccount, enrollmentId: string): Promise<EnrollmentRecord> {
    const record = await this.deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id || record.status !== 'active') throw new DomainError('enrollment.not_found');
    return record;
  }

  private async raise(finding: Finding): Promise<void> {
    await this.options.findings?.raise(finding);
  }

  private methodContext(policy: Policy, now: Date): MethodContext {
    return { now, purpose: 'sign_in', policy, displayName: '', services: { random: this.deps.random, secrets: this.deps.secrets, passwords: this.deps.passwords }, ...(this.deps.relyingParty ? { relyingParty: this.deps.relyingParty } : {}) };
  }

  private personBase(account: DirectoryAccount, request: RequestContext, now: Date, policy: Policy): AuditBase {
    return { at: now, actor: { kind: 'person', id: account.id }, subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(policy, account.groups, account.directoryPrivileged), flowId: null };
  }
}

