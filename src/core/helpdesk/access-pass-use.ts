import type { AccountId, EnrollmentId } from '../account/ids.ts';
import type { AuditEventInput } from '../audit/events.ts';
import type { AccessPassRecord, Repositories } from '../ports/store.ts';

type AuditBase = Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>;

/** The facts gate eligibility needs about the account's live pass (see accessPassEligibility). */
export async function livePassFacts(repositories: Pick<Repositories, 'temporaryAccessPasses'>, accountId: AccountId): Promise<ReadonlyMap<string, { validFrom: Date; expiresAt: Date }>> {
  const live = await repositories.temporaryAccessPasses.findLive(accountId);
  return new Map(live ? [[live.enrollmentId, { validFrom: live.validFrom, expiresAt: live.expiresAt }]] : []);
}

/** The `tap.used` event of one counted use. */
export function passUsedEvent(pass: AccessPassRecord, purpose: 'sign_in' | 'recovery_gate', base: AuditBase): AuditEventInput {
  return { ...base, type: 'tap.used', outcome: 'success', reason: null, data: { pass_id: pass.id, kind: pass.kind, purpose, uses: pass.uses, max_uses: pass.maxUses } };
}

/**
 * Counts one use of a pass inside the caller's transaction and records `tap.used`. A pass whose
 * last use this was loses its enrollment, so it is no longer offered or listed. False when the pass
 * is not live, not yet valid, expired, used up, or the hash does not match: the use did not count.
 */
export async function usePassAsGate(tx: Repositories, enrollmentId: EnrollmentId, keyHash: string, now: Date, base: AuditBase): Promise<boolean> {
  const used = await tx.temporaryAccessPasses.use(enrollmentId, keyHash, now);
  if (!used) return false;
  if (used.uses >= used.maxUses) await tx.enrollments.delete(enrollmentId);
  await tx.audit.append([passUsedEvent(used, 'recovery_gate', base)]);
  return true;
}
