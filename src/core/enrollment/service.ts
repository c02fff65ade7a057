import type { DirectoryAccount } from '../account/account.ts';
import { asChallengeId, asEnrollmentId, type EnrollmentId } from '../account/ids.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { DomainError } from '../errors.ts';
import type { ChallengeAnswer, MethodContext } from '../methods/method.ts';
import { applySecretUpdate } from './secret-update.ts';
import type { MethodId } from '../methods/method-ids.ts';
import { getMethod } from '../methods/registry.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { noticeRecipients } from '../notifications/recipients.ts';
import { enrollmentNotice } from '../notifications/templates.ts';
import { resolveTier } from '../policy/tier.ts';
import { isHoneytoken } from '../honeytoken/honeytoken.ts';
import type { Policy } from '../policy/schema.ts';
import type { Repositories, SessionRecord } from '../ports/store.ts';
import type { FlowView, RecoveryService } from '../flows/recovery/service.ts';
import { enrollmentContext } from './secrets.ts';
import { openSession, sessionTokenHash } from './sessions.ts';
import { AccessPassService } from '../helpdesk/access-passes.ts';
import { phoneChangeOf } from '../phone/phone-change.ts';
import type { MethodLifecycleService, MethodLifecycleView, RecordedChange } from '../lifecycle/service.ts';
import { reconfirmationDue, type ReconfirmationDue } from '../lifecycle/rules.ts';
import type { AccountId } from '../account/ids.ts';
import type { RemovedEnrollmentSnapshot } from '../ports/store.ts';

interface ChangeFacts {
  readonly session: SessionRecord;
  readonly removed: RemovedEnrollmentSnapshot[];
  readonly recentRecoveryAt: Date | null;
}

/** Plain names for notices: never the person's own (possibly hostile) input (INP-2). */
export const METHOD_NAMES: Readonly<Record<MethodId, string>> = {
  email_code: 'alternate email',
  sms_code: 'phone (text message)',
  totp: 'authenticator app',
  recovery_code: 'recovery codes',
  security_questions: 'security questions',
  temporary_access_pass: 'temporary access pass',
  webauthn: 'passkey or security key',
};

export type SignInResult =
  | { readonly status: 'signed_in'; readonly sessionToken: string }
  | { readonly status: 'gate_required'; readonly flowToken: string; readonly flow: FlowView };

export interface EnrollmentView {
  readonly id: string;
  readonly method: MethodId;
  readonly status: 'pending' | 'active';
  readonly label: string;
  readonly createdAt: string;
  readonly verifiedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly remainingCodes: number | null;
  /** When the method starts to count as a gate (after any cooling-off); null while pending. */
  readonly usableFrom?: string | null;
  /** Re-confirmation state (core/lifecycle); null while pending. */
  readonly reconfirmation?: MethodLifecycleView['reconfirmation'];
}

type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

/**
 * Self-service management of recovery methods: sign in with the directory password (plus one gate
 * once a method exists), then list, add, verify and remove methods. Adding and removing need a
 * sign-in no older than the policy's step-up window.
 */
export class SelfServiceService {
  /** A valid argon2id hash of a random password, verified for unknown accounts so timing matches. */
  private dummyHash: Promise<string> | null = null;
  private passes: AccessPassService | null = null;

  /** Forced registration after a sign-in with a Temporary Access Pass (stateless, so an own instance is fine). */
  private get accessPasses(): AccessPassService {
    this.passes ??= new AccessPassService(this.deps);
    return this.passes;
  }

  constructor(
    private readonly deps: AppDeps,
    private readonly recovery: RecoveryService,
    /** ISO region for phone numbers typed in national format (server `phone.defaultRegion`). */
    private readonly defaultPhoneRegion: string | null = null,
    /** Cooling-off, "this wasn't me" links, the after-recovery window and re-confirmation; null only in tests of other concerns. */
    private readonly lifecycle: MethodLifecycleService | null = null,
  ) {}

  async signIn(input: { username: string; password: string }, request: RequestContext): Promise<SignInResult> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const ipDecision = await deps.rateLimiter.consume('ip', request.ip, policy.rateLimits.perIp);
    if (!ipDecision.allowed) throw new DomainError('rate.limited', 'Too many requests from this address. Wait before trying again.', { retryAfterSeconds: ipDecision.retryAfterSeconds });
    const canonical = canonicalIdentifier(input.username);
    const lookup = canonical.ok ? await deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
    const account = lookup.kind === 'one' && lookup.account.enabled ? lookup.account : null;
    const limitKey = account ? account.id : `unknown:${deps.secrets.mac('identifier', canonical.ok ? canonical.value : input.username)}`;
    const decision = await deps.rateLimiter.consume('sign_in', limitKey, policy.rateLimits.perIdentifier);
    const base: AuditBase = { at: now, actor: { kind: account ? 'person' : 'anonymous', id: account?.id ?? null }, subject: account?.id ?? null, ip: request.ip, userAgent: request.userAgent, department: account?.department ?? null, tier: account ? resolveTier(policy, account.groups, account.directoryPrivileged) : null, flowId: null };
    if (!decision.allowed) {
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'rate.limited', data: {} }]);
      throw new DomainError('rate.limited', 'Too many sign-in attempts. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
    // SECURITY: an empty or blank password never reaches the directory, where a simple bind with
    // an empty password is an unauthenticated bind that many servers report as success (PWD-10).
    // SECURITY: a honeytoken never signs in, whatever password is tried, and fails exactly like a wrong
    // password; the touch is audited with the address for the honeytoken_touch alert.
    const honeytoken = isHoneytoken(policy.honeytokens, canonical.ok ? canonical.value : null, lookup.kind === 'one' ? lookup.account : null);
    // SECURITY: a break-glass account has no self-service at all, sign-in included. It is refused
    // before the directory sees the password, so guesses cannot lock the emergency account out, and
    // the refusal names the break-glass tier so the break_glass_touch detector raises it.
    const breakGlass = account !== null && base.tier === 'break_glass';
    if (!account || input.password.trim() === '' || honeytoken || breakGlass) {
      await deps.passwords.verify(await this.timingHash(), input.password);
      const events: AuditEventInput[] = [{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: breakGlass ? 'break_glass.no_self_service' : 'auth.failed', data: {} }];
      if (honeytoken) events.push({ ...base, type: 'honeytoken.touched', outcome: 'failure', reason: 'honeytoken', data: { via: 'sign_in', identifier_hash: deps.secrets.mac('identifier', canonical.ok ? canonical.value : input.username) } });
      await deps.store.audit.append(events);
      throw new DomainError('auth.failed');
    }
    const verdict = await deps.directory.verifyPassword(account.id, input.password);
    if (verdict !== 'valid') {
      const events: AuditEventInput[] = [{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'auth.failed', data: { directory: verdict } }];
      if (verdict === 'invalid' && (await deps.directory.readLockState(account.id)).locked) {
        events.push({ ...base, type: 'account.locked', outcome: 'info', reason: 'sign_in.failed', data: { threshold: policy.signIn.lockoutThreshold } });
      }
      await deps.store.audit.append(events);
      throw new DomainError('auth.failed');
    }
    // Told only after the right password, so the refusal reveals nothing to someone guessing names.
    if (await this.lifecycle?.isFrozen(account.id)) {
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'self_service.frozen', data: {} }]);
      throw new DomainError('self_service.frozen', 'Self-service is stopped for your account because a change of its recovery methods was reported as not yours. Contact the helpdesk to have it checked and restarted.');
    }
    // SECURITY: a privileged account held after a recovery may have been recovered by an attacker;
    // until a second admin confirms it, nobody may register or remove its methods either.
    if ((await deps.store.privilegedHolds.blockingForAccount(account.id)).length > 0) {
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'privileged.held', data: {} }]);
      throw new DomainError('self_service.unavailable', 'Your account’s last recovery is waiting for a second administrator to confirm it. Contact the helpdesk or your security team.');
    }
    const enrollments = (await deps.store.enrollments.listForAccount(account.id)).filter((enrollment) => enrollment.status === 'active');
    if (enrollments.length > 0) {
      // SECURITY: right after a reset or unlock, changing methods takes the tier's full gate count
      // again, not password plus one gate: "reset, then swap the phone" is the classic takeover.
      const recentRecovery = this.lifecycle ? await this.lifecycle.recentRecoveryAt(account.id, now, policy) : null;
      const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
      const extraGates = recentRecovery && tier !== 'break_glass' ? policy.tiers[tier].gatesRequired - 1 : 0;
      const { flowToken, view } = await this.recovery.startSignInGate(account, request, { extraGates });
      return { status: 'gate_required', flowToken, flow: view };
    }
    const sessionToken = await deps.store.transaction(async (tx) => {
      const token = await openSession(tx, deps, account.id, now, policy);
      await tx.audit.append([{ ...base, type: 'sign_in.succeeded', outcome: 'success', reason: null, data: { gates: '' } }]);
      return token;
    });
    return { status: 'signed_in', sessionToken };
  }

  /**
   * Resolves a session token; expired, unknown and ended sessions are all `auth.required`. A session
   * opened with a Temporary Access Pass may only register methods (`forRegistration`) until the
   * account has the tier's minimum: anything else is `registration.required` (forced registration).
   */
  async session(token: string, options: { readonly forRegistration?: boolean; readonly action?: string; readonly request?: RequestContext } = {}): Promise<{ session: SessionRecord; account: DirectoryAccount }> {
    const { deps } = this;
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new DomainError('auth.required');
    const session = await deps.store.sessions.findByTokenHash(sessionTokenHash(deps.secrets, token));
    if (!session || session.expiresAt.getTime() <= deps.clock.now().getTime()) throw new DomainError('auth.required');
    const account = await deps.directory.getAccount(session.accountId);
    if (!account || !account.enabled) throw new DomainError('auth.required');
    if (options.forRegistration !== true) {
      const missing = await this.accessPasses.missingRegistrations(session, account);
      if (missing > 0) await this.accessPasses.refuseUntilRegistered(missing, account, options.action ?? 'other', options.request ?? null);
    }
    return { session, account };
  }

  async signOut(token: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const { session, account } = await this.session(token, { forRegistration: true });
    const now = deps.clock.now();
    // Session termination is audited like every other authentication event (LOG-1).
    await deps.store.transaction(async (tx) => {
      await tx.sessions.delete(session.id);
      await tx.audit.append([{ ...this.auditBase(account, request, now, deps.policy()), type: 'session.ended', outcome: 'info', reason: null, data: { reason: 'sign_out', sessions: 1 } }]);
    });
  }

  async listMethods(token: string): Promise<{ methods: EnrollmentView[]; required: number; missing: number; reconfirmation: { due: ReconfirmationDue[] } }> {
    const { deps } = this;
    const { account } = await this.session(token, { forRegistration: true });
    const policy = deps.policy();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    const required = tier === 'break_glass' ? 0 : policy.tiers[tier].minEnrolledMethods;
    // A Temporary Access Pass is not a method the person keeps: it is neither listed nor counted.
    const records = (await deps.store.enrollments.listForAccount(account.id)).filter((record) => record.methodId !== 'temporary_access_pass');
    const methods: EnrollmentView[] = [];
    const lifecycle = this.lifecycle ? await this.lifecycle.views(account, records) : new Map<string, MethodLifecycleView>();
    for (const record of records) {
      methods.push({
        ...lifecycle.get(record.id),
        id: record.id,
        method: record.methodId,
        status: record.status,
        label: record.label,
        createdAt: record.createdAt.toISOString(),
        verifiedAt: record.verifiedAt?.toISOString() ?? null,
        lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
        remainingCodes: record.methodId === 'recovery_code' ? await deps.store.singleUse.countUnconsumed(record.id, 'recovery_code') : null,
      });
    }
    const active = new Set(records.filter((record) => record.status === 'active').map((record) => record.methodId)).size;
    return { methods, required, missing: Math.max(0, required - active), reconfirmation: { due: reconfirmationDue(records, policy, deps.clock.now()) } };
  }

  /**
   * Registers a method. Methods that must be proven (email, phone, authenticator app) stay pending
   * until `verifyMethod`; recovery codes are active at once and replace any earlier set (TOK-16).
   */
  async addMethod(token: string, methodId: MethodId, input: unknown, request: RequestContext): Promise<{ enrollment: EnrollmentView; shownOnce: Readonly<Record<string, string | readonly string[]>> | null }> {
    const { deps } = this;
    const { session, account } = await this.session(token, { forRegistration: true });
    const policy = deps.policy();
    const now = deps.clock.now();
    this.requireStepUp(session, now, policy);
    const method = getMethod(methodId);
    const context = this.methodContext(policy, now, account);
    const draft = await method.enroll(input, context);
    const id = asEnrollmentId(deps.random.uuid());
    const challenge = draft.status === 'pending' ? await method.beginChallenge({ id, secret: draft.secret }, context, id) : null;
    if (challenge?.message) await this.limitVerificationMessage(account.id, draft.channelAddress, policy);
    const base = this.auditBase(account, request, now, policy);
    const facts = await this.changeFacts(session, account.id, now, policy);
    const recorded = await deps.store.transaction(async (tx) => {
      const events: AuditEventInput[] = [];
      let recordedChange: RecordedChange | null = null;
      if (methodId === 'recovery_code') {
        for (const old of (await tx.enrollments.listForAccount(account.id)).filter((record) => record.methodId === 'recovery_code')) {
          if (this.lifecycle) facts.removed.push(await this.lifecycle.snapshot(tx, old));
          await tx.singleUse.deleteForEnrollment(old.id);
          await tx.enrollments.delete(old.id);
          events.push({ ...base, type: 'enrollment.removed', outcome: 'success', reason: 'replaced', data: { method: methodId, enrollment_id: old.id } });
        }
      }
      await tx.enrollments.insert({
        id,
        accountId: account.id,
        methodId,
        status: draft.status,
        label: draft.label,
        secretCiphertext: deps.cipher.encrypt(JSON.stringify(draft.secret), enrollmentContext(id)),
        channelFingerprint: draft.channelAddress ? deps.secrets.mac('channel', draft.channelAddress) : null,
        createdAt: now,
        verifiedAt: draft.status === 'active' ? now : null,
        lastUsedAt: null,
      });
      if (draft.singleUse.length > 0) {
        await tx.singleUse.insertMany(draft.singleUse.map((item) => ({ ...item, accountId: account.id, enrollmentId: id, createdAt: now })));
      }
      events.push({ ...base, type: 'enrollment.started', outcome: 'info', reason: null, data: { method: methodId, enrollment_id: id } });
      if (challenge) {
        await tx.challenges.insert({
          id: asChallengeId(id),
          flowId: null,
          accountId: account.id,
          methodId,
          enrollmentId: id,
          secretHash: challenge.secretHash,
          attempts: 0,
          maxAttempts: policy.tiers.standard.maxAttemptsPerChallenge,
          createdAt: now,
          expiresAt: new Date(now.getTime() + challenge.ttlSeconds * 1000),
          consumedAt: null,
        });
        if (challenge.message) events.push(await enqueueMessage(tx, deps, challenge.message, account.id, now, base));
      } else {
        events.push({ ...base, type: 'enrollment.activated', outcome: 'success', reason: null, data: { method: methodId, enrollment_id: id } });
        recordedChange = await this.notify(tx, account, 'added', methodId, request, now, policy, events, base, id, facts);
      }
      await tx.audit.append(events);
      return recordedChange;
    });
    await this.flagChange(account, recorded, facts, request);
    const stored = await deps.store.enrollments.get(id);
    if (!stored) throw new Error('enrollment vanished after insert');
    return {
      enrollment: { ...(this.lifecycle ? (await this.lifecycle.views(account, [stored])).get(id) : undefined), id, method: methodId, status: stored.status, label: stored.label, createdAt: now.toISOString(), verifiedAt: stored.verifiedAt?.toISOString() ?? null, lastUsedAt: null, remainingCodes: methodId === 'recovery_code' ? draft.singleUse.length : null },
      shownOnce: draft.shownOnce,
    };
  }

  /** Proves a pending method with the code sent to it (or shown by the app); then it counts. */
  async verifyMethod(token: string, enrollmentId: string, code: string | ChallengeAnswer, request: RequestContext): Promise<EnrollmentView> {
    const { deps } = this;
    const { session, account } = await this.session(token, { forRegistration: true });
    const policy = deps.policy();
    const now = deps.clock.now();
    const record = await deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id || record.status !== 'pending') throw new DomainError('enrollment.not_found');
    const method = getMethod(record.methodId);
    const secret = JSON.parse(deps.cipher.decrypt(record.secretCiphertext, enrollmentContext(record.id))) as Record<string, unknown>;
    const base = this.auditBase(account, request, now, policy);
    const facts = await this.changeFacts(session, account.id, now, policy);
    let recorded: RecordedChange | null = null;
    const passed = await deps.store.transaction(async (tx) => {
      const challengeId = asChallengeId(record.id);
      const attempt = await tx.challenges.registerAttempt(challengeId, now);
      let ok = false;
      if (attempt !== null) {
        const challenge = await tx.challenges.get(challengeId);
        const verdict = await method.verify(typeof code === 'string' ? { code } : code, challenge?.secretHash ?? null, { id: record.id, secret }, this.methodContext(policy, now, account));
        if (verdict.kind === 'match') {
          const single = verdict.singleUse;
          const claimed = single === null || (single.mode === 'claim' ? await tx.singleUse.claimOnce(record.id, single.keyHash, single.purpose, account.id, now) : await tx.singleUse.consume(record.id, single.keyHash, now));
          ok = claimed && (await applySecretUpdate(tx, deps.cipher, record.id, record.secretCiphertext, verdict)) && (await tx.challenges.consume(challengeId, now));
        }
      }
      const events: AuditEventInput[] = [];
      if (ok) {
        // A changed number is a new enrollment activated now, never an edit of the old one, so its
        // activation time starts any cooling-off afresh.
        const phone = record.methodId === 'sms_code' ? { phone: await phoneChangeOf(tx, account.id, record.id) } : {};
        await tx.enrollments.activate(record.id, now);
        events.push({ ...base, type: 'enrollment.activated', outcome: 'success', reason: null, data: { method: record.methodId, enrollment_id: record.id, ...phone } });
        recorded = await this.notify(tx, account, 'added', record.methodId, request, now, policy, events, base, record.id, facts);
      } else {
        events.push({ ...base, type: 'enrollment.verification_failed', outcome: 'failure', reason: 'challenge.invalid', data: { method: record.methodId, enrollment_id: record.id } });
      }
      await tx.audit.append(events);
      return ok;
    });
    if (!passed) throw new DomainError('challenge.invalid');
    await this.flagChange(account, recorded, facts, request);
    const activated = await deps.store.enrollments.get(record.id);
    const lifecycle = activated && this.lifecycle ? (await this.lifecycle.views(account, [activated])).get(record.id) : undefined;
    return { ...lifecycle, id: record.id, method: record.methodId, status: 'active', label: record.label, createdAt: record.createdAt.toISOString(), verifiedAt: now.toISOString(), lastUsedAt: null, remainingCodes: null };
  }

  async removeMethod(token: string, enrollmentId: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const { session, account } = await this.session(token, { action: 'remove_method', request });
    const policy = deps.policy();
    const now = deps.clock.now();
    this.requireStepUp(session, now, policy);
    const record = await deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id) throw new DomainError('enrollment.not_found');
    const base = this.auditBase(account, request, now, policy);
    const facts = await this.changeFacts(session, account.id, now, policy);
    const recorded = await deps.store.transaction(async (tx) => {
      const phone = record.methodId === 'sms_code' ? { phone: 'removed' } : {};
      const events: AuditEventInput[] = [{ ...base, type: 'enrollment.removed', outcome: 'success', reason: null, data: { method: record.methodId, enrollment_id: record.id, ...phone } }];
      if (this.lifecycle) facts.removed.push(await this.lifecycle.snapshot(tx, record));
      // Told before deletion so the removed address hears about it too.
      const recordedChange = await this.notify(tx, account, 'removed', record.methodId, request, now, policy, events, base, record.id, facts);
      await tx.singleUse.deleteForEnrollment(record.id);
      await tx.enrollments.delete(record.id);
      await tx.audit.append(events);
      return recordedChange;
    });
    await this.flagChange(account, recorded, facts, request);
  }

  /** Starts re-confirming one of the person's active methods (a fresh code to it, or the app's current code). */
  async beginReconfirmation(token: string, enrollmentId: string, request: RequestContext): Promise<{ reconfirmationId: string; method: MethodId; publicKey?: Readonly<Record<string, unknown>> }> {
    const { account } = await this.session(token, { action: 'reconfirm_method', request });
    if (!this.lifecycle) throw new DomainError('enrollment.not_found');
    return this.lifecycle.beginReconfirmation(account, enrollmentId, request);
  }

  /** Confirms the method with the code; it then counts as confirmed (and used) now. */
  async completeReconfirmation(token: string, enrollmentId: string, reconfirmationId: string, code: string | ChallengeAnswer, request: RequestContext): Promise<EnrollmentView> {
    const { account } = await this.session(token, { action: 'reconfirm_method', request });
    if (!this.lifecycle) throw new DomainError('enrollment.not_found');
    await this.lifecycle.completeReconfirmation(account, enrollmentId, reconfirmationId, code, request);
    const record = await this.deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record) throw new DomainError('enrollment.not_found');
    return {
      ...(await this.lifecycle.views(account, [record])).get(record.id),
      id: record.id,
      method: record.methodId,
      status: record.status,
      label: record.label,
      createdAt: record.createdAt.toISOString(),
      verifiedAt: record.verifiedAt?.toISOString() ?? null,
      lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
      remainingCodes: record.methodId === 'recovery_code' ? await this.deps.store.singleUse.countUnconsumed(record.id, 'recovery_code') : null,
    };
  }

  private async notify(
    tx: Repositories,
    account: DirectoryAccount,
    change: 'added' | 'removed',
    methodId: MethodId,
    request: RequestContext,
    now: Date,
    policy: Policy,
    events: AuditEventInput[],
    base: AuditBase,
    enrollmentId: EnrollmentId,
    facts: ChangeFacts,
  ): Promise<RecordedChange | null> {
    const recipients = await noticeRecipients(tx, this.deps.cipher, account, change === 'removed' ? { includeEnrollment: enrollmentId } : { excludeEnrollment: enrollmentId });
    const recorded = this.lifecycle
      ? await this.lifecycle.recordChange(tx, {
          account,
          tier: resolveTier(policy, account.groups, account.directoryPrivileged),
          sessionAuthenticatedAt: facts.session.authenticatedAt,
          added: change === 'added' ? await tx.enrollments.get(enrollmentId) : null,
          removed: facts.removed,
          afterRecovery: facts.recentRecoveryAt !== null,
          now,
          policy,
        })
      : null;
    if (recorded) {
      // The change's id and flags go on the event that records it, for the detectors and reports.
      const index = events.findIndex((event) => (event.type === 'enrollment.activated' || event.type === 'enrollment.removed') && event.data['enrollment_id'] === enrollmentId);
      const recording = events[index];
      if (recording) events[index] = { ...recording, data: { ...recording.data, change_id: recorded.change.id, cools_off: recorded.change.coolsOff, after_recovery: recorded.change.afterRecovery } };
    }
    for (const [to, channel] of recipients) {
      events.push(await enqueueMessage(tx, this.deps, enrollmentNotice(policy.organisationName, change, METHOD_NAMES[methodId], channel, to, now, request.ip, recorded?.dispute ?? null), account.id, now, base));
    }
    return recorded;
  }

  /** What a change needs to know beyond the method: the session making it, what it removes, a recent recovery. */
  private async changeFacts(session: SessionRecord, accountId: AccountId, now: Date, policy: Policy): Promise<ChangeFacts> {
    return { session, removed: [], recentRecoveryAt: this.lifecycle ? await this.lifecycle.recentRecoveryAt(accountId, now, policy) : null };
  }

  /** After the change committed: the after-recovery finding, when it applies. */
  private async flagChange(account: DirectoryAccount, recorded: RecordedChange | null, facts: ChangeFacts, request: RequestContext): Promise<void> {
    if (recorded && this.lifecycle) await this.lifecycle.flagAfterRecovery(account, recorded.change, request, facts.recentRecoveryAt);
  }

  /**
   * SECURITY: registering a phone or an address sends a code to whatever destination the person
   * typed. Without a budget, one signed-in account could pump texts to a premium-rate number or
   * flood someone's mailbox (RATE-7, RATE-1). Verification messages are counted per account and
   * per destination (keyed by its fingerprint, so every account shares one count for a number),
   * each within the policy's per-recipient limit; over either, nothing is sent.
   */
  private async limitVerificationMessage(accountId: string, channelAddress: string | null, policy: Policy): Promise<void> {
    const { rateLimiter, secrets } = this.deps;
    const rule = policy.rateLimits.messagesPerRecipient;
    const keys = [`enroll:${accountId}`, ...(channelAddress ? [`destination:${secrets.mac('channel', channelAddress)}`] : [])];
    for (const key of keys) {
      const decision = await rateLimiter.consume('recipient', key, rule);
      if (!decision.allowed) throw new DomainError('rate.limited', 'Too many verification codes were sent. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
  }

  private requireStepUp(session: SessionRecord, now: Date, policy: Policy): void {
    if (now.getTime() - session.authenticatedAt.getTime() > policy.signIn.stepUpSeconds * 1000) {
      throw new DomainError('auth.step_up_required', `Sign in again: adding or removing a method needs a sign-in from the last ${Math.round(policy.signIn.stepUpSeconds / 60)} minutes.`);
    }
  }

  private timingHash(): Promise<string> {
    this.dummyHash ??= this.deps.passwords.hash(this.deps.random.bytes(24).toString('base64url'));
    return this.dummyHash;
  }

  private methodContext(policy: Policy, now: Date, account?: DirectoryAccount): MethodContext {
    return {
      now,
      purpose: 'enrollment',
      policy,
      displayName: '',
      services: { random: this.deps.random, secrets: this.deps.secrets, passwords: this.deps.passwords },
      ...(this.defaultPhoneRegion ? { defaultPhoneRegion: this.defaultPhoneRegion } : {}),
      ...(this.deps.relyingParty ? { relyingParty: this.deps.relyingParty } : {}),
      ...(account ? { subject: { accountId: account.id, username: account.username, displayName: account.displayName } } : {}),
    };
  }

  private auditBase(account: DirectoryAccount, request: RequestContext, now: Date, policy: Policy): AuditBase {
    return { at: now, actor: { kind: 'person', id: account.id }, subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(policy, account.groups, account.directoryPrivileged), flowId: null };
  }
}
