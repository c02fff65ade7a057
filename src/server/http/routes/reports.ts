import { z } from 'zod';
import { stringify } from 'csv-stringify/sync';
import { Counter, type Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { parseReportPeriod } from '../../../core/reports/period.ts';
import { USAGE_REPORT_COLUMNS, usageReportRows } from '../../../core/reports/usage-report-rows.ts';
import type { UsageReport } from '../../../core/reports/usage-report.ts';
import { METRIC_EVENT_TYPES, recoveryMetricSamples } from '../../../core/reports/recovery-metrics.ts';
import type { Store } from '../../../core/ports/store.ts';
import type { Latchkey } from '../../compose.ts';
import { requestContext } from '../app.ts';
import { auditActor } from '../../../core/admin/principal.ts';

/** A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return at the start). */
export const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * The report as one CSV file (columns: USAGE_REPORT_COLUMNS). SECURITY: department names come from
 * the directory and a name such as `=HYPERLINK(…)` would run as a formula when an admin opens the
 * file in a spreadsheet (CSV injection); such a text cell is prefixed with `'`. Numbers are written
 * as they are.
 */
export function usageReportCsv(report: UsageReport): string {
  const rows = usageReportRows(report).map((row) => {
    const safe: Record<string, string> = {};
    for (const column of USAGE_REPORT_COLUMNS) {
      const cell = row[column];
      safe[column] = FORMULA_START.test(cell) && Number.isNaN(Number(cell)) ? `'${cell}` : cell;
    }
    return safe;
  });
  return stringify(rows, { header: true, columns: [...USAGE_REPORT_COLUMNS] });
}

const usageQuery = z
  .object({
    from: z.string().max(40).describe('Start of the period, inclusive: YYYY-MM-DD (midnight in timeZone) or an ISO 8601 date and time with offset.'),
    to: z.string().max(40).describe('End of the period, exclusive; at most 366 days after `from`.'),
    timeZone: z.string().max(64).optional().describe('IANA time zone the days are counted in, and bare dates are midnight in (default UTC).'),
    format: z.enum(['json', 'csv']).default('json'),
    staleDays: z.coerce.number().int().min(1).max(3_650).optional().describe('Days without use after which an active method is stale (default from configuration, 180).'),
  })
  .strict()
  .superRefine((query, ctx) => {
    const period = parseReportPeriod(query);
    if (!period.ok) for (const problem of period.problems) ctx.addIssue({ code: 'custom', message: problem.replace(/^[^:]+: /, ''), path: [problem.split(':')[0] ?? 'from'] });
  });

/** GET /api/admin/reports/usage: the usage report as JSON or CSV (scope `reports:read`; every read audited). */
export function registerReportRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/api/admin/reports/usage',
    {
      schema: {
        tags: ['admin'],
        summary: 'Usage and insights over a period [from, to): resets and unlocks per day, success rates, failures, coverage, method strength, stale methods, helpdesk estimate.',
        security: [{ bearer: [] }],
        querystring: usageQuery,
      },
    },
    async (request, reply) => {
      const principal = await latchkey.adminAuth.require(request, 'reports:read');
      const period = parseReportPeriod(request.query);
      // The schema's refinement already refused a bad period; this narrows the type.
      if (!period.ok) throw new Error(period.problems.join('; '));
      const context = requestContext(request);
      const { format, staleDays } = request.query;
      const report = await latchkey.reports.usage({ kind: 'admin', actor: auditActor(principal), ip: context.ip, userAgent: context.userAgent }, period.period, {
        format,
        ...(staleDays === undefined ? {} : { staleAfterDays: staleDays }),
      });
      if (format === 'json') return report;
      const name = `latchkey-usage-${report.period.from.slice(0, 10)}-${report.period.to.slice(0, 10)}.csv`;
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(usageReportCsv(report));
    },
  );
}

/** Events per read when the counters catch up with the log. */
const SEQ_WINDOW = 5_000;

/**
 * Prometheus counters for the report's figures, read from the audit log at scrape time: each scrape
 * reads only the events appended since the last one, in windows of seq up to the chain head (every
 * event up to a committed head is committed, on both engines), so counters are exact, include only
 * committed events, and cost nothing on the request path. On PostgreSQL every instance reads the
 * same shared log and reports the same totals: take max(), not sum(), across instances. A restart
 * reads the log from its start again (Prometheus sees a counter reset if retention purged events).
 */
export function registerRecoveryMetrics(registry: Registry, store: Store): void {
  let afterSeq = 0;
  let running: Promise<void> | null = null;
  const catchUp = (): Promise<void> => {
    running ??= (async () => {
      try {
        const head = await store.audit.head();
        while (afterSeq < head.seq) {
          const through = Math.min(afterSeq + SEQ_WINDOW, head.seq);
          for (const record of await store.reports.eventsInSeqRange(afterSeq, through, METRIC_EVENT_TYPES)) {
            for (const sample of recoveryMetricSamples(record)) {
              if (sample.metric === 'recoveries') counters.recoveries.inc(sample.labels);
              else if (sample.metric === 'decoys') counters.decoys.inc(sample.labels);
              else if (sample.metric === 'completed_gates') counters.completedGates.inc(sample.labels);
              else counters.failures.inc(sample.labels);
            }
          }
          afterSeq = through;
        }
      } catch {
        // A scrape while the database is away shows the last counts; /readyz reports the outage.
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const collect = async (): Promise<void> => catchUp();
  const counters = {
    recoveries: new Counter({ name: 'latchkey_recoveries_total', help: 'Reset and unlock flows of real accounts, started and completed, by purpose and tier.', labelNames: ['purpose', 'tier', 'outcome'], registers: [registry], collect }),
    decoys: new Counter({ name: 'latchkey_recovery_decoys_total', help: 'Reset and unlock flows started as decoys (unknown identifier, no self-service, over the start limit).', labelNames: ['purpose'], registers: [registry], collect }),
    completedGates: new Counter({ name: 'latchkey_recovery_completed_gates_total', help: 'Gates passed in completed resets and unlocks, by method.', labelNames: ['purpose', 'tier', 'method'], registers: [registry], collect }),
    failures: new Counter({ name: 'latchkey_recovery_failures_total', help: 'Failure events of the flow engine (sign-in gates included), by event type and reason.', labelNames: ['type', 'reason'], registers: [registry], collect }),
  };
}
