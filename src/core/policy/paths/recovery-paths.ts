import type { Tier } from '../../account/account.ts';
import { TIERS } from '../../account/account.ts';
import type { ChannelKind, MethodId, StrengthClass } from '../../methods/method-ids.ts';
import { METHOD_IDS, STRENGTH_CLASSES } from '../../methods/method-ids.ts';
import { canAddGate, evaluateGates, METHOD_GATE_FACTS, type GateFact } from '../gates.ts';
import type { Policy, TierPolicy } from '../schema.ts';
import { privilegedLoosenings } from '../privileged.ts';

/*
 * Every way a reset or unlock can complete under a policy, derived by driving the engine's own gate
 * rules (canAddGate, evaluateGates) over every method: the listing cannot drift from enforcement,
 * because it is enforcement, asked in advance.
 */

export type FindingSeverity = 'info' | 'warning' | 'high';

/** A stable code and a sentence an operator can act on; codes are documented in docs/policy-paths.md. */
export interface PolicyFinding {
  readonly code: PolicyFindingCode;
  readonly severity: FindingSeverity;
  readonly message: string;
}

export const POLICY_FINDING_CODES = [
  'path.same_device',
  'path.weak_only',
  'path.privileged_not_phishing_resistant',
  'path.method_not_approved',
  'path.helpdesk_issued',
  'helpdesk.out_of_band_verification',
  'tier.method_not_approved',
  'tier.no_self_service',
  'tier.loosening_acknowledged',
] as const;
export type PolicyFindingCode = (typeof POLICY_FINDING_CODES)[number];

/** One combination of methods that completes a reset or an unlock for a tier. */
export interface RecoveryPath {
  readonly tier: Tier;
  /** Sorted strongest first, then in catalogue order: a combination, not an order. */
  readonly methods: readonly MethodId[];
  /** Every order in which the engine lets the gates be taken (canAddGate refuses the others). */
  readonly orders: readonly (readonly MethodId[])[];
  readonly weakest: StrengthClass;
  readonly strongest: StrengthClass;
  readonly findings: readonly PolicyFinding[];
}

/**
 * The assisted path: the helpdesk (a security admin, for privileged accounts) verifies the person
 * in one of the policy's ways and issues a Temporary Access Pass. The pass signs in to the portal to
 * register new methods, and is a recovery gate itself where the tier allows `temporary_access_pass`.
 */
export interface HelpdeskPath {
  readonly issuer: 'helpdesk' | 'security_admin';
  readonly verification: readonly string[];
  readonly passIsRecoveryGate: boolean;
  readonly findings: readonly PolicyFinding[];
}

export interface TierPaths {
  readonly tier: Tier;
  readonly selfService: boolean;
  readonly gatesRequired: number;
  readonly requireOneOf: readonly StrengthClass[];
  readonly allowedMethods: readonly MethodId[];
  readonly paths: readonly RecoveryPath[];
  /** null for break-glass accounts: no pass is ever issued for them. */
  readonly helpdesk: HelpdeskPath | null;
  readonly findings: readonly PolicyFinding[];
}

export interface PolicyPaths {
  readonly tiers: readonly TierPaths[];
  /** Every finding, tier-level and path-level, in tier order. */
  readonly findingCount: number;
}

/**
 * What a channel's proof physically arrives on, as far as policy alone can tell. An SMS code and an
 * authenticator app are different channels but usually one handset: stealing or cloning that phone
 * passes both gates. Nothing in the policy can tell whether a person's app lives on the phone whose
 * number they registered, so two channels of the `phone` class are a finding on every path that
 * combines them; a mailbox read on the same phone is not flagged (email is reachable from anywhere).
 */
export const DEVICE_CLASS_BY_CHANNEL: Readonly<Partial<Record<ChannelKind, string>>> = {
  phone: 'phone',
  authenticator_app: 'phone',
  email: 'mailbox',
  printed_codes: 'paper',
  security_key: 'security_key',
  knowledge: 'memory',
};

const strengthRank = (strength: StrengthClass): number => STRENGTH_CLASSES.indexOf(strength);
const methodOrder = (a: MethodId, b: MethodId): number =>
  strengthRank(METHOD_GATE_FACTS[a].strength) - strengthRank(METHOD_GATE_FACTS[b].strength) || METHOD_IDS.indexOf(a) - METHOD_IDS.indexOf(b);

/** The strength classes of a tier: the break-glass tier carries only `selfService: false`. */
function tierRules(policy: Policy, tier: Tier): TierPolicy | null {
  return tier === 'break_glass' ? null : policy.tiers[tier];
}

/**
 * Every order of gates the engine accepts that ends with the tier satisfied. Depth is bounded by
 * the gate count: canAddGate refuses every candidate once the tier is satisfied.
 */
function gateSequences(rules: TierPolicy): MethodId[][] {
  const facts: GateFact[] = METHOD_IDS.map((id) => METHOD_GATE_FACTS[id]);
  const sequences: MethodId[][] = [];
  const walk = (taken: readonly GateFact[]): void => {
    if (evaluateGates(rules, taken).satisfied) {
      sequences.push(taken.map((gate) => gate.methodId));
      return;
    }
    for (const candidate of facts) if (canAddGate(rules, taken, candidate).ok) walk([...taken, candidate]);
  };
  walk([]);
  return sequences;
}

function pathFindings(policy: Policy, tier: Tier, methods: readonly MethodId[]): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  const facts = methods.map((id) => METHOD_GATE_FACTS[id]);
  const phoneGates = facts.filter((fact) => DEVICE_CLASS_BY_CHANNEL[fact.channel] === 'phone').map((fact) => fact.methodId);
  if (phoneGates.length >= 2) {
    findings.push({ code: 'path.same_device', severity: 'warning', message: `${phoneGates.join(' and ')} may reach the same phone: one stolen or cloned handset could pass both gates` });
  }
  if (facts.every((fact) => strengthRank(fact.strength) >= strengthRank('possession_weak'))) {
    findings.push({ code: 'path.weak_only', severity: 'high', message: `every gate is phishable or interceptable (${methods.join(' + ')}): a mailbox compromise plus a SIM swap completes it` });
  }
  if (tier === 'privileged' && !facts.some((fact) => fact.strength === 'phishing_resistant')) {
    findings.push({ code: 'path.privileged_not_phishing_resistant', severity: 'warning', message: `privileged path without a phishing-resistant gate (${methods.join(' + ')})` });
  }
  if (methods.includes('temporary_access_pass')) {
    findings.push({ code: 'path.helpdesk_issued', severity: 'info', message: 'runs through the helpdesk: the temporary access pass is issued by a person after verifying the caller' });
  }
  const unapproved = methods.filter((id) => !policy.governance.approvedMethods.includes(id));
  if (unapproved.length > 0) {
    findings.push({ code: 'path.method_not_approved', severity: 'high', message: `uses ${unapproved.join(', ')}, which governance.approvedMethods does not list` });
  }
  return findings;
}

function helpdeskPath(policy: Policy, tier: Tier, rules: TierPolicy | null): HelpdeskPath | null {
  if (tier === 'break_glass') return null;
  const verification = policy.temporaryAccessPass.helpdesk.verification[tier];
  const findings: PolicyFinding[] = [];
  if (verification.includes('out_of_band')) {
    findings.push({
      code: 'helpdesk.out_of_band_verification',
      severity: tier === 'privileged' ? 'high' : 'warning',
      message: `a pass may be issued after an out-of-band check the agent only records (temporaryAccessPass.helpdesk.verification.${tier}): a persuasive caller is the whole proof (PRIV-10)`,
    });
  }
  return { issuer: tier === 'privileged' ? 'security_admin' : 'helpdesk', verification, passIsRecoveryGate: rules?.allowedMethods.includes('temporary_access_pass') ?? false, findings };
}

function tierFindings(policy: Policy, tier: Tier, rules: TierPolicy | null, pathCount: number): PolicyFinding[] {
  if (rules === null || !rules.selfService) {
    return [{ code: 'tier.no_self_service', severity: 'info', message: `no self-service path: ${tier} accounts recover only through ${tier === 'break_glass' ? 'their custody procedure' : 'the helpdesk'}` }];
  }
  const findings: PolicyFinding[] = [];
  const unapproved = rules.allowedMethods.filter((id) => !policy.governance.approvedMethods.includes(id));
  for (const id of unapproved) {
    findings.push({ code: 'tier.method_not_approved', severity: 'high', message: `method enabled but not approved: tiers.${tier}.allowedMethods lists ${id}, governance.approvedMethods does not` });
  }
  if (pathCount === 0) {
    findings.push({ code: 'tier.no_self_service', severity: 'info', message: `self-service is on but no combination of allowed methods satisfies the gate rules` });
  }
  return findings;
}

/**
 * Every combination of methods that completes a reset or unlock, per tier, with its strength and
 * findings, plus findings about each tier as a whole. Reset and unlock pass the same gates, so one
 * listing serves both. Loosenings of the privileged baseline (privilegedLoosenings) are findings of
 * the privileged tier, acknowledged or not, so an accepted loosening stays visible.
 */
export function recoveryPaths(policy: Policy): PolicyPaths {
  const loosenings: PolicyFinding[] = privilegedLoosenings(policy).map((loosening) => ({
    code: 'tier.loosening_acknowledged',
    severity: loosening.severity,
    message:
      loosening.acknowledged === null
        ? `${loosening.message} (not acknowledged)`
        : `${loosening.message}; acknowledged by ${loosening.acknowledged.by} on ${loosening.acknowledged.at}: ${loosening.acknowledged.reason}`,
  }));
  const tiers = TIERS.map((tier): TierPaths => {
    const rules = tierRules(policy, tier);
    const byCombination = new Map<string, { methods: MethodId[]; orders: MethodId[][] }>();
    for (const sequence of rules === null ? [] : gateSequences(rules)) {
      const methods = [...sequence].sort(methodOrder);
      const key = methods.join('+');
      const entry = byCombination.get(key) ?? { methods, orders: [] };
      entry.orders.push(sequence);
      byCombination.set(key, entry);
    }
    const paths = [...byCombination.values()]
      .sort((a, b) => a.methods.length - b.methods.length || compareMethodLists(a.methods, b.methods))
      .map(({ methods, orders }): RecoveryPath => {
        const ranks = methods.map((id) => strengthRank(METHOD_GATE_FACTS[id].strength));
        return {
          tier,
          methods,
          orders,
          strongest: STRENGTH_CLASSES[Math.min(...ranks)] ?? 'knowledge',
          weakest: STRENGTH_CLASSES[Math.max(...ranks)] ?? 'knowledge',
          findings: pathFindings(policy, tier, methods),
        };
      });
    return {
      tier,
      selfService: rules?.selfService ?? false,
      gatesRequired: rules?.gatesRequired ?? 0,
      requireOneOf: rules?.requireOneOf ?? [],
      allowedMethods: rules?.allowedMethods ?? [],
      paths,
      helpdesk: helpdeskPath(policy, tier, rules),
      findings: [...tierFindings(policy, tier, rules, paths.length), ...(tier === 'privileged' ? loosenings : [])],
    };
  });
  return { tiers, findingCount: tiers.flatMap(tierFindingList).length };
}

function tierFindingList(tier: TierPaths): PolicyFinding[] {
  return [...tier.findings, ...tier.paths.flatMap((path) => path.findings), ...(tier.helpdesk?.findings ?? [])];
}

/** Every finding of a report (tier, path and helpdesk), in report order. */
export function allPathFindings(report: PolicyPaths): PolicyFinding[] {
  return report.tiers.flatMap(tierFindingList);
}

function compareMethodLists(a: readonly MethodId[], b: readonly MethodId[]): number {
  for (let index = 0; index < Math.min(a.length, b.length); index += 1) {
    const order = methodOrder(a[index] ?? 'totp', b[index] ?? 'totp');
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** A path as one line: `standard: totp + email_code [possession..possession_weak]`. */
export function pathKey(path: Pick<RecoveryPath, 'tier' | 'methods'>): string {
  return `${path.tier}: ${path.methods.join(' + ')}`;
}

/** The text `latchkey policy paths` prints: one block per tier, one line per path, findings indented under what they are about. */
export function formatPolicyPaths(report: PolicyPaths): string {
  const lines: string[] = [];
  for (const tier of report.tiers) {
    const rule = tier.selfService ? `${tier.gatesRequired} gates${tier.requireOneOf.length > 0 ? `, one of ${tier.requireOneOf.join('/')}` : ''}; allowed ${tier.allowedMethods.join(', ')}` : 'no self-service';
    lines.push(`${tier.tier} (${rule}): ${tier.paths.length} ${tier.paths.length === 1 ? 'path' : 'paths'}`);
    for (const finding of tier.findings) lines.push(`  ! ${finding.severity} ${finding.code}: ${finding.message}`);
    for (const path of tier.paths) {
      lines.push(`  ${path.methods.join(' + ')}  [weakest ${path.weakest}, strongest ${path.strongest}]`);
      for (const finding of path.findings) lines.push(`    ! ${finding.severity} ${finding.code}: ${finding.message}`);
    }
    if (tier.helpdesk !== null) {
      const use = tier.helpdesk.passIsRecoveryGate ? 'a recovery gate and a portal sign-in' : 'a portal sign-in to register new methods';
      lines.push(`  helpdesk: ${tier.helpdesk.issuer} verifies by ${tier.helpdesk.verification.join(' or ')}, issues a temporary access pass (${use})`);
      for (const finding of tier.helpdesk.findings) lines.push(`    ! ${finding.severity} ${finding.code}: ${finding.message}`);
    }
  }
  lines.push(`${report.findingCount} ${report.findingCount === 1 ? 'finding' : 'findings'}`);
  return lines.join('\n');
}
