import type { Tier } from '../../account/account.ts';
import type { Policy } from '../../policy/schema.ts';
import type { EnrollmentRecord } from '../../ports/store.ts';
import type { SimSwapVerdict } from '../../phone/sim-swap-guard.ts';
import { reconfirmation, usableFrom } from '../../lifecycle/rules.ts';

/** What an eligibility rule may consult: all of it known before any I/O for the gate starts. */
export interface GateEligibilityContext {
  readonly now: Date;
  readonly policy: Policy;
  readonly tier: Tier;
  /** Enrollments already used for a passed gate in this flow. */
  readonly usedEnrollmentIds: ReadonlySet<string>;
  /** Phones the operator's SIM swap check took out (looked up before the rules run); unset means no check ran. */
  readonly simSwap?: ReadonlyMap<string, SimSwapVerdict>;
  /** Method-lifecycle facts (core/lifecycle): looked up before the rules run; unset means none are known. */
  readonly lifecycle?: LifecycleGateFacts;
  /** The account's live Temporary Access Pass by its enrollment id (looked up before the rules run); unset means none. */
  readonly livePasses?: ReadonlyMap<string, { readonly validFrom: Date; readonly expiresAt: Date }>;
}

/**
 * SECURITY: a pass enrollment only stands for its pass row; it is a gate only while that pass is
 * live (not revoked or used up) and inside its validity window, so a day-one pass does nothing
 * before the start date and an expired one nothing after.
 */
export function accessPassEligibility(enrollment: EnrollmentRecord, context: GateEligibilityContext): GateEligibility {
  if (enrollment.methodId !== 'temporary_access_pass') return { usable: true };
  const pass = context.livePasses?.get(enrollment.id);
  if (!pass) return { usable: false, reason: 'tap.not_live' };
  if (pass.validFrom.getTime() > context.now.getTime()) return { usable: false, reason: 'tap.not_yet_valid' };
  if (pass.expiresAt.getTime() <= context.now.getTime()) return { usable: false, reason: 'tap.expired' };
  return { usable: true };
}

export interface LifecycleGateFacts {
  /** What the flow is for: re-confirmation is not asked of a sign-in gate, whose success itself confirms the method. */
  readonly purpose: 'reset' | 'unlock' | 'sign_in';
  /** Enrollments whose activation was a change of methods, so they cool off (MethodChangeRepository.coolingOffEnrollmentIds). */
  readonly coolingOffEnrollmentIds: ReadonlySet<string>;
}

/**
 * SECURITY: a method added or changed within the policy's cooling-off serves as no gate, so a
 * takeover that swaps in the attacker's phone cannot use it before the owner, told on every earlier
 * channel, can dispute the change. A method not confirmed within the re-confirmation interval plus
 * grace no longer counts for a reset or unlock: it may no longer reach its owner (a recycled number).
 */
export function lifecycleEligibility(enrollment: EnrollmentRecord, context: GateEligibilityContext): GateEligibility {
  const facts = context.lifecycle;
  if (!facts) return { usable: true };
  const from = usableFrom(enrollment, facts.coolingOffEnrollmentIds.has(enrollment.id), context.policy, context.tier);
  if (from !== null && context.now.getTime() < from.getTime()) return { usable: false, reason: 'enrollment.cooling_off' };
  if (facts.purpose !== 'sign_in' && reconfirmation(enrollment, context.policy, context.now)?.status === 'lapsed') return { usable: false, reason: 'enrollment.reconfirmation_lapsed' };
  return { usable: true };
}

/**
 * SECURITY: a phone whose SIM changed within the policy window is probably in an attacker's hands
 * (SIM-swap takeover), so it is no gate; nor is one the check could not vouch for under
 * `simSwap.onUnavailable: refuse`, or a slow gateway would be a way around the rule.
 */
export function simSwapEligibility(enrollment: EnrollmentRecord, context: GateEligibilityContext): GateEligibility {
  const verdict = context.simSwap?.get(enrollment.id);
  if (verdict === 'swapped') return { usable: false, reason: 'sim_swap.recent' };
  if (verdict === 'unavailable') return { usable: false, reason: 'sim_swap.unavailable' };
  return { usable: true };
}

export type GateEligibility = { readonly usable: true } | { readonly usable: false; readonly reason: string };

/**
 * Whether a registered method may serve as a recovery gate right now. Every rule that takes a
 * method out of recovery lives here, so the flow and any report of "which methods count" agree.
 * `reason` goes to the audit trail only: the person is never told which of their methods was
 * skipped or why, since that would describe the account to whoever holds the flow.
 */
export function gateEligibility(enrollment: EnrollmentRecord, context: GateEligibilityContext): GateEligibility {
  if (enrollment.status !== 'active') return { usable: false, reason: 'enrollment.not_active' };
  if (context.usedEnrollmentIds.has(enrollment.id)) return { usable: false, reason: 'enrollment.already_used' };
  const simSwap = simSwapEligibility(enrollment, context);
  if (!simSwap.usable) return simSwap;
  const lifecycle = lifecycleEligibility(enrollment, context);
  if (!lifecycle.usable) return lifecycle;
  const accessPass = accessPassEligibility(enrollment, context);
  if (!accessPass.usable) return accessPass;
  return { usable: true };
}
