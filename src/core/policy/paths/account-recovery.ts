import type { Tier } from '../../account/account.ts';
import type { MethodId } from '../../methods/method-ids.ts';
import type { EnrollmentRecord } from '../../ports/store.ts';
import { gateEligibility } from '../../flows/recovery/gate-eligibility.ts';
import { METHOD_GATE_FACTS } from '../gates.ts';
import type { Policy } from '../schema.ts';
import { resolveTier } from '../tier.ts';
import type { PolicyPaths } from './recovery-paths.ts';

/**
 * What recovery analysis knows about one account: the directory facts that pick its tier and its
 * registered methods. Gathered by the caller (directory and store), so the analysis stays pure.
 */
export interface AccountFacts {
  readonly accountId: string;
  readonly username: string;
  readonly department: string | null;
  readonly groups: readonly string[];
  readonly directoryPrivileged: boolean;
  readonly enabled: boolean;
  readonly enrollments: readonly EnrollmentRecord[];
}

/** Whether an account could complete a reset or unlock under a policy, and if not, why. */
export interface AccountRecovery {
  readonly tier: Tier;
  readonly recoverable: boolean;
  /** Methods of the account that may serve as a gate now (gate-eligibility rules applied). */
  readonly usableMethods: readonly MethodId[];
  /** The first path (strongest first) the account could take; null when none. */
  readonly path: readonly MethodId[] | null;
  /** Why not, for an operator; null when recoverable. */
  readonly why: string | null;
}

/** Cooling-off ends on its own within days, so a simulation ignores it; a lapsed re-confirmation does not, so it counts. */
const NONE: ReadonlySet<string> = new Set();

/**
 * Judges one account under one policy with the same rules the flow uses: the tier from its groups
 * (resolveTier), its methods filtered by gateEligibility, and the tier's paths from recoveryPaths.
 * An account is recoverable when some path needs only methods it has.
 */
export function accountRecovery(account: AccountFacts, policy: Policy, paths: PolicyPaths, now: Date): AccountRecovery {
  const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
  const usable = new Set<MethodId>();
  for (const enrollment of account.enrollments) {
    if (gateEligibility(enrollment, { now, policy, tier, usedEnrollmentIds: NONE, lifecycle: { purpose: 'reset', coolingOffEnrollmentIds: NONE } }).usable) usable.add(enrollment.methodId);
  }
  const usableMethods = [...usable];
  const tierPaths = paths.tiers.find((entry) => entry.tier === tier);
  const notRecoverable = (why: string): AccountRecovery => ({ tier, recoverable: false, usableMethods, path: null, why });
  if (!account.enabled) return notRecoverable('the account is disabled in the directory');
  if (tierPaths === undefined || !tierPaths.selfService) return notRecoverable(`the ${tier} tier has no self-service`);
  const path = tierPaths.paths.find((candidate) => candidate.methods.every((method) => usable.has(method)));
  if (path !== undefined) return { tier, recoverable: true, usableMethods, path: path.methods, why: null };
  const allowed = usableMethods.filter((method) => tierPaths.allowedMethods.includes(method));
  const active = account.enrollments.filter((enrollment) => enrollment.status === 'active').length;
  const has = usableMethods.length > 0 ? `active ${usableMethods.join(', ')}` : active > 0 ? `no method usable now (${active} registered, cooling off or re-confirmation lapsed)` : 'no active method';
  const counted = allowed.length === usableMethods.length ? '' : ` (${allowed.length === 0 ? 'none' : allowed.join(', ')} allowed for ${tier})`;
  const channels = new Set(allowed.map((method) => METHOD_GATE_FACTS[method].channel)).size;
  const needs =
    channels < tierPaths.gatesRequired
      ? `${tier} needs ${tierPaths.gatesRequired} gates over independent channels`
      : `${tier} needs one gate of class ${tierPaths.requireOneOf.join(' or ')}`;
  return notRecoverable(`${has}${counted}; ${needs}`);
}
