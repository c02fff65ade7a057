import type { DirectoryAccount } from '../account/account.ts';
import { asChallengeId, asEnrollmentId, type EnrollmentId } from '../account/ids.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { DomainError } from '../errors.ts';
import type { MethodContext } from '../methods/method.ts';
import type { MethodId } from '../methods/method-ids.ts';
import { getMethod } from '../methods/registry.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { noticeRecipients } from '../notifications/recipients.ts';
import { enrollmentNotice } from '../notifications/templates.ts';
import { resolveTier } from '../policy/tier.ts';
import type { Policy } from '../policy/schema.ts';
import type { Repositories, SessionRecord } from '../ports/store.ts';
import type { FlowView, RecoveryService } from '../flows/recovery/service.ts';
import { enrollmentContext } from './secrets.ts';
import { openSession, sessionTokenHash } from './sessions.ts';

/** Plain names for notices: never the person's own (possibly hostile) input (INP-2). */
const METHOD_NAMES: Readonly<Record<MethodId, string>> = {
  email_code: 'alternate email',
  sms_code: 'phone (text message)',
  totp: 'authenticator app',
  recovery_code: 'recovery codes',
  security_questions: 'security questions',
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

  constructor(
    private readonly deps: AppDeps,
    private readonly recovery: RecoveryService,
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
    const base: AuditBase = { at: now, actor: { kind: account ? 'person' : 'anonymous', id: account?.id ?? null }, subject: account?.id ?? null, ip: request.ip, userAgent: request.userAgent, department: account?.department ?? null, tier: account ? resolveTier(policy, account.groups) : null, flowId: null };
    if (!decision.allowed) {
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'rate.limited', data: {} }]);
      throw new DomainError('rate.limited', 'Too many sign-in attempts. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
    // SECURITY: an empty or blank password never reaches the directory, where a simple bind with
    // an empty password is an unauthenticated bind that many servers report as success (PWD-10).
    if (!account || input.password.trim() === '') {
      await deps.passwords.verify(await this.timingHash(), input.password);
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason: 'auth.failed', data: {} }]);
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
    const enrollments = (await deps.store.enrollments.listForAccount(account.id)).filter((enrollment) => enrollment.status === 'active');
    if (enrollments.length > 0) {
      const { flowToken, view } = await this.recovery.startSignInGate(account, request);
      return { status: 'gate_required', flowToken, flow: view };
    }
    const sessionToken = await deps.store.transaction(async (tx) => {
      const token = await openSession(tx, deps, account.id, now, policy);
      await tx.audit.append([{ ...base, type: 'sign_in.succeeded', outcome: 'success', reason: null, data: { gates: '' } }]);
      return token;
    });
    return { status: 'signed_in', sessionToken };
  }

  /** Resolves a session token; expired, unknown and ended sessions are all `auth.required`. */
  async session(token: string): Promise<{ session: SessionRecord; account: DirectoryAccount }> {
    const { deps } = this;
    if (!/^[A-Za-z0-9_-]{43}$/.test(token)) throw new DomainError('auth.required');
    const session = await deps.store.sessions.findByTokenHash(sessionTokenHash(deps.secrets, token));
    if (!session || session.expiresAt.getTime() <= deps.clock.now().getTime()) throw new DomainError('auth.required');
    const account = await deps.directory.getAccount(session.accountId);
    if (!account || !account.enabled) throw new DomainError('auth.required');
    return { session, account };
  }

  async signOut(token: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const { session, account } = await this.session(token);
    const now = deps.clock.now();
    // Session termination is audited like every other authentication event (LOG-1).
    await deps.store.transaction(async (tx) => {
      await tx.sessions.delete(session.id);
      await tx.audit.append([{ ...this.auditBase(account, request, now, deps.policy()), type: 'session.ended', outcome: 'info', reason: null, data: { reason: 'sign_out', sessions: 1 } }]);
    });
  }

  async listMethods(token: string): Promise<{ methods: EnrollmentView[]; required: number; missing: number }> {
    const { deps } = this;
    const { account } = await this.session(token);
    const policy = deps.policy();
    const tier = resolveTier(policy, account.groups);
    const required = tier === 'break_glass' ? 0 : policy.tiers[tier].minEnrolledMethods;
    const records = await deps.store.enrollments.listForAccount(account.id);
    const methods: EnrollmentView[] = [];
    for (const record of records) {
      methods.push({
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
    return { methods, required, missing: Math.max(0, required - active) };
  }

  /**
   * Registers a method. Methods that must be proven (email, phone, authenticator app) stay pending
   * until `verifyMethod`; recovery codes are active at once and replace any earlier set (TOK-16).
   */
  async addMethod(token: string, methodId: MethodId, input: unknown, request: RequestContext): Promise<{ enrollment: EnrollmentView; shownOnce: Readonly<Record<string, string | readonly string[]>> | null }> {
    const { deps } = this;
    const { session, account } = await this.session(token);
    const policy = deps.policy();
    const now = deps.clock.now();
    this.requireStepUp(session, now, policy);
    const method = getMethod(methodId);
    const context = this.methodContext(policy, now);
    const draft = await method.enroll(input, context);
    const id = asEnrollmentId(deps.random.uuid());
    const challenge = draft.status === 'pending' ? await method.beginChallenge({ id, secret: draft.secret }, context, id) : null;
    if (challenge?.message) await this.limitVerificationMessage(account.id, draft.channelAddress, policy);
    const base = this.auditBase(account, request, now, policy);
    await deps.store.transaction(async (tx) => {
      const events: AuditEventInput[] = [];
      if (methodId === 'recovery_code') {
        for (const old of (await tx.enrollments.listForAccount(account.id)).filter((record) => record.methodId === 'recovery_code')) {
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
        await this.notify(tx, account, 'added', methodId, request, now, policy, events, base, id);
      }
      await tx.audit.append(events);
    });
    const stored = await deps.store.enrollments.get(id);
    if (!stored) throw new Error('enrollment vanished after insert');
    return {
      enrollment: { id, method: methodId, status: stored.status, label: stored.label, createdAt: now.toISOString(), verifiedAt: stored.verifiedAt?.toISOString() ?? null, lastUsedAt: null, remainingCodes: methodId === 'recovery_code' ? draft.singleUse.length : null },
      shownOnce: draft.shownOnce,
    };
  }

  /** Proves a pending method with the code sent to it (or shown by the app); then it counts. */
  async verifyMethod(token: string, enrollmentId: string, code: string, request: RequestContext): Promise<EnrollmentView> {
    const { deps } = this;
    const { account } = await this.session(token);
    const policy = deps.policy();
    const now = deps.clock.now();
    const record = await deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id || record.status !== 'pending') throw new DomainError('enrollment.not_found');
    const method = getMethod(record.methodId);
    const secret = JSON.parse(deps.cipher.decrypt(record.secretCiphertext, enrollmentContext(record.id))) as Record<string, unknown>;
    const base = this.auditBase(account, request, now, policy);
    const passed = await deps.store.transaction(async (tx) => {
      const challengeId = asChallengeId(record.id);
      const attempt = await tx.challenges.registerAttempt(challengeId, now);
      let ok = false;
      if (attempt !== null) {
        const challenge = await tx.challenges.get(challengeId);
        const verdict = await method.verify({ code }, challenge?.secretHash ?? null, { id: record.id, secret }, this.methodContext(policy, now));
        if (verdict.kind === 'match') {
          const single = verdict.singleUse;
          const claimed = single === null || (single.mode === 'claim' ? await tx.singleUse.claimOnce(record.id, single.keyHash, single.purpose, account.id, now) : await tx.singleUse.consume(record.id, single.keyHash, now));
          ok = claimed && (await tx.challenges.consume(challengeId, now));
        }
      }
      const events: AuditEventInput[] = [];
      if (ok) {
        await tx.enrollments.activate(record.id, now);
        events.push({ ...base, type: 'enrollment.activated', outcome: 'success', reason: null, data: { method: record.methodId, enrollment_id: record.id } });
        await this.notify(tx, account, 'added', record.methodId, request, now, policy, events, base, record.id);
      } else {
        events.push({ ...base, type: 'enrollment.verification_failed', outcome: 'failure', reason: 'challenge.invalid', data: { method: record.methodId, enrollment_id: record.id } });
      }
      await tx.audit.append(events);
      return ok;
    });
    if (!passed) throw new DomainError('challenge.invalid');
    return { id: record.id, method: record.methodId, status: 'active', label: record.label, createdAt: record.createdAt.toISOString(), verifiedAt: now.toISOString(), lastUsedAt: null, remainingCodes: null };
  }

  async removeMethod(token: string, enrollmentId: string, request: RequestContext): Promise<void> {
    const { deps } = this;
    const { session, account } = await this.session(token);
    const policy = deps.policy();
    const now = deps.clock.now();
    this.requireStepUp(session, now, policy);
    const record = await deps.store.enrollments.get(asEnrollmentId(enrollmentId));
    if (!record || record.accountId !== account.id) throw new DomainError('enrollment.not_found');
    const base = this.auditBase(account, request, now, policy);
    await deps.store.transaction(async (tx) => {
      const events: AuditEventInput[] = [{ ...base, type: 'enrollment.removed', outcome: 'success', reason: null, data: { method: record.methodId, enrollment_id: record.id } }];
      // Told before deletion so the removed address hears about it too.
      await this.notify(tx, account, 'removed', record.methodId, request, now, policy, events, base, record.id);
      await tx.singleUse.deleteForEnrollment(record.id);
      await tx.enrollments.delete(record.id);
      await tx.audit.append(events);
    });
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
  ): Promise<void> {
    const recipients = await noticeRecipients(tx, this.deps.cipher, account, change === 'removed' ? { includeEnrollment: enrollmentId } : { excludeEnrollment: enrollmentId });
    for (const [to, channel] of recipients) {
      events.push(await enqueueMessage(tx, this.deps, enrollmentNotice(policy.organisationName, change, METHOD_NAMES[methodId], channel, to, now, request.ip), account.id, now, base));
    }
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

  private methodContext(policy: Policy, now: Date): MethodContext {
    return { now, purpose: 'enrollment', policy, displayName: '', services: { random: this.deps.random, secrets: this.deps.secrets, passwords: this.deps.passwords } };
  }

  private auditBase(account: DirectoryAccount, request: RequestContext, now: Date, policy: Policy): AuditBase {
    return { at: now, actor: { kind: 'person', id: account.id }, subject: account.id, ip: request.ip, userAgent: request.userAgent, department: account.department, tier: resolveTier(policy, account.groups), flowId: null };
  }
}
