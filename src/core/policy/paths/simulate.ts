import type { Tier } from '../../account/account.ts';
import { TIERS } from '../../account/account.ts';
import type { MethodId } from '../../methods/method-ids.ts';
import type { Policy } from '../schema.ts';
import { accountRecovery, type AccountFacts } from './account-recovery.ts';
import { pathKey, recoveryPaths, type PolicyPaths } from './recovery-paths.ts';

/** How many accounts of a group (a tier or a department) could recover before and after the change. */
export interface RecoveryCount {
  readonly key: string;
  readonly accounts: number;
  readonly recoverableBefore: number;
  readonly recoverableAfter: number;
}

export interface SimulatedAccount {
  readonly username: string;
  readonly department: string | null;
  readonly tierBefore: Tier;
  readonly tier: Tier;
  /** Why the account cannot recover under the proposed policy (null in `regained`). */
  readonly why: string | null;
}

export interface PathChange {
  readonly tier: Tier;
  readonly methods: readonly MethodId[];
}

/** The what-if answer for a proposed policy against the registered methods of today. */
export interface PolicySimulation {
  readonly accounts: number;
  readonly recoverableBefore: number;
  readonly recoverableAfter: number;
  /** Under the proposed policy, by tier (after the change) and by department. */
  readonly byTier: readonly RecoveryCount[];
  readonly byDepartment: readonly RecoveryCount[];
  /** Could recover under the current policy and could not under the proposed one: the people this change locks out. */
  readonly stranded: readonly SimulatedAccount[];
  /** Could not recover under either policy (no methods yet, disabled, no self-service): listed so nobody is surprised. */
  readonly stillUnrecoverable: readonly SimulatedAccount[];
  /** Could not recover before, can after. */
  readonly regained: readonly SimulatedAccount[];
  readonly pathsAdded: readonly PathChange[];
  readonly pathsRemoved: readonly PathChange[];
}

const NO_DEPARTMENT = '(none)';

/**
 * Evaluates a proposed policy against the accounts and their registered methods before it is
 * applied: who could still recover, who could not, and which paths appear or disappear. Both
 * policies are judged by the same pure functions the flow uses, so a stranded account here is one
 * the engine would refuse.
 */
export function simulatePolicy(current: Policy, proposed: Policy, accounts: readonly AccountFacts[], now: Date): PolicySimulation {
  const currentPaths = recoveryPaths(current);
  const proposedPaths = recoveryPaths(proposed);
  const byTier = new Map<string, Mutable>();
  const byDepartment = new Map<string, Mutable>();
  const stranded: SimulatedAccount[] = [];
  const stillUnrecoverable: SimulatedAccount[] = [];
  const regained: SimulatedAccount[] = [];
  let recoverableBefore = 0;
  let recoverableAfter = 0;
  for (const tier of TIERS) byTier.set(tier, { key: tier, accounts: 0, recoverableBefore: 0, recoverableAfter: 0 });

  for (const account of accounts) {
    const before = accountRecovery(account, current, currentPaths, now);
    const after = accountRecovery(account, proposed, proposedPaths, now);
    const department = account.department ?? NO_DEPARTMENT;
    for (const counter of [counterFor(byTier, after.tier), counterFor(byDepartment, department)]) {
      counter.accounts += 1;
      if (before.recoverable) counter.recoverableBefore += 1;
      if (after.recoverable) counter.recoverableAfter += 1;
    }
    if (before.recoverable) recoverableBefore += 1;
    if (after.recoverable) recoverableAfter += 1;
    const entry: SimulatedAccount = { username: account.username, department: account.department, tierBefore: before.tier, tier: after.tier, why: after.why };
    if (before.recoverable && !after.recoverable) stranded.push(entry);
    else if (!before.recoverable && !after.recoverable) stillUnrecoverable.push(entry);
    else if (!before.recoverable && after.recoverable) regained.push(entry);
  }
  const byName = (a: SimulatedAccount, b: SimulatedAccount): number => a.username.localeCompare(b.username);
  return {
    accounts: accounts.length,
    recoverableBefore,
    recoverableAfter,
    byTier: [...byTier.values()],
    byDepartment: [...byDepartment.values()].sort((a, b) => a.key.localeCompare(b.key)),
    stranded: stranded.sort(byName),
    stillUnrecoverable: stillUnrecoverable.sort(byName),
    regained: regained.sort(byName),
    pathsAdded: pathDifference(proposedPaths, currentPaths),
    pathsRemoved: pathDifference(currentPaths, proposedPaths),
  };
}

type Mutable = { -readonly [K in keyof RecoveryCount]: RecoveryCount[K] };

function counterFor(map: Map<string, Mutable>, key: string): Mutable {
  const existing = map.get(key);
  if (existing !== undefined) return existing;
  const created: Mutable = { key, accounts: 0, recoverableBefore: 0, recoverableAfter: 0 };
  map.set(key, created);
  return created;
}

/** Paths of `a` that `b` lacks. */
function pathDifference(a: PolicyPaths, b: PolicyPaths): PathChange[] {
  const known = new Set(b.tiers.flatMap((tier) => tier.paths.map(pathKey)));
  return a.tiers.flatMap((tier) => tier.paths.filter((path) => !known.has(pathKey(path))).map((path) => ({ tier: path.tier, methods: path.methods })));
}

/** The text `latchkey policy simulate` prints. */
export function formatSimulation(simulation: PolicySimulation): string {
  const lines: string[] = [];
  lines.push(`accounts: ${simulation.accounts}; could recover now: ${simulation.recoverableBefore}; under the proposed policy: ${simulation.recoverableAfter}`);
  const table = (title: string, rows: readonly RecoveryCount[]): void => {
    lines.push(`${title}:`);
    for (const row of rows) if (row.accounts > 0) lines.push(`  ${row.key}: ${row.recoverableAfter} of ${row.accounts} could recover (now ${row.recoverableBefore})`);
  };
  table('by tier', simulation.byTier);
  table('by department', simulation.byDepartment);
  const list = (title: string, rows: readonly SimulatedAccount[]): void => {
    lines.push(`${title}: ${rows.length}`);
    for (const row of rows) {
      const tier = row.tierBefore === row.tier ? row.tier : `${row.tierBefore} -> ${row.tier}`;
      lines.push(`  ${row.username}\t${tier}\t${row.department ?? NO_DEPARTMENT}${row.why === null ? '' : `\t${row.why}`}`);
    }
  };
  list('stranded by this change', simulation.stranded);
  list('cannot recover either way', simulation.stillUnrecoverable);
  list('could recover only after this change', simulation.regained);
  lines.push(`paths added: ${simulation.pathsAdded.length}`);
  for (const path of simulation.pathsAdded) lines.push(`  + ${pathKey(path)}`);
  lines.push(`paths removed: ${simulation.pathsRemoved.length}`);
  for (const path of simulation.pathsRemoved) lines.push(`  - ${pathKey(path)}`);
  return lines.join('\n');
}
