import type { DirectoryAccount } from '../account/account.ts';
import type { ActorKind, AuditEventInput } from '../audit/events.ts';
import type { AppDeps } from '../app/deps.ts';
import type { ZonedReportPeriod } from './period.ts';
import { buildUsageReport, type UsageReport, type UsageReportSettings } from './usage-report.ts';

/** Who asked for a report: an admin token over the API, or the CLI. */
export type ReportRequester =
  | { readonly kind: 'admin'; readonly actor: { readonly kind: 'admin' | 'admin_token' | 'cli'; readonly id: string }; readonly ip: string; readonly userAgent: string | null }
  | { readonly kind: 'cli'; readonly id: string | null };

/**
 * Usage reports: gathers the aggregates (store.reports), the directory's accounts and the policy,
 * builds the report, and audits that it was read — `admin.report_queried` for an admin token,
 * `report.generated` for the CLI — with the period and the format, never the figures.
 */
export class ReportService {
  constructor(
    private readonly deps: Pick<AppDeps, 'store' | 'directory' | 'clock' | 'policy'>,
    private readonly settings: UsageReportSettings,
  ) {}

  async usage(requester: ReportRequester, period: ZonedReportPeriod, options: { format: 'json' | 'csv'; staleAfterDays?: number }): Promise<UsageReport> {
    const { store, directory, clock, policy } = this.deps;
    const generatedAt = clock.now();
    const notes: string[] = [];
    const accountsPromise = (async (): Promise<DirectoryAccount[]> => {
      if (!directory.capabilities.has('list_accounts')) {
        notes.push(`The ${directory.name} directory cannot list its accounts, so coverage counts no accounts.`);
        return [];
      }
      const accounts: DirectoryAccount[] = [];
      for await (const account of directory.listAccounts()) accounts.push(account);
      return accounts;
    })();
    const [flows, completedGates, failures, adminAssisted, passesIssued, enrollments, accounts] = await Promise.all([
      store.reports.flowGroups(period),
      store.reports.completedGateGroups(period),
      store.reports.failureGroups(period),
      store.reports.adminAssistedCompletions(period),
      store.reports.passesIssued(period),
      store.reports.activeEnrollments(),
      accountsPromise,
    ]);
    const report = buildUsageReport({
      period,
      generatedAt,
      settings: { ...this.settings, staleAfterDays: options.staleAfterDays ?? this.settings.staleAfterDays },
      policy: policy(),
      flows,
      completedGates,
      failures,
      adminAssisted,
      passesIssued,
      accounts,
      enrollments,
      notes,
    });
    await store.audit.append([this.event(requester, generatedAt, { report: 'usage', from: report.period.from, to: report.period.to, time_zone: report.period.timeZone, format: options.format })]);
    return report;
  }

  private event(requester: ReportRequester, at: Date, data: AuditEventInput['data']): AuditEventInput {
    const actor: { kind: ActorKind; id: string | null } = requester.kind === 'admin' ? requester.actor : { kind: 'cli', id: requester.id };
    return {
      type: requester.kind === 'admin' ? 'admin.report_queried' : 'report.generated',
      at,
      actor,
      subject: null,
      outcome: 'success',
      reason: null,
      ip: requester.kind === 'admin' ? requester.ip : null,
      userAgent: requester.kind === 'admin' ? requester.userAgent : null,
      department: null,
      tier: null,
      flowId: null,
      data,
    };
  }
}
