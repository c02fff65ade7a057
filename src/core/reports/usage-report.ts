import { TIERS, type DirectoryAccount, type Tier } from '../account/account.ts';
import type { AccountId } from '../account/ids.ts';
import type { AuditEventType } from '../audit/events.ts';
import { METHOD_IDS, STRENGTH_CLASSES, type MethodId, type StrengthClass } from '../methods/method-ids.ts';
import { METHOD_GATE_FACTS, evaluateGates } from '../policy/gates.ts';
import type { Policy, TierPolicy } from '../policy/schema.ts';
import { resolveTier } from '../policy/tier.ts';
import type { ReportEnrollmentRow, ReportFailureGroup, ReportFlowEnding, ReportFlowGroup, ReportGateGroup } from '../ports/store.ts';
import { dayIn, nextDay, type ZonedReportPeriod } from './period.ts';

/*
 * The usage report: pure functions from query rows (store.reports), directory accounts and the
 * policy to the report people read. Definitions, also in docs/reports.md:
 *
 * - A flow is a reset or unlock flow whose recovery.started event falls in the period; it belongs to
 *   the calendar day of that event in the report's time zone (UTC unless asked). Decoys (unknown
 *   identifier, a tier without self-service, a start over the per-identifier limit) are counted
 *   apart and never in a success rate: no person could finish them.
 * - A flow succeeded when the log holds its recovery.completed event, whenever recorded (a flow lives
 *   at most an hour, so a period's figures settle an hour after it ends). Every other flow failed, by
 *   how it ended: expired, superseded, interrupted, or open (abandoned, or still running).
 * - Success rate = completed / started, rounded to 4 places; null when nothing started.
 */

const DAY_MS = 86_400_000;
export const RECOVERY_PURPOSES = ['reset', 'unlock'] as const;
export type ReportPurpose = (typeof RECOVERY_PURPOSES)[number];
type FailedEnding = Exclude<ReportFlowEnding, 'completed'>;

/** Settings of the report that are not the period: from configuration, the stale threshold also per request. */
export interface UsageReportSettings {
  /** An active enrollment not used (nor verified, nor created) for this many days is stale. */
  readonly staleAfterDays: number;
  /** Share of completed self-service resets and unlocks that would otherwise have been a helpdesk call (0–1). */
  readonly deflectionShare: number;
  readonly minutesPerCall: number;
  readonly costPerCall: number;
  readonly currency: string;
}

/** Everything the report is computed from; gathered by ReportService, then turned into numbers here without I/O. */
export interface UsageReportInput {
  readonly period: ZonedReportPeriod;
  readonly generatedAt: Date;
  readonly settings: UsageReportSettings;
  readonly policy: Policy;
  readonly flows: readonly ReportFlowGroup[];
  readonly completedGates: readonly ReportGateGroup[];
  readonly failures: readonly ReportFailureGroup[];
  readonly adminAssisted: { readonly resets: number; readonly unlocks: number };
  readonly passesIssued: { readonly helpdesk: number; readonly dayOne: number };
  readonly accounts: readonly Pick<DirectoryAccount, 'id' | 'department' | 'groups' | 'enabled'>[];
  readonly enrollments: readonly ReportEnrollmentRow[];
  /** What the directory could not tell (no list_accounts capability), or other caveats the caller found. */
  readonly notes: readonly string[];
}

export interface FlowCounts {
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  readonly successRate: number | null;
}

export interface PurposeTotals extends FlowCounts {
  /** How the failed flows ended; they add up to `failed`. */
  readonly failedBy: Readonly<Record<FailedEnding, number>>;
  readonly decoyStarts: number;
}

export interface CoverageCounts {
  /** Enabled accounts of tiers that have self-service. */
  readonly eligible: number;
  /** Of those, accounts whose active methods could satisfy their tier's gates (count, independent channels, requireOneOf). */
  readonly covered: number;
  readonly coverage: number | null;
}

export interface UsageReport {
  readonly report: 'usage';
  readonly period: { readonly from: string; readonly to: string; readonly timeZone: string; readonly days: number };
  readonly generatedAt: string;
  readonly totals: Readonly<Record<ReportPurpose, PurposeTotals>>;
  readonly daily: readonly ({ readonly day: string; readonly decoyStarts: number } & Readonly<Record<ReportPurpose, FlowCounts>>)[];
  readonly byTier: readonly ({ readonly tier: Tier } & Readonly<Record<ReportPurpose, FlowCounts>>)[];
  readonly byDepartment: readonly ({ readonly department: string | null } & Readonly<Record<ReportPurpose, FlowCounts>>)[];
  /** Completed flows in which the method passed a gate. */
  readonly byMethod: readonly { readonly method: MethodId; readonly strength: StrengthClass; readonly reset: number; readonly unlock: number }[];
  readonly failures: readonly { readonly type: AuditEventType; readonly reason: string | null; readonly detail: string | null; readonly count: number }[];
  readonly coverage: CoverageCounts & {
    readonly asOf: string;
    readonly enabledAccounts: number;
    readonly disabledAccounts: number;
    /** Enabled accounts of tiers without self-service (break-glass, or a tier the policy closes): no method makes them covered. */
    readonly withoutSelfService: number;
    readonly byTier: readonly ({ readonly tier: Tier; readonly selfService: boolean } & CoverageCounts)[];
    readonly byDepartment: readonly ({ readonly department: string | null } & CoverageCounts)[];
  };
  readonly strengthMix: {
    readonly asOf: string;
    readonly activeEnrollments: number;
    readonly byMethod: readonly { readonly method: MethodId; readonly strength: StrengthClass; readonly active: number; readonly share: number | null }[];
    readonly byStrength: readonly { readonly strength: StrengthClass; readonly active: number; readonly share: number | null }[];
  };
  readonly staleEnrollments: {
    readonly asOf: string;
    readonly thresholdDays: number;
    /** Active enrollments whose last use (or verification, or creation) is before this instant. */
    readonly lastActivityBefore: string;
    readonly count: number;
    readonly byMethod: readonly { readonly method: MethodId; readonly count: number }[];
  };
  readonly helpdeskPasses: { readonly issued: number; readonly dayOneIssued: number; readonly adminAssistedResets: number; readonly adminAssistedUnlocks: number; readonly notes: string };
  readonly helpdeskEstimate: {
    readonly completedResets: number;
    readonly completedUnlocks: number;
    readonly deflectionShare: number;
    readonly callsAvoided: number;
    readonly minutesPerCall: number;
    readonly hoursSaved: number;
    readonly costPerCall: number;
    readonly costSaved: number;
    readonly currency: string;
    readonly formula: string;
  };
  readonly notes: readonly string[];
}

export const round = (value: number, places: number): number => {
  const factor = 10 ** places;
  return Math.round(value * factor) / factor;
};
const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : round(part / whole, 4));
const QUARTER_HOUR_MS = 900_000;

class FlowTally {
  started = 0;
  completed = 0;
  add(group: ReportFlowGroup): void {
    this.started += group.count;
    if (group.ending === 'completed') this.completed += group.count;
  }
  counts(): FlowCounts {
    return { started: this.started, completed: this.completed, failed: this.started - this.completed, successRate: ratio(this.completed, this.started) };
  }
}

type PurposeTallies = Record<ReportPurpose, FlowTally>;
const newTallies = (): PurposeTallies => ({ reset: new FlowTally(), unlock: new FlowTally() });
const countsOf = (tallies: PurposeTallies): Record<ReportPurpose, FlowCounts> => ({ reset: tallies.reset.counts(), unlock: tallies.unlock.counts() });

/** Sorts keys with null last, so "(no department)" closes the list. */
const byKey = <T extends string | null>(a: T, b: T): number => (a === null ? 1 : b === null ? -1 : a.localeCompare(b));

function tierPolicyOf(policy: Policy, tier: Tier): TierPolicy | null {
  if (tier === 'break_glass') return null;
  const rules = policy.tiers[tier];
  return rules.selfService ? rules : null;
}

/** Builds the usage report. Pure: the same input gives the same report. */
export function buildUsageReport(input: UsageReportInput): UsageReport {
  const { period, settings } = input;
  const firstDay = dayIn(period.timeZone, period.from.getTime());
  const lastDay = dayIn(period.timeZone, period.to.getTime() - 1);

  const totals = newTallies();
  const failedBy: Record<ReportPurpose, Record<FailedEnding, number>> = {
    reset: { expired: 0, superseded: 0, interrupted: 0, open: 0 },
    unlock: { expired: 0, superseded: 0, interrupted: 0, open: 0 },
  };
  const decoys: Record<ReportPurpose, number> = { reset: 0, unlock: 0 };
  const days = new Map<string, { tallies: PurposeTallies; decoyStarts: number }>();
  for (let day = firstDay; day <= lastDay; day = nextDay(day)) days.set(day, { tallies: newTallies(), decoyStarts: 0 });
  const dayOf = new Map<number, string>();
  const tiers = new Map<Tier, PurposeTallies>(TIERS.map((tier) => [tier, newTallies()]));
  const departments = new Map<string | null, PurposeTallies>();

  for (const group of input.flows) {
    let dayName = dayOf.get(group.quarterHour);
    if (dayName === undefined) dayOf.set(group.quarterHour, (dayName = dayIn(period.timeZone, group.quarterHour * QUARTER_HOUR_MS)));
    const day = days.get(dayName);
    if (group.decoy) {
      decoys[group.purpose] += group.count;
      if (day) day.decoyStarts += group.count;
      continue;
    }
    totals[group.purpose].add(group);
    if (group.ending !== 'completed') failedBy[group.purpose][group.ending] += group.count;
    day?.tallies[group.purpose].add(group);
    if (group.tier) tiers.get(group.tier)?.[group.purpose].add(group);
    let department = departments.get(group.department);
    if (!department) departments.set(group.department, (department = newTallies()));
    department[group.purpose].add(group);
  }

  const methodCounts = new Map<MethodId, Record<ReportPurpose, number>>(METHOD_IDS.map((method) => [method, { reset: 0, unlock: 0 }]));
  for (const group of input.completedGates) {
    for (const method of new Set(group.gates.split(' ').filter(Boolean))) {
      const counts = methodCounts.get(method as MethodId);
      if (counts) counts[group.purpose] += group.count;
    }
  }

  const coverage = buildCoverage(input);
  const strengthMix = buildStrengthMix(input);
  const stale = buildStale(input);

  const completedResets = totals.reset.completed;
  const completedUnlocks = totals.unlock.completed;
  const callsAvoided = round((completedResets + completedUnlocks) * settings.deflectionShare, 2);
  const hoursSaved = round((callsAvoided * settings.minutesPerCall) / 60, 2);
  const costSaved = round(callsAvoided * settings.costPerCall, 2);

  return {
    report: 'usage',
    period: { from: period.from.toISOString(), to: period.to.toISOString(), timeZone: period.timeZone, days: days.size },
    generatedAt: input.generatedAt.toISOString(),
    totals: {
      reset: { ...totals.reset.counts(), failedBy: failedBy.reset, decoyStarts: decoys.reset },
      unlock: { ...totals.unlock.counts(), failedBy: failedBy.unlock, decoyStarts: decoys.unlock },
    },
    daily: [...days.entries()].map(([day, entry]) => ({ day, ...countsOf(entry.tallies), decoyStarts: entry.decoyStarts })),
    byTier: TIERS.map((tier) => ({ tier, ...countsOf(tiers.get(tier) ?? newTallies()) })),
    byDepartment: [...departments.entries()].sort(([a], [b]) => byKey(a, b)).map(([department, tallies]) => ({ department, ...countsOf(tallies) })),
    byMethod: METHOD_IDS.map((method) => ({ method, strength: METHOD_GATE_FACTS[method].strength, ...(methodCounts.get(method) ?? { reset: 0, unlock: 0 }) })),
    failures: [...input.failures]
      .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type) || byKey(a.reason, b.reason) || byKey(a.detail, b.detail))
      .map((group) => ({ type: group.type, reason: group.reason, detail: group.detail, count: group.count })),
    coverage,
    strengthMix,
    staleEnrollments: stale,
    helpdeskPasses: {
      issued: input.passesIssued.helpdesk,
      dayOneIssued: input.passesIssued.dayOne,
      adminAssistedResets: input.adminAssisted.resets,
      adminAssistedUnlocks: input.adminAssisted.unlocks,
      notes:
        'issued counts Temporary Access Passes the helpdesk issued in the period (tap.issued, kind helpdesk); dayOneIssued those issued in bulk for new hires (kind day_one). adminAssisted counts successful password.reset and account.unlocked events recorded by an admin session, an admin token or the CLI.',
    },
    helpdeskEstimate: {
      completedResets,
      completedUnlocks,
      deflectionShare: settings.deflectionShare,
      callsAvoided,
      minutesPerCall: settings.minutesPerCall,
      hoursSaved,
      costPerCall: settings.costPerCall,
      costSaved,
      currency: settings.currency,
      formula:
        `calls avoided = (completed resets ${completedResets} + completed unlocks ${completedUnlocks}) × deflection share ${settings.deflectionShare} = ${callsAvoided}; ` +
        `hours saved = ${callsAvoided} × ${settings.minutesPerCall} min / 60 = ${hoursSaved}; ` +
        `cost saved = ${callsAvoided} × ${settings.costPerCall} ${settings.currency} = ${costSaved} ${settings.currency}`,
    },
    notes: input.notes,
  };
}

function buildCoverage(input: UsageReportInput): UsageReport['coverage'] {
  const methodsOf = new Map<AccountId, Set<MethodId>>();
  for (const row of input.enrollments) {
    let methods = methodsOf.get(row.accountId);
    if (!methods) methodsOf.set(row.accountId, (methods = new Set()));
    methods.add(row.methodId);
  }
  const tierCounts = new Map<Tier, { eligible: number; covered: number }>(TIERS.map((tier) => [tier, { eligible: 0, covered: 0 }]));
  const departmentCounts = new Map<string | null, { eligible: number; covered: number }>();
  let enabled = 0;
  let disabled = 0;
  let withoutSelfService = 0;
  for (const account of input.accounts) {
    if (!account.enabled) {
      disabled += 1;
      continue;
    }
    enabled += 1;
    const tier = resolveTier(input.policy, account.groups);
    const rules = tierPolicyOf(input.policy, tier);
    if (!rules) {
      withoutSelfService += 1;
      continue;
    }
    const facts = [...(methodsOf.get(account.id) ?? [])].map((method) => METHOD_GATE_FACTS[method]);
    const covered = evaluateGates(rules, facts).satisfied ? 1 : 0;
    const tierCount = tierCounts.get(tier);
    if (tierCount) {
      tierCount.eligible += 1;
      tierCount.covered += covered;
    }
    let department = departmentCounts.get(account.department);
    if (!department) departmentCounts.set(account.department, (department = { eligible: 0, covered: 0 }));
    department.eligible += 1;
    department.covered += covered;
  }
  const counts = (value: { eligible: number; covered: number }): CoverageCounts => ({ eligible: value.eligible, covered: value.covered, coverage: ratio(value.covered, value.eligible) });
  const all = [...tierCounts.values()].reduce((sum, value) => ({ eligible: sum.eligible + value.eligible, covered: sum.covered + value.covered }), { eligible: 0, covered: 0 });
  return {
    asOf: input.generatedAt.toISOString(),
    enabledAccounts: enabled,
    disabledAccounts: disabled,
    withoutSelfService,
    ...counts(all),
    byTier: TIERS.map((tier) => ({ tier, selfService: tierPolicyOf(input.policy, tier) !== null, ...counts(tierCounts.get(tier) ?? { eligible: 0, covered: 0 }) })),
    byDepartment: [...departmentCounts.entries()].sort(([a], [b]) => byKey(a, b)).map(([department, value]) => ({ department, ...counts(value) })),
  };
}

function buildStrengthMix(input: UsageReportInput): UsageReport['strengthMix'] {
  const byMethod = new Map<MethodId, number>(METHOD_IDS.map((method) => [method, 0]));
  for (const row of input.enrollments) byMethod.set(row.methodId, (byMethod.get(row.methodId) ?? 0) + 1);
  const total = input.enrollments.length;
  const byStrength = new Map<StrengthClass, number>(STRENGTH_CLASSES.map((strength) => [strength, 0]));
  for (const [method, count] of byMethod) {
    const strength = METHOD_GATE_FACTS[method].strength;
    byStrength.set(strength, (byStrength.get(strength) ?? 0) + count);
  }
  return {
    asOf: input.generatedAt.toISOString(),
    activeEnrollments: total,
    byMethod: METHOD_IDS.map((method) => ({ method, strength: METHOD_GATE_FACTS[method].strength, active: byMethod.get(method) ?? 0, share: ratio(byMethod.get(method) ?? 0, total) })),
    byStrength: STRENGTH_CLASSES.map((strength) => ({ strength, active: byStrength.get(strength) ?? 0, share: ratio(byStrength.get(strength) ?? 0, total) })),
  };
}

function buildStale(input: UsageReportInput): UsageReport['staleEnrollments'] {
  const cutoff = new Date(input.generatedAt.getTime() - input.settings.staleAfterDays * DAY_MS);
  const byMethod = new Map<MethodId, number>(METHOD_IDS.map((method) => [method, 0]));
  let count = 0;
  for (const row of input.enrollments) {
    if (row.lastActivityAt.getTime() >= cutoff.getTime()) continue;
    count += 1;
    byMethod.set(row.methodId, (byMethod.get(row.methodId) ?? 0) + 1);
  }
  return {
    asOf: input.generatedAt.toISOString(),
    thresholdDays: input.settings.staleAfterDays,
    lastActivityBefore: cutoff.toISOString(),
    count,
    byMethod: METHOD_IDS.map((method) => ({ method, count: byMethod.get(method) ?? 0 })),
  };
}
