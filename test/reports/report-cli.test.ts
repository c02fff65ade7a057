import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessCliEnv, runLatchkey, type CliRun } from '../support/cli.ts';
import type { UsageReport } from '../../src/core/reports/usage-report.ts';
import { auditEvents, ENGINES, startHarness, type Harness } from '../support/harness.ts';
import { PERIOD, seedReportData } from './seed.ts';

/*
 * `latchkey report usage` against the database the harness seeded (seed.ts), run in this process
 * as the command line would. The CLI's clock is the real one, so only the period's figures are
 * compared here; the snapshot sections are covered by usage-report.test.ts.
 */

describe.each(ENGINES)('latchkey report usage (%s)', (engine) => {
  let h: Harness;
  let env: Record<string, string>;

  /** Runs the CLI with exactly `env` as its LATCHKEY_* variables, capturing what it writes. */
  const cli = (...args: string[]): Promise<CliRun> => runLatchkey(env, args);

  beforeAll(async () => {
    h = await startHarness({ engine });
    await seedReportData(h.latchkey.store);
    // On PostgreSQL the harness keeps its tables in a schema of its own; the CLI finds it through search_path.
    env = harnessCliEnv(h);
  }, 60_000);
  afterAll(async () => h?.close());

  it('prints the report as JSON with the period’s figures', async () => {
    const run = await cli('report', 'usage', '--from', PERIOD.from, '--to', PERIOD.to);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as UsageReport;
    expect(report.period).toEqual({ from: '2026-03-02T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z', timeZone: 'UTC', days: 3 });
    expect(report.totals.reset).toMatchObject({ started: 6, completed: 3, successRate: 0.5, decoyStarts: 3 });
    expect(report.totals.unlock).toMatchObject({ started: 3, completed: 2, successRate: 0.6667 });
    expect(report.daily.map((day) => day.reset.started)).toEqual([2, 3, 1]);
    // Default settings: (3 + 2) × 0.8 = 4 calls, 4 × 25 USD.
    expect(report.helpdeskEstimate).toMatchObject({ callsAvoided: 4, costSaved: 100, currency: 'USD' });
  });

  it('writes CSV to a file and records report.generated', async () => {
    const file = join(h.dataDir, 'usage.csv');
    const run = await cli('report', 'usage', '--from', PERIOD.from, '--to', PERIOD.to, '--format', 'csv', '--out', file);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`written to ${file}`);
    const rows = parseCsv(await readFile(file, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.find((row) => row['section'] === 'totals' && row['purpose'] === 'reset' && row['metric'] === 'completed')?.['value']).toBe('3');
    expect(rows.find((row) => row['section'] === 'daily' && row['day'] === '2026-03-03' && row['purpose'] === 'reset' && row['metric'] === 'success_rate')?.['value']).toBe('0.3333');
    const generated = await auditEvents(h, { types: ['report.generated'] });
    expect(generated.at(-1)).toMatchObject({ actor: { kind: 'cli' }, outcome: 'success', data: { report: 'usage', from: '2026-03-02T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z', format: 'csv' } });
  });

  it.each([
    [['--from', '2026-03-05', '--to', '2026-03-02'], /--to: from must be before to/],
    [['--from', '2026-13-01', '--to', '2026-03-02'], /--from: must be a date/],
    [['--from', '2024-01-01', '--to', '2026-03-02'], /at most 366 days/],
    [['--from', PERIOD.from, '--to', PERIOD.to, '--stale-days', 'soon'], /--stale-days must be a whole number/],
    [['--from', PERIOD.from, '--to', PERIOD.to, '--format', 'xml'], /Allowed choices are json, csv/],
    [['--from', PERIOD.from, '--to', PERIOD.to, '--time-zone', 'Europe/Atlantis'], /--time-zone: must be an IANA time zone name/],
  ])('refuses %j as a usage error (exit 2)', async (args, message) => {
    const run = await cli('report', 'usage', ...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });
});
