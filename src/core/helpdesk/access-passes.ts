import type { DirectoryAccount } from '../account/account.ts';
import { asEnrollmentId, type SessionId } from '../account/ids.ts';
import type { ActorKind, AuditEventInput } from '../audit/events.ts';
import type { AppDeps, RequestContext } from '../app/deps.ts';
import { beginSignIn } from '../app/sign-in-attempt.ts';
import { enrollmentContext } from '../enrollment/secrets.ts';
import { openSession, sessionTokenHash } from '../enrollment/sessions.ts';
import { DomainError } from '../errors.ts';
import { generatePass, normalisePass, PASS_MAC_PURPOSE } from '../methods/temporary-access-pass/temporary-access-pass.ts';
import { enqueueMessage } from '../notifications/outbox.ts';
import { noticeRecipients } from '../notifications/recipients.ts';
import { accessPassIssuedNotice } from '../notifications/templates.ts';
import { resolveTier } from '../policy/tier.ts';
import type { Policy } from '../policy/schema.ts';
import type { AccessPassKind, AccessPassRecord, Repositories, SessionRecord } from '../ports/store.ts';
import { passUsedEvent } from './access-pass-use.ts';

export type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

/** Who issues a pass, as the audit trail names actors. */
export interface PassIssuer {
  readonly kind: ActorKind;
  readonly id: string;
}

export interface PassRequest {
  readonly account: DirectoryAccount;
  readonly kind: AccessPassKind;
  readonly validFrom: Date;
  readonly lifetimeSeconds: number;
  readonly uses: number;
  readonly issuer: PassIssuer;
  /** Scalars recorded on `tap.issued` (the verification that allowed it, the batch it belongs to). */
  readonly evidence: Readonly<Record<string, string | number | null>>;
}

export interface IssuedPass {
  /** The pass in clear: returned once to the caller and never stored. */
  readonly pass: string;
  readonly record: AccessPassRecord;
}

/** What a pass's holder and the console may see of it: never the pass or its hash. */
export interface PassView {
  readonly id: string;
  readonly kind: AccessPassKind;
  readonly validFrom: string;
  readonly expiresAt: string;
  readonly maxUses: number;
  readonly uses: number;
  readonly issuedAt: string;
}

export const passView = (record: AccessPassRecord): PassView => ({
  id: record.id,
  kind: record.kind,
  validFrom: record.validFrom.toISOString(),
  expiresAt: record.expiresAt.toISOString(),
  maxUses: record.maxUses,
  uses: record.uses,
  issuedAt: record.issuedAt.toISOString(),
});

/** Refuses a lifetime or use count outside the policy's bounds, naming the field. */
export function checkPassBounds(policy: Policy, lifetimeSeconds: number, uses: number): void {
  const rules = policy.temporaryAccessPass;
  if (lifetimeSeconds < rules.minLifetimeSeconds || lifetimeSeconds > rules.maxLifetimeSeconds) {
    throw new DomainError('request.invalid', `lifetimeSeconds: must be between ${rules.minLifetimeSeconds} and ${rules.maxLifetimeSeconds} under the policy`);
  }
  if (uses < 1 || uses > rules.maxUses) throw new DomainError('request.invalid', `uses: must be between 1 and ${rules.maxUses} under the policy`);
}

/**
 * Issues a pass inside the caller's transaction: the account's live pass (if any) is revoked and
 * audited, every earlier pass enrollment is removed, a new enrollment and pass row are written,
 * and every channel of record is told (SESS-4). The pass is generated here and nowhere else: no
 * caller can choose it (TOK-17).
 */
export async function issuePassInTransaction(tx: Repositories, deps: AppDeps, request: PassRequest, now: Date, base: AuditBase, events: AuditEventInput[]): Promise<IssuedPass> {
  const { account } = request;
  const revoked = await tx.temporaryAccessPasses.revokeLive(account.id, 'replaced', now);
  if (revoked) events.push({ ...base, type: 'tap.revoked', outcome: 'info', reason: 'replaced', data: { pass_id: revoked.id, kind: revoked.kind, uses: revoked.uses } });
  for (const old of await tx.enrollments.listForAccount(account.id)) {
    if (old.methodId === 'temporary_access_pass') await tx.enrollments.delete(old.id);
  }
  const pass = generatePass(deps.random);
  const enrollmentId = asEnrollmentId(deps.random.uuid());
  const passId = deps.random.uuid();
  await tx.enrollments.insert({
    id: enrollmentId,
    accountId: account.id,
    methodId: 'temporary_access_pass',
    status: 'active',
    label: 'Temporary access pass',
    secretCiphertext: deps.cipher.encrypt(JSON.stringify({ passId }), enrollmentContext(enrollmentId)),
    channelFingerprint: null,
    createdAt: now,
    verifiedAt: now,
    lastUsedAt: null,
  });
  const record: AccessPassRecord = {
    id: passId,
    accountId: account.id,
    enrollmentId,
    keyHash: deps.secrets.mac(PASS_MAC_PURPOSE, pass),
    kind: request.kind,
    validFrom: request.validFrom,
    expiresAt: new Date(request.validFrom.getTime() + request.lifetimeSeconds * 1000),
    maxUses: request.uses,
    uses: 0,
    issuedAt: now,
    issuedByKind: request.issuer.kind,
    issuedBy: request.issuer.id,
    revokedAt: null,
    revokeReason: null,
    lastUsedAt: null,
    sessionId: null,
  };
  await tx.temporaryAccessPasses.insert(record);
  events.push({
    ...base,
    type: 'tap.issued',
    outcome: 'success',
    reason: null,
    data: { pass_id: passId, kind: request.kind, valid_from: record.validFrom.toISOString(), expires_at: record.expiresAt.toISOString(), max_uses: request.uses, ...request.evidence },
  });
  const policy = deps.policy();
  for (const [to, channel] of await noticeRecipients(tx, deps.cipher, account)) {
    events.push(await enqueueMessage(tx, deps, accessPassIssuedNotice(policy.organisationName, channel, to, now, record.validFrom, record.expiresAt), account.id, now, base));
  }
  return { pass, record };
}

/** Methods that count toward the registration minimum: every active one except the pass itself. */
export async function registeredMethodCount(repositories: Pick<Repositories, 'enrollments'>, account: DirectoryAccount): Promise<number> {
  const active = (await repositories.enrollments.listForAccount(account.id)).filter((record) => record.status === 'active' && record.methodId !== 'temporary_access_pass');
  return new Set(active.map((record) => record.methodId)).size;
}

/**
 * Sign-in with a Temporary Access Pass, and the forced registration that follows it. A pass opens
 * a self-service session in which only registering methods is allowed until the account has the
 * tier's minimum (TOK-17: the pass never becomes a long-term credential, and a new hire cannot
 * skip registering).
 */
export class AccessPassService {
  constructor(private readonly deps: AppDeps) {}

  async signIn(input: { username: string; pass: string }, request: RequestContext): Promise<{ sessionToken: string; registration: { required: number; missing: number } }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const { account, decision } = await beginSignIn(deps, policy, input.username, request);
    const tier = account ? resolveTier(policy, account.groups, account.directoryPrivileged) : null;
    const base: AuditBase = { at: now, actor: { kind: account ? 'person' : 'anonymous', id: account?.id ?? null }, subject: account?.id ?? null, ip: request.ip, userAgent: request.userAgent, department: account?.department ?? null, tier, flowId: null };
    const fail = async (reason: string, data: Record<string, string>): Promise<never> => {
      await deps.store.audit.append([{ ...base, type: 'sign_in.failed', outcome: 'failure', reason, data: { credential: 'temporary_access_pass', ...data } }]);
      throw new DomainError(reason === 'rate.limited' ? 'rate.limited' : 'auth.failed');
    };
    if (!decision.allowed) return fail('rate.limited', {});
    const normalised = normalisePass(input.pass);
    // SECURITY: the keyed hash is computed for every request, known account or not, so the reply
    // time does not tell which usernames hold a pass (ENUM-2).
    const keyHash = deps.secrets.mac(PASS_MAC_PURPOSE, normalised ?? input.pass);
    const live = account ? await deps.store.temporaryAccessPasses.findLive(account.id) : null;
    if (!account || !live || normalised === null) return fail('auth.failed', {});
    if (live.expiresAt.getTime() <= now.getTime()) {
      await this.retire(live, account, request, now);
      return fail('auth.failed', { pass: 'expired' });
    }
    if (live.validFrom.getTime() > now.getTime()) return fail('auth.failed', { pass: 'not_yet_valid' });
    const opened = await deps.store.transaction(async (tx) => {
      const used = await tx.temporaryAccessPasses.use(live.enrollmentId, keyHash, now);
      if (!used) return null;
      const token = await openSession(tx, deps, account.id, now, policy);
      const session = await tx.sessions.findByTokenHash(sessionTokenHash(deps.secrets, token));
      if (!session) throw new Error('session vanished after insert');
      await tx.temporaryAccessPasses.attachSession(used.id, session.id);
      if (used.uses >= used.maxUses) await tx.enrollments.delete(used.enrollmentId);
      await tx.audit.append([passUsedEvent(used, 'sign_in', base), { ...base, type: 'sign_in.succeeded', outcome: 'success', reason: null, data: { gates: 'temporary_access_pass' } }]);
      return token;
    });
    if (opened === null) return fail('auth.failed', {});
    const required = tier === 'standard' || tier === 'privileged' ? policy.tiers[tier].minEnrolledMethods : 0;
    const registered = await registeredMethodCount(deps.store, account);
    return { sessionToken: opened, registration: { required, missing: Math.max(0, required - registered) } };
  }

  /**
   * How many more methods the session must register before anything else: 0 unless the session
   * was opened with a pass and the account is below its tier's minimum.
   */
  async missingRegistrations(session: SessionRecord, account: DirectoryAccount): Promise<number> {
    const { deps } = this;
    const opened = await deps.store.temporaryAccessPasses.findBySession(session.id as SessionId);
    if (!opened) return 0;
    const policy = deps.policy();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    if (tier === 'break_glass') return 0;
    return Math.max(0, policy.tiers[tier].minEnrolledMethods - (await registeredMethodCount(deps.store, account)));
  }

  /** Records the refusal of an action a pass session may not take yet, and throws `registration.required`. */
  async refuseUntilRegistered(missing: number, account: DirectoryAccount, action: string, request: RequestContext | null): Promise<never> {
    const { deps } = this;
    const now = deps.clock.now();
    const policy = deps.policy();
    await deps.store.audit.append([
      { at: now, actor: { kind: 'person', id: account.id }, subject: account.id, ip: request?.ip ?? null, userAgent: request?.userAgent ?? null, department: account.department, tier: resolveTier(policy, account.groups, account.directoryPrivileged), flowId: null, type: 'registration.required', outcome: 'failure', reason: 'registration.required', data: { action, missing } },
    ]);
    throw new DomainError('registration.required', `Register ${missing} more recovery ${missing === 1 ? 'method' : 'methods'} before doing anything else.`, { missing });
  }

  /**
   * Takes passes whose lifetime ran out out of the live set and records `tap.expired` once for
   * each (the flow sweeper calls it; a sign-in with an expired pass does it for that pass at once).
   */
  async sweepExpired(limit = 100): Promise<number> {
    const { deps } = this;
    const now = deps.clock.now();
    const retired = await deps.store.temporaryAccessPasses.retireExpired(now, limit);
    for (const pass of retired) {
      const account = await deps.directory.getAccount(pass.accountId);
      await deps.store.transaction(async (tx) => {
        await tx.enrollments.delete(pass.enrollmentId);
        await tx.audit.append([this.expiredEvent(pass, account, { ip: 'system', userAgent: null }, now)]);
      });
    }
    return retired.length;
  }

  private async retire(pass: AccessPassRecord, account: DirectoryAccount, request: RequestContext, now: Date): Promise<void> {
    const retired = await this.deps.store.temporaryAccessPasses.retireExpired(now, 100);
    for (const each of retired) {
      await this.deps.store.transaction(async (tx) => {
        await tx.enrollments.delete(each.enrollmentId);
        await tx.audit.append([this.expiredEvent(each, each.id === pass.id ? account : null, request, now)]);
      });
    }
  }

  private expiredEvent(pass: AccessPassRecord, account: DirectoryAccount | null, request: RequestContext, now: Date): AuditEventInput {
    const policy = this.deps.policy();
    return {
      at: now,
      actor: { kind: 'system', id: 'access-pass-sweeper' },
      subject: pass.accountId,
      ip: request.ip,
      userAgent: request.userAgent,
      department: account?.department ?? null,
      tier: account ? resolveTier(policy, account.groups, account.directoryPrivileged) : null,
      flowId: null,
      type: 'tap.expired',
      outcome: 'info',
      reason: null,
      data: { pass_id: pass.id, kind: pass.kind, uses: pass.uses, max_uses: pass.maxUses, expired_at: pass.expiresAt.toISOString() },
    };
  }
}
