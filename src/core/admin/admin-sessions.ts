import type { DirectoryAccount } from '../account/account.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { beginSignIn } from '../app/sign-in-attempt.ts';
import { openEnrollmentSecret } from '../enrollment/secrets.ts';
import { applySecretUpdate } from '../enrollment/secret-update.ts';
import { asChallengeId } from '../account/ids.ts';
import type { MethodContext } from '../methods/method.ts';
import { DomainError } from '../errors.ts';
import { getMethod } from '../methods/registry.ts';
import { resolveTier } from '../policy/tier.ts';
import type { AdminSessionRecord } from '../ports/store.ts';
import { ADMIN_ROLES, rolesFor, sessionPrincipal, type AdminPrincipal, type AdminRole } from './principal.ts';

/** How long admin-console sessions live; from configuration (`admin.*`). */
export interface AdminSessionSettings {
  /** A session unused this long ends (15 minutes by default). */
  readonly idleSeconds: number;
  /** A session ends this long after sign-in whatever its use (8 hours by default). */
  readonly absoluteSeconds: number;
  /** Roles are re-read from the directory's groups at least this often while a session is used. */
  readonly roleRecheckSeconds: number;
}

/** Time between the password and the second factor. */
export const PENDING_SIGN_IN_SECONDS = 300;
/** Wrong second-factor codes before a pending sign-in ends and the password must be given again. */
export const MAX_SECOND_FACTOR_ATTEMPTS = 5;

const TOKEN_PATTERN = /^lk_as_[A-Za-z0-9_-]{43}$/;

export interface PendingAdminSignIn {
  readonly pendingToken: string;
  readonly expiresAt: Date;
  /** `totp` when the account has an authenticator app, else `webauthn`. */
  readonly secondFactor: 'totp' | 'webauthn';
  /** Every second factor the account can use here, strongest first. */
  readonly methods: readonly ('webauthn' | 'totp')[];
}

/** The second step's answer: a TOTP code, or a passkey's assertion to the options of {@link AdminSessionService.beginPasskey}. */
export type AdminSecondFactorAnswer = string | { readonly challengeId: string; readonly credential: Readonly<Record<string, unknown>> };

export interface AdminSignIn {
  readonly sessionToken: string;
  readonly principal: AdminPrincipal;
  readonly expiresAt: Date;
  readonly idleSeconds: number;
}

type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

const sortedRoles = (roles: ReadonlySet<AdminRole>): AdminRole[] => ADMIN_ROLES.filter((role) => roles.has(role));

/**
 * Admin-console sign-in and sessions. Admins are directory accounts whose groups map to a role in
 * policy `adminRoles`; they sign in with the directory password, then a TOTP code from the
 * authenticator app they registered in the portal. Session tokens are random, stored as keyed
 * hashes, replaced when the second factor passes, and end after an idle period and an absolute
 * lifetime. Roles are re-read from the directory while a session is used, so removing someone from
 * an admin group ends their access within `roleRecheckSeconds`.
 */
export class AdminSessionService {
  /** A valid argon2id hash of a random password, verified for unknown accounts so timing matches. */
  private dummyHash: Promise<string> | null = null;

  constructor(
    private readonly deps: AppDeps,
    private readonly settings: () => AdminSessionSettings,
  ) {}

  /**
   * The first step: the directory password. SECURITY: an unknown account, a wrong password and an
   * account that holds no admin role get the same `auth.failed` reply, so the console cannot be used
   * to learn who the admins are. Only someone who knows an admin's password learns that the account
   * lacks an authenticator app.
   */
  async signIn(input: { username: string; password: string }, request: RequestContext): Promise<PendingAdminSignIn> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    await deps.store.adminSessions.deleteExpired(now, this.settings().idleSeconds);
    // The same budget as the self-service sign-in: one password-guessing allowance per account, whichever door is knocked on.
    const { account, decision } = await beginSignIn(deps, policy, input.username, request);
    const base = this.auditBase(account, request, now, 'person');
    if (!decision.allowed) {
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: 'rate.limited', data: { stage: 'password' } }]);
      throw new DomainError('rate.limited', 'Too many sign-in attempts. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
    // SECURITY: a blank password never reaches the directory, where it would be an unauthenticated bind (PWD-10).
    if (!account || input.password.trim() === '') {
      await deps.passwords.verify(await this.timingHash(), input.password);
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: 'auth.failed', data: { stage: 'password' } }]);
      throw new DomainError('auth.failed');
    }
    const verdict = await deps.directory.verifyPassword(account.id, input.password);
    const roles = rolesFor(account.groups, policy.adminRoles);
    if (verdict !== 'valid' || roles.size === 0) {
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: 'auth.failed', data: { stage: 'password' } }]);
      throw new DomainError('auth.failed');
    }
    const active = (await deps.store.enrollments.listForAccount(account.id)).filter((enrollment) => enrollment.status === 'active');
    const methods = (['webauthn', 'totp'] as const).filter((id) => active.some((enrollment) => enrollment.methodId === id));
    if (methods.length === 0) {
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: 'auth.second_factor_missing', data: { stage: 'password' } }]);
      throw new DomainError('auth.second_factor_missing', 'Admin sign-in needs an authenticator app: sign in to the portal, open "My recovery methods", register one, then sign in here again.');
    }
    const pendingToken = this.newToken();
    const expiresAt = new Date(now.getTime() + PENDING_SIGN_IN_SECONDS * 1000);
    await deps.store.adminSessions.insert({
      id: deps.random.uuid(),
      tokenHash: this.tokenHash(pendingToken),
      accountId: account.id,
      username: account.username,
      stage: 'awaiting_second_factor',
      roles: sortedRoles(roles),
      failedAttempts: 0,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      rolesCheckedAt: now,
    });
    return { pendingToken, expiresAt, secondFactor: methods.includes('totp') ? 'totp' : 'webauthn', methods };
  }

  /**
   * Starts a passkey second step: request options for the account's passkey, with a challenge row
   * (single use, attempt-capped, expiring with the pending sign-in) that only this account's pending
   * sign-ins started after it can answer.
   */
  async beginPasskey(pendingToken: string): Promise<{ challengeId: string; publicKey: Readonly<Record<string, unknown>> }> {
    const { deps } = this;
    const now = deps.clock.now();
    const pending = await this.find(pendingToken);
    if (!pending || pending.stage !== 'awaiting_second_factor' || pending.expiresAt.getTime() <= now.getTime()) throw new DomainError('auth.required', 'The sign-in has expired or was not started; sign in with your password again.');
    const enrollment = (await deps.store.enrollments.listForAccount(pending.accountId)).find((record) => record.methodId === 'webauthn' && record.status === 'active');
    if (!enrollment) throw new DomainError('auth.second_factor_missing', 'This account has no passkey: use the authenticator app.');
    const secret = openEnrollmentSecret(deps.cipher, enrollment);
    const challengeId = asChallengeId(deps.random.uuid());
    const challenge = await getMethod('webauthn').beginChallenge({ id: enrollment.id, secret }, this.methodContext(now, ''), challengeId);
    await deps.store.challenges.insert({
      id: challengeId,
      flowId: null,
      accountId: pending.accountId,
      methodId: 'webauthn',
      enrollmentId: enrollment.id,
      secretHash: challenge.secretHash,
      attempts: 0,
      maxAttempts: MAX_SECOND_FACTOR_ATTEMPTS,
      createdAt: now,
      expiresAt: new Date(Math.min(now.getTime() + challenge.ttlSeconds * 1000, pending.expiresAt.getTime())),
      consumedAt: null,
    });
    return { challengeId, publicKey: challenge.prompt.publicKey ?? {} };
  }

  /**
   * The second step: a TOTP code from the account's registered authenticator app, verified as a
   * recovery gate verifies it (same drift window) and claimed once per time step, so a code seen
   * over a shoulder cannot be replayed (TOK-14). Success replaces the pending token with a new
   * session token (no fixation); the fifth wrong code ends the pending sign-in.
   */
  async verifySecondFactor(pendingToken: string, code: AdminSecondFactorAnswer, request: RequestContext): Promise<AdminSignIn> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const pending = await this.find(pendingToken);
    if (!pending || pending.stage !== 'awaiting_second_factor' || pending.expiresAt.getTime() <= now.getTime()) throw new DomainError('auth.required', 'The sign-in has expired or was not started; sign in with your password again.');
    const account = await deps.directory.getAccount(pending.accountId);
    const roles = account && account.enabled ? rolesFor(account.groups, policy.adminRoles) : new Set<AdminRole>();
    const base = this.auditBase(account, request, now, 'admin');
    if (!account || roles.size === 0) {
      await deps.store.adminSessions.delete(pending.id);
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: 'auth.failed', data: { stage: 'second_factor' } }]);
      throw new DomainError('auth.required', 'The sign-in has expired or was not started; sign in with your password again.');
    }
    if (!(typeof code === 'string' ? await this.totpMatches(account, code, now) : await this.passkeyMatches(account, pending, code, now))) {
      const failures = await deps.store.adminSessions.recordFailure(pending.id);
      const exhausted = failures >= MAX_SECOND_FACTOR_ATTEMPTS;
      if (exhausted) await deps.store.adminSessions.delete(pending.id);
      await deps.store.audit.append([{ ...base, type: 'admin.sign_in_failed', outcome: 'failure', reason: exhausted ? 'challenge.exhausted' : 'challenge.invalid', data: { stage: 'second_factor' } }]);
      if (exhausted) throw new DomainError('auth.required', 'Too many wrong codes; sign in with your password again.');
      throw new DomainError('challenge.invalid', 'The code is not correct or was already used; enter the current code from your authenticator app.', { attemptsLeft: MAX_SECOND_FACTOR_ATTEMPTS - failures });
    }
    const settings = this.settings();
    const sessionToken = this.newToken();
    const expiresAt = new Date(now.getTime() + settings.absoluteSeconds * 1000);
    const roleList = sortedRoles(roles);
    await deps.store.transaction(async (tx) => {
      if (!(await tx.adminSessions.activate(pending.id, this.tokenHash(sessionToken), roleList, now, expiresAt))) {
        throw new DomainError('auth.required', 'The sign-in has expired or was not started; sign in with your password again.');
      }
      await tx.audit.append([{ ...base, type: 'admin.signed_in', outcome: 'success', reason: null, data: { session_id: pending.id, roles: roleList.join(' '), second_factor: typeof code === 'string' ? 'totp' : 'webauthn' } }]);
    });
    return { sessionToken, expiresAt, idleSeconds: settings.idleSeconds, principal: sessionPrincipal({ sessionId: pending.id, accountId: account.id, username: account.username, roles }) };
  }

  /**
   * Resolves a session token to its principal, or null when it is unknown, pending, idle too long
   * or past its lifetime. When the roles were last read more than `roleRecheckSeconds` ago they
   * are read again from the directory: SECURITY: an admin removed from the directory group, or
   * disabled, loses the console within that interval, not at the end of an 8-hour session.
   */
  async authenticate(token: string, request: RequestContext): Promise<AdminPrincipal | null> {
    const { deps } = this;
    const settings = this.settings();
    const now = deps.clock.now();
    const session = await this.find(token);
    if (!session || session.stage !== 'active') return null;
    if (session.expiresAt.getTime() <= now.getTime() || session.lastSeenAt.getTime() + settings.idleSeconds * 1000 <= now.getTime()) {
      await deps.store.adminSessions.delete(session.id);
      return null;
    }
    let roles: ReadonlySet<AdminRole> = new Set(session.roles);
    if (now.getTime() - session.rolesCheckedAt.getTime() >= settings.roleRecheckSeconds * 1000) {
      const account = await deps.directory.getAccount(session.accountId);
      roles = account && account.enabled ? rolesFor(account.groups, deps.policy().adminRoles) : new Set();
      if (roles.size === 0) {
        await this.end(session, account, request, now, account && account.enabled ? 'roles_removed' : 'account_disabled');
        return null;
      }
      await deps.store.adminSessions.touch(session.id, now, sortedRoles(roles));
    } else {
      await deps.store.adminSessions.touch(session.id, now);
    }
    return sessionPrincipal({ sessionId: session.id, accountId: session.accountId, username: session.username, roles });
  }

  /** Ends the session of this token, if it is one; audited. */
  async signOut(token: string, request: RequestContext): Promise<boolean> {
    const session = await this.find(token);
    if (!session || session.stage !== 'active') return false;
    await this.end(session, await this.deps.directory.getAccount(session.accountId), request, this.deps.clock.now(), 'sign_out');
    return true;
  }

  /** Whether a bearer credential has the shape of an admin-console session token (not an API token). */
  static isSessionToken(token: string): boolean {
    return TOKEN_PATTERN.test(token);
  }

  private async end(session: AdminSessionRecord, account: DirectoryAccount | null, request: RequestContext, now: Date, reason: 'sign_out' | 'roles_removed' | 'account_disabled'): Promise<void> {
    const { deps } = this;
    await deps.store.transaction(async (tx) => {
      if (!(await tx.adminSessions.delete(session.id))) return;
      await tx.audit.append([
        { ...this.auditBase(account, request, now, 'admin'), actor: { kind: 'admin', id: session.accountId }, subject: session.accountId, type: 'admin.signed_out', outcome: 'info', reason: null, data: { session_id: session.id, reason } },
      ]);
    });
  }

  /**
   * A passkey assertion for a challenge of {@link beginPasskey}: the challenge must belong to this
   * account, be no older than the pending sign-in, unconsumed and under its cap; the signature
   * counter is written compare-and-set with the consumption, in one transaction.
   */
  private async passkeyMatches(account: DirectoryAccount, pending: AdminSessionRecord, answer: Exclude<AdminSecondFactorAnswer, string>, now: Date): Promise<boolean> {
    const { deps } = this;
    if (!/^[0-9a-f-]{36}$/.test(answer.challengeId)) return false;
    const challengeId = asChallengeId(answer.challengeId);
    const challenge = await deps.store.challenges.get(challengeId);
    if (!challenge || challenge.accountId !== account.id || challenge.flowId !== null || challenge.methodId !== 'webauthn' || !challenge.enrollmentId || challenge.createdAt.getTime() < pending.createdAt.getTime()) return false;
    const enrollment = await deps.store.enrollments.get(challenge.enrollmentId);
    if (!enrollment || enrollment.accountId !== account.id || enrollment.status !== 'active') return false;
    const secret = openEnrollmentSecret(deps.cipher, enrollment);
    return deps.store.transaction(async (tx) => {
      if ((await tx.challenges.registerAttempt(challengeId, now)) === null) return false;
      const verdict = await getMethod('webauthn').verify({ credential: answer.credential }, challenge.secretHash, { id: enrollment.id, secret }, this.methodContext(now, account.displayName));
      const ok = verdict.kind === 'match' && (await applySecretUpdate(tx, deps.cipher, enrollment.id, enrollment.secretCiphertext, verdict)) && (await tx.challenges.consume(challengeId, now));
      if (ok) await tx.enrollments.touchLastUsed(enrollment.id, now);
      return ok;
    });
  }

  private methodContext(now: Date, displayName: string): MethodContext {
    const { deps } = this;
    return { now, purpose: 'sign_in', policy: deps.policy(), displayName, services: { random: deps.random, secrets: deps.secrets, passwords: deps.passwords }, ...(deps.relyingParty ? { relyingParty: deps.relyingParty } : {}) };
  }

  private async totpMatches(account: DirectoryAccount, code: string, now: Date): Promise<boolean> {
    const { deps } = this;
    const policy = deps.policy();
    const method = getMethod('totp');
    const context = { now, purpose: 'sign_in', policy, displayName: account.displayName, services: { random: deps.random, secrets: deps.secrets, passwords: deps.passwords } } as const;
    const enrollments = (await deps.store.enrollments.listForAccount(account.id)).filter((enrollment) => enrollment.methodId === 'totp' && enrollment.status === 'active');
    for (const enrollment of enrollments) {
      const secret = openEnrollmentSecret(deps.cipher, enrollment);
      const outcome = await method.verify({ code }, null, { id: enrollment.id, secret }, context);
      if (outcome.kind !== 'match') continue;
      const claim = outcome.singleUse;
      // The same ledger recovery uses: a step used to pass a recovery gate cannot sign an admin in, and the reverse.
      const claimed = claim === null || (await deps.store.singleUse.claimOnce(enrollment.id, claim.keyHash, claim.purpose, account.id, now));
      if (!claimed) return false;
      await deps.store.enrollments.touchLastUsed(enrollment.id, now);
      return true;
    }
    return false;
  }

  private async find(token: string): Promise<AdminSessionRecord | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    return this.deps.store.adminSessions.findByTokenHash(this.tokenHash(token));
  }

  private newToken(): string {
    return `lk_as_${this.deps.random.bytes(32).toString('base64url')}`;
  }

  private tokenHash(token: string): string {
    return this.deps.secrets.mac('admin_session', token);
  }

  private auditBase(account: DirectoryAccount | null, request: RequestContext, now: Date, actorKind: 'person' | 'admin'): AuditBase {
    const policy = this.deps.policy();
    return {
      at: now,
      actor: { kind: account ? actorKind : 'anonymous', id: account?.id ?? null },
      subject: account?.id ?? null,
      ip: request.ip,
      userAgent: request.userAgent,
      department: account?.department ?? null,
      tier: account ? resolveTier(policy, account.groups, account.directoryPrivileged) : null,
      flowId: null,
    };
  }

  private timingHash(): Promise<string> {
    this.dummyHash ??= this.deps.passwords.hash(this.deps.random.bytes(24).toString('base64url'));
    return this.dummyHash;
  }
}
