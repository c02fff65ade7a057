import type { Tier } from '../account/account.ts';
import type { Policy } from '../policy/schema.ts';
import type { EnrollmentRecord } from '../ports/store.ts';

/*
 * The pure rules of a method's life after registration: when a changed method starts to count
 * (cooling-off), when it must be re-confirmed and when an unconfirmed one stops counting, and
 * whether a change falls in the suspect window after a recovery. No I/O: callers gather the facts.
 */

const DAY_MS = 86_400_000;

/** Cooling-off length for a tier; break-glass accounts never self-serve but are held to the stricter figure. */
export function coolingOffSeconds(policy: Policy, tier: Tier): number {
  return tier === 'standard' ? policy.lifecycle.coolingOffSeconds.standard : policy.lifecycle.coolingOffSeconds.privileged;
}

/**
 * Whether activating a method now is a *change* that must cool off. A session opened with the
 * password alone exists only while an account has no active method; what it registers is the first
 * set of methods, and there is no earlier channel the cooling-off would protect. Anything registered
 * while some method was already active before the session was proven (the session used it, or
 * could have) is a change.
 *
 * SECURITY: this stops the takeover "sign in with a stolen password and one intercepted code, add my
 * own phone, reset with it at once": the new phone counts for nothing until the real owner, told on
 * every earlier channel, has had the policy's time to follow "this wasn't me".
 */
export function activationCoolsOff(otherEnrollments: readonly EnrollmentRecord[], sessionAuthenticatedAt: Date): boolean {
  // A Temporary Access Pass is the helpdesk's way in for someone with no usable method (a new hire,
  // a lost phone), not a channel the person keeps, so on its own it does not make a registration a change.
  return otherEnrollments.some(
    (enrollment) => enrollment.methodId !== 'temporary_access_pass' && enrollment.status === 'active' && enrollment.verifiedAt !== null && enrollment.verifiedAt.getTime() < sessionAuthenticatedAt.getTime(),
  );
}

/** When an active method may serve as a gate: its activation, plus the cooling-off when its activation was a change. */
export function usableFrom(enrollment: EnrollmentRecord, coolsOff: boolean, policy: Policy, tier: Tier): Date | null {
  if (enrollment.status !== 'active') return null;
  const activatedAt = enrollment.verifiedAt ?? enrollment.createdAt;
  return coolsOff ? new Date(activatedAt.getTime() + coolingOffSeconds(policy, tier) * 1000) : activatedAt;
}

/** The last time the person proved they still hold the method: its verification or its last successful use. */
export function lastConfirmedAt(enrollment: EnrollmentRecord): Date {
  const times = [enrollment.verifiedAt, enrollment.lastUsedAt].filter((time): time is Date => time !== null).map((time) => time.getTime());
  return times.length > 0 ? new Date(Math.max(...times)) : enrollment.createdAt;
}

export type ReconfirmationStatus = 'current' | 'due' | 'lapsed';

export interface Reconfirmation {
  readonly status: ReconfirmationStatus;
  /** From here on the person is asked to confirm or replace the method. */
  readonly dueAt: Date;
  /** From here on the method no longer counts as a recovery gate until it is confirmed. */
  readonly lapsesAt: Date;
}

/** Where an active method stands on re-confirmation; null for a pending one (it is confirmed by its first verification). */
export function reconfirmation(enrollment: EnrollmentRecord, policy: Policy, now: Date): Reconfirmation | null {
  if (enrollment.status !== 'active') return null;
  const { intervalDays, graceDays } = policy.lifecycle.reconfirmation;
  const dueAt = new Date(lastConfirmedAt(enrollment).getTime() + intervalDays * DAY_MS);
  const lapsesAt = new Date(dueAt.getTime() + graceDays * DAY_MS);
  const at = now.getTime();
  const status: ReconfirmationStatus = at >= lapsesAt.getTime() ? 'lapsed' : at >= dueAt.getTime() ? 'due' : 'current';
  return { status, dueAt, lapsesAt };
}

/** One method the person is asked to confirm or replace: the self-service API's `reconfirmation.due` items. */
export interface ReconfirmationDue {
  readonly id: string;
  readonly method: EnrollmentRecord['methodId'];
  readonly label: string;
  /** `due`: still counts; `lapsed`: no longer counts as a recovery gate until confirmed. */
  readonly status: 'due' | 'lapsed';
  readonly dueAt: string;
  /** When it stops counting (or stopped, when lapsed). */
  readonly countsUntil: string;
}

/** The active methods due for re-confirmation, for the prompt after sign-in. */
export function reconfirmationDue(enrollments: readonly EnrollmentRecord[], policy: Policy, now: Date): ReconfirmationDue[] {
  const due: ReconfirmationDue[] = [];
  for (const enrollment of enrollments) {
    const state = reconfirmation(enrollment, policy, now);
    if (!state || state.status === 'current') continue;
    due.push({ id: enrollment.id, method: enrollment.methodId, label: enrollment.label, status: state.status, dueAt: state.dueAt.toISOString(), countsUntil: state.lapsesAt.toISOString() });
  }
  return due;
}

/** Whether a method change at `now` falls within the policy's suspect window after the account's last reset or unlock. */
export function withinAfterRecoveryWindow(lastRecoveryAt: Date | null, now: Date, policy: Policy): boolean {
  return lastRecoveryAt !== null && now.getTime() - lastRecoveryAt.getTime() < policy.lifecycle.afterRecoverySeconds * 1000;
}
