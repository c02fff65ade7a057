import type { FlowCounts, UsageReport } from './usage-report.ts';
import { RECOVERY_PURPOSES } from './usage-report.ts';

/**
 * The columns of the report as one CSV file: every figure is one row, `section` says which part of
 * the report it belongs to, the dimension columns that apply are filled and the rest left empty, and
 * `metric`/`value` carry the figure. One long table instead of one file per section, so it opens in
 * a spreadsheet as is and pivots on any column.
 */
export const USAGE_REPORT_COLUMNS = ['section', 'day', 'purpose', 'tier', 'department', 'method', 'strength', 'type', 'reason', 'detail', 'metric', 'value'] as const;
export type UsageReportColumn = (typeof USAGE_REPORT_COLUMNS)[number];
export type UsageReportRow = Readonly<Record<UsageReportColumn, string>>;

type Dimensions = Partial<Record<Exclude<UsageReportColumn, 'section' | 'metric' | 'value'>, string | null>>;

/** Flattens a report into rows; the JSON and the CSV carry the same figures (a test checks it). */
export function usageReportRows(report: UsageReport): UsageReportRow[] {
  const rows: UsageReportRow[] = [];
  const push = (section: string, dimensions: Dimensions, metric: string, value: string | number | null): void => {
    rows.push({
      section,
      day: dimensions.day ?? '',
      purpose: dimensions.purpose ?? '',
      tier: dimensions.tier ?? '',
      department: dimensions.department ?? '',
      method: dimensions.method ?? '',
      strength: dimensions.strength ?? '',
      type: dimensions.type ?? '',
      reason: dimensions.reason ?? '',
      detail: dimensions.detail ?? '',
      metric,
      value: value === null ? '' : String(value),
    });
  };
  const flowCounts = (section: string, dimensions: Dimensions, counts: FlowCounts): void => {
    push(section, dimensions, 'started', counts.started);
    push(section, dimensions, 'completed', counts.completed);
    push(section, dimensions, 'failed', counts.failed);
    push(section, dimensions, 'success_rate', counts.successRate);
  };

  push('period', {}, 'from', report.period.from);
  push('period', {}, 'to', report.period.to);
  push('period', {}, 'time_zone', report.period.timeZone);
  push('period', {}, 'generated_at', report.generatedAt);
  for (const purpose of RECOVERY_PURPOSES) {
    const totals = report.totals[purpose];
    flowCounts('totals', { purpose }, totals);
    for (const [ending, count] of Object.entries(totals.failedBy)) push('totals', { purpose }, `failed_${ending}`, count);
    push('totals', { purpose }, 'decoy_starts', totals.decoyStarts);
  }
  for (const day of report.daily) {
    for (const purpose of RECOVERY_PURPOSES) flowCounts('daily', { day: day.day, purpose }, day[purpose]);
    push('daily', { day: day.day }, 'decoy_starts', day.decoyStarts);
  }
  for (const row of report.byTier) for (const purpose of RECOVERY_PURPOSES) flowCounts('by_tier', { tier: row.tier, purpose }, row[purpose]);
  for (const row of report.byDepartment) for (const purpose of RECOVERY_PURPOSES) flowCounts('by_department', { department: row.department, purpose }, row[purpose]);
  for (const row of report.byMethod) {
    for (const purpose of RECOVERY_PURPOSES) push('by_method', { method: row.method, strength: row.strength, purpose }, 'completed_with_method', row[purpose]);
  }
  for (const row of report.failures) push('failures', { type: row.type, reason: row.reason, detail: row.detail }, 'count', row.count);

  const { coverage } = report;
  push('coverage', {}, 'enabled_accounts', coverage.enabledAccounts);
  push('coverage', {}, 'disabled_accounts', coverage.disabledAccounts);
  push('coverage', {}, 'without_self_service', coverage.withoutSelfService);
  const coverageCounts = (dimensions: Dimensions, counts: { eligible: number; covered: number; coverage: number | null }): void => {
    push('coverage', dimensions, 'eligible', counts.eligible);
    push('coverage', dimensions, 'covered', counts.covered);
    push('coverage', dimensions, 'coverage', counts.coverage);
  };
  coverageCounts({}, coverage);
  for (const row of coverage.byTier) coverageCounts({ tier: row.tier }, row);
  for (const row of coverage.byDepartment) coverageCounts({ department: row.department }, row);

  push('strength_mix', {}, 'active_enrollments', report.strengthMix.activeEnrollments);
  for (const row of report.strengthMix.byMethod) {
    push('strength_mix', { method: row.method, strength: row.strength }, 'active', row.active);
    push('strength_mix', { method: row.method, strength: row.strength }, 'share', row.share);
  }
  for (const row of report.strengthMix.byStrength) {
    push('strength_mix', { strength: row.strength }, 'active', row.active);
    push('strength_mix', { strength: row.strength }, 'share', row.share);
  }

  push('stale_enrollments', {}, 'threshold_days', report.staleEnrollments.thresholdDays);
  push('stale_enrollments', {}, 'last_activity_before', report.staleEnrollments.lastActivityBefore);
  push('stale_enrollments', {}, 'count', report.staleEnrollments.count);
  for (const row of report.staleEnrollments.byMethod) push('stale_enrollments', { method: row.method }, 'count', row.count);

  const passes = report.helpdeskPasses;
  push('helpdesk_passes', {}, 'issued', passes.issued);
  push('helpdesk_passes', {}, 'day_one_issued', passes.dayOneIssued);
  push('helpdesk_passes', {}, 'admin_assisted_resets', passes.adminAssistedResets);
  push('helpdesk_passes', {}, 'admin_assisted_unlocks', passes.adminAssistedUnlocks);
  push('helpdesk_passes', {}, 'notes', passes.notes);

  const estimate = report.helpdeskEstimate;
  push('helpdesk_estimate', {}, 'completed_resets', estimate.completedResets);
  push('helpdesk_estimate', {}, 'completed_unlocks', estimate.completedUnlocks);
  push('helpdesk_estimate', {}, 'deflection_share', estimate.deflectionShare);
  push('helpdesk_estimate', {}, 'calls_avoided', estimate.callsAvoided);
  push('helpdesk_estimate', {}, 'minutes_per_call', estimate.minutesPerCall);
  push('helpdesk_estimate', {}, 'hours_saved', estimate.hoursSaved);
  push('helpdesk_estimate', {}, 'cost_per_call', estimate.costPerCall);
  push('helpdesk_estimate', {}, 'cost_saved', estimate.costSaved);
  push('helpdesk_estimate', {}, 'currency', estimate.currency);
  push('helpdesk_estimate', {}, 'formula', estimate.formula);
  for (const note of report.notes) push('notes', {}, 'note', note);
  return rows;
}
