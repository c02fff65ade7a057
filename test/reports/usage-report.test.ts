import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../src/core/reports/usage-report.ts';
import { USAGE_REPORT_COLUMNS, usageReportRows } from '../../src/core/reports/usage-report-rows.ts';
import { auditEvents, call, ENGINES, json, startHarness, type Harness } from '../support/harness.ts';
import { NOW, PERIOD, seedReportData } from './seed.ts';

/*
 * The usage report over the hand-built data set of seed.ts, through the real composition and the
 * admin API, on each engine. Every expected figure below is worked out by hand from the flow and
 * account tables in seed.ts.
 */

const URL_FOR = (query: string): string => `/api/admin/reports/usage?${query}`;
const SETTINGS_ENV = {
  LATCHKEY_REPORTS__HELPDESK__DEFLECTION_SHARE: '0.6',
  LATCHKEY_REPORTS__HELPDESK__MINUTES_PER_CALL: '12',
  LATCHKEY_REPORTS__HELPDESK__COST_PER_CALL: '30',
  LATCHKEY_REPORTS__HELPDESK__CURRENCY: 'EUR',
};

describe.each(ENGINES)('usage report (%s)', (engine) => {
  let h: Harness;
  let readToken: string;
  let auditOnlyToken: string;
  let report: UsageReport;

  beforeAll(async () => {
    h = await startHarness({ engine, env: SETTINGS_ENV });
    // The server's clock stands at NOW (10 March 2026, noon UTC): stale and coverage are measured from it.
    h.clock.advance((NOW.getTime() - h.clock.now().getTime()) / 1000);
    await seedReportData(h.latchkey.store);
    readToken = (await h.latchkey.adminTokens.create({ name: 'reports', scopes: ['reports:read'] }, { kind: 'cli', id: 'test' })).token;
    auditOnlyToken = (await h.latchkey.adminTokens.create({ name: 'audit', scopes: ['audit:read', 'accounts:read'] }, { kind: 'cli', id: 'test' })).token;
    const response = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}`), undefined, { token: readToken });
    expect(response.statusCode, response.body).toBe(200);
    report = json<UsageReport>(response);
  }, 60_000);
  afterAll(async () => h?.close());

  it('covers the period in UTC days', () => {
    expect(report.period).toEqual({ from: '2026-03-02T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z', timeZone: 'UTC', days: 3 });
    expect(Math.abs(Date.parse(report.generatedAt) - NOW.getTime())).toBeLessThan(60_000);
  });

  it('counts resets and unlocks by how they ended, decoys apart', () => {
    // Resets F1 F2 F6 F8 F9 F11: completed F1 F9 F11; F6 expired, F8 superseded, F2 open. Decoys F4 F5 F12.
    // Unlocks F3 F7 F13: completed F3 F7; F13 interrupted.
    expect(report.totals).toEqual({
      reset: { started: 6, completed: 3, failed: 3, successRate: 0.5, failedBy: { expired: 1, superseded: 1, interrupted: 0, open: 1 }, decoyStarts: 3 },
      unlock: { started: 3, completed: 2, failed: 1, successRate: 0.6667, failedBy: { expired: 0, superseded: 0, interrupted: 1, open: 0 }, decoyStarts: 0 },
    });
  });

  it('gives per-day counts and success rates, the flow belonging to the day it started', () => {
    expect(report.daily).toEqual([
      // F1 F2 | F3 | F4 F5
      { day: '2026-03-02', reset: { started: 2, completed: 1, failed: 1, successRate: 0.5 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 }, decoyStarts: 2 },
      // F6 F8 F9 | F7
      { day: '2026-03-03', reset: { started: 3, completed: 1, failed: 2, successRate: 0.3333 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 }, decoyStarts: 0 },
      // F11 (completed after midnight, still 03-04's) | F13 | F12
      { day: '2026-03-04', reset: { started: 1, completed: 1, failed: 0, successRate: 1 }, unlock: { started: 1, completed: 0, failed: 1, successRate: 0 }, decoyStarts: 1 },
    ]);
  });

  it('splits flows by tier and by department', () => {
    const none = { started: 0, completed: 0, failed: 0, successRate: null };
    expect(report.byTier).toEqual([
      // F1 F2 F6 F11 | F7 F13
      { tier: 'standard', reset: { started: 4, completed: 2, failed: 2, successRate: 0.5 }, unlock: { started: 2, completed: 1, failed: 1, successRate: 0.5 } },
      // F8 F9 | F3
      { tier: 'privileged', reset: { started: 2, completed: 1, failed: 1, successRate: 0.5 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 } },
      { tier: 'break_glass', reset: none, unlock: none },
    ]);
    expect(report.byDepartment).toEqual([
      // F6 F11 | F3
      { department: 'Engineering', reset: { started: 2, completed: 1, failed: 1, successRate: 0.5 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 } },
      // F1 F2 | F7 F13
      { department: 'Sales', reset: { started: 2, completed: 1, failed: 1, successRate: 0.5 }, unlock: { started: 2, completed: 1, failed: 1, successRate: 0.5 } },
      // F8 F9
      { department: null, reset: { started: 2, completed: 1, failed: 1, successRate: 0.5 }, unlock: none },
    ]);
  });

  it('counts the methods that passed gates in completed flows', () => {
    // Completed resets F1 (email totp), F9 (totp recovery_code), F11 (totp email); unlocks F3 (totp recovery_code), F7 (email totp).
    expect(report.byMethod).toEqual([
      { method: 'email_code', strength: 'possession_weak', reset: 2, unlock: 1 },
      { method: 'sms_code', strength: 'possession_weak', reset: 0, unlock: 0 },
      { method: 'totp', strength: 'possession', reset: 3, unlock: 2 },
      { method: 'recovery_code', strength: 'possession', reset: 1, unlock: 1 },
      { method: 'security_questions', strength: 'knowledge', reset: 0, unlock: 0 },
      { method: 'temporary_access_pass', strength: 'possession', reset: 0, unlock: 0 },
      { method: 'webauthn', strength: 'phishing_resistant', reset: 0, unlock: 0 },
    ]);
  });

  it('lists failures by event, reason and detail, by when they happened, without sign-in gates', () => {
    // email: F0 (00:00:30 on 03-02), F2 ×2, F4; totp: F1 (F10 is a sign-in gate: left out).
    expect(report.failures).toEqual([
      { type: 'challenge.failed', reason: 'challenge.invalid', detail: 'email_code', count: 4 },
      { type: 'challenge.exhausted', reason: 'challenge.invalid', detail: 'totp', count: 1 },
      { type: 'challenge.failed', reason: 'challenge.invalid', detail: 'totp', count: 1 },
      { type: 'password.rejected', reason: 'password.policy', detail: null, count: 1 },
      { type: 'recovery.expired', reason: 'flow.expired', detail: 'awaiting_method_choice', count: 1 },
      { type: 'recovery.interrupted', reason: 'process.interrupted', detail: null, count: 1 },
      { type: 'recovery.rate_limited', reason: 'rate.limited', detail: 'identifier', count: 1 },
      { type: 'recovery.rate_limited', reason: 'rate.limited', detail: 'ip', count: 1 },
      { type: 'recovery.refused', reason: 'self_service.unavailable', detail: null, count: 1 },
    ]);
  });

  it('measures registration coverage against each tier’s gate rules', () => {
    // Enabled: alice bob carol dave erin frank hank (7); disabled: gina; frank is break-glass (no self-service).
    // Eligible 6, covered alice and dave: 2/6.
    expect(report.coverage).toMatchObject({
      enabledAccounts: 7,
      disabledAccounts: 1,
      withoutSelfService: 1,
      eligible: 6,
      covered: 2,
      coverage: 0.3333,
      byTier: [
        { tier: 'standard', selfService: true, eligible: 4, covered: 1, coverage: 0.25 },
        { tier: 'privileged', selfService: true, eligible: 2, covered: 1, coverage: 0.5 },
        { tier: 'break_glass', selfService: false, eligible: 0, covered: 0, coverage: null },
      ],
      byDepartment: [
        { department: 'Engineering', eligible: 3, covered: 1, coverage: 0.3333 },
        { department: 'Sales', eligible: 2, covered: 1, coverage: 0.5 },
        { department: null, eligible: 1, covered: 0, coverage: 0 },
      ],
    });
  });

  it('gives the strength mix of active enrollments', () => {
    // 14 active: email ×5 (alice bob dave erin gina), sms ×1, totp ×6 (alice carol dave erin frank gina), recovery_code ×2 (dave frank).
    expect(report.strengthMix).toMatchObject({
      activeEnrollments: 14,
      byMethod: [
        { method: 'email_code', strength: 'possession_weak', active: 5, share: 0.3571 },
        { method: 'sms_code', strength: 'possession_weak', active: 1, share: 0.0714 },
        { method: 'totp', strength: 'possession', active: 6, share: 0.4286 },
        { method: 'recovery_code', strength: 'possession', active: 2, share: 0.1429 },
        { method: 'security_questions', strength: 'knowledge', active: 0, share: 0 },
        { method: 'temporary_access_pass', strength: 'possession', active: 0, share: 0 },
        { method: 'webauthn', strength: 'phishing_resistant', active: 0, share: 0 },
      ],
      byStrength: [
        { strength: 'phishing_resistant', active: 0, share: 0 },
        { strength: 'possession', active: 8, share: 0.5714 },
        { strength: 'possession_weak', active: 6, share: 0.4286 },
        { strength: 'knowledge', active: 0, share: 0 },
      ],
    });
  });

  it('counts stale enrollments: active and unused for 180 days', () => {
    // alice's totp (used 200 days ago), bob's sms (verified 400 days ago, never used), gina's email (verified 250 days ago).
    expect(report.staleEnrollments).toMatchObject({
      thresholdDays: 180,
      count: 3,
      byMethod: [
        { method: 'email_code', count: 1 },
        { method: 'sms_code', count: 1 },
        { method: 'totp', count: 1 },
        { method: 'recovery_code', count: 0 },
        { method: 'security_questions', count: 0 },
        { method: 'temporary_access_pass', count: 0 },
        { method: 'webauthn', count: 0 },
      ],
    });
    expect(Math.abs(Date.parse(report.staleEnrollments.lastActivityBefore) - (NOW.getTime() - 180 * 86_400_000))).toBeLessThan(60_000);
  });

  it('takes the stale threshold from the request when given', async () => {
    // At 60 days the three above plus frank's totp (used 100 days ago) and dave's recovery_code (verified 90 days ago, never used).
    const response = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}&staleDays=60`), undefined, { token: readToken });
    expect(json<UsageReport>(response).staleEnrollments).toMatchObject({ thresholdDays: 60, count: 5 });
  });

  it('reports no helpdesk passes when none were issued, says what each count means, and estimates calls avoided with its formula', () => {
    expect(report.helpdeskPasses).toMatchObject({ issued: 0, dayOneIssued: 0, adminAssistedResets: 0, adminAssistedUnlocks: 0 });
    expect(report.helpdeskPasses.notes).toMatch(/tap\.issued/);
    // (3 + 2) × 0.6 = 3 calls; 3 × 12 min = 0.6 h; 3 × 30 = 90 EUR.
    expect(report.helpdeskEstimate).toEqual({
      completedResets: 3,
      completedUnlocks: 2,
      deflectionShare: 0.6,
      callsAvoided: 3,
      minutesPerCall: 12,
      hoursSaved: 0.6,
      costPerCall: 30,
      costSaved: 90,
      currency: 'EUR',
      formula: 'calls avoided = (completed resets 3 + completed unlocks 2) × deflection share 0.6 = 3; hours saved = 3 × 12 min / 60 = 0.6; cost saved = 3 × 30 EUR = 90 EUR',
    });
    expect(report.notes).toEqual([]);
  });

  it('serves the same figures as CSV: one file, a section column, one figure per row', async () => {
    const response = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}&format=csv`), undefined, { token: readToken });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="latchkey-usage-2026-03-02-2026-03-05.csv"');
    const rows = parseCsv(response.body, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0] ?? {})).toEqual([...USAGE_REPORT_COLUMNS]);
    const value = (match: Record<string, string>, metric: string): string | undefined =>
      rows.find((row) => row['metric'] === metric && Object.entries(match).every(([key, wanted]) => row[key] === wanted) && USAGE_REPORT_COLUMNS.every((column) => column in match || column === 'metric' || column === 'value' || row[column] === ''))?.['value'];
    // Spot checks written against the JSON figures above, read back from the CSV.
    expect(value({ section: 'daily', day: '2026-03-03', purpose: 'reset' }, 'success_rate')).toBe('0.3333');
    expect(value({ section: 'daily', day: '2026-03-04', purpose: 'unlock' }, 'failed')).toBe('1');
    expect(value({ section: 'by_department', department: 'Sales', purpose: 'unlock' }, 'started')).toBe('2');
    expect(value({ section: 'failures', type: 'challenge.failed', reason: 'challenge.invalid', detail: 'email_code' }, 'count')).toBe('4');
    expect(value({ section: 'coverage', tier: 'standard' }, 'coverage')).toBe('0.25');
    expect(value({ section: 'coverage', tier: 'break_glass' }, 'coverage')).toBe('');
    expect(value({ section: 'strength_mix', strength: 'possession' }, 'active')).toBe('8');
    expect(value({ section: 'stale_enrollments' }, 'count')).toBe('3');
    expect(value({ section: 'helpdesk_estimate' }, 'cost_saved')).toBe('90');
    // And every row agrees with the JSON report flattened the same way, timestamps aside.
    const fromJson = usageReportRows(report).filter((row) => !['generated_at', 'last_activity_before'].includes(row.metric));
    const fromCsv = rows.filter((row) => !['generated_at', 'last_activity_before'].includes(row['metric'] ?? ''));
    expect(fromCsv).toEqual(fromJson.map((row) => ({ ...row })));
    expect(fromCsv.length).toBeGreaterThan(150);
  });

  it('refuses a missing token (401) and a token without reports:read (403)', async () => {
    const none = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}`));
    expect(none.statusCode).toBe(401);
    expect(json(none)['code']).toBe('auth.required');
    const forbidden = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}`), undefined, { token: auditOnlyToken });
    expect(forbidden.statusCode).toBe(403);
    expect(json(forbidden)).toMatchObject({ code: 'auth.forbidden', detail: "This token lacks the 'reports:read' scope." });
  });

  it.each([
    ['from=2026-02-30&to=2026-03-05', /querystring\.from: must be a date \(YYYY-MM-DD/],
    ['from=yesterday&to=2026-03-05', /querystring\.from: must be a date/],
    ['from=2026-03-05&to=2026-03-05', /querystring\.to: from must be before to/],
    ['from=2026-03-06&to=2026-03-05', /querystring\.to: from must be before to/],
    ['from=2025-01-01&to=2026-03-05', /querystring\.to: the period may be at most 366 days long/],
    ['from=2026-03-02&to=2026-03-05&format=xlsx', /querystring\.format/],
    ['from=2026-03-02&to=2026-03-05&staleDays=0', /querystring\.staleDays/],
    ['from=2026-03-02&to=2026-03-05&tz=Europe/Paris', /querystring: Unrecognized key/],
    ['to=2026-03-05', /querystring\.from/],
    ['from=2026-03-02&to=2026-03-05&timeZone=Mars/Olympus_Mons', /querystring\.timeZone: must be an IANA time zone name/],
  ])('refuses %s with 400 naming the field', async (query, message) => {
    const response = await call(h, 'GET', URL_FOR(query), undefined, { token: readToken });
    expect(response.statusCode).toBe(400);
    expect(json(response)['code']).toBe('request.invalid');
    expect(json<{ detail: string }>(response).detail).toMatch(message);
  });

  it('accepts ISO date-times with offsets and reads the same flows', async () => {
    // 2026-03-02T01:00+01:00 is midnight UTC; 2026-03-03T00:00Z cuts after day one.
    const response = await call(h, 'GET', URL_FOR(`from=${encodeURIComponent('2026-03-02T01:00:00+01:00')}&to=2026-03-03T00:00:00Z`), undefined, { token: readToken });
    expect(response.statusCode, response.body).toBe(200);
    const oneDay = json<UsageReport>(response);
    expect(oneDay.period.days).toBe(1);
    expect(oneDay.totals.reset).toMatchObject({ started: 2, completed: 1 });
    expect(oneDay.totals.unlock).toMatchObject({ started: 1, completed: 1 });
  });

  it('counts days in a named time zone, bare dates being midnight there (Asia/Kolkata, UTC+05:30)', async () => {
    const response = await call(h, 'GET', URL_FOR(`from=${PERIOD.from}&to=${PERIOD.to}&timeZone=Asia/Kolkata`), undefined, { token: readToken });
    expect(response.statusCode, response.body).toBe(200);
    const zoned = json<UsageReport>(response);
    // Midnight in Kolkata is 18:30 UTC the day before: F0 (03-01 23:59Z = 03-02 05:29 local) comes in, F11 (03-04 23:50Z) goes out.
    expect(zoned.period).toEqual({ from: '2026-03-01T18:30:00.000Z', to: '2026-03-04T18:30:00.000Z', timeZone: 'Asia/Kolkata', days: 3 });
    expect(zoned.daily).toEqual([
      // F0 F1 F2 | F3 | F4 F5
      { day: '2026-03-02', reset: { started: 3, completed: 2, failed: 1, successRate: 0.6667 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 }, decoyStarts: 2 },
      // F6 F8 F9 | F7
      { day: '2026-03-03', reset: { started: 3, completed: 1, failed: 2, successRate: 0.3333 }, unlock: { started: 1, completed: 1, failed: 0, successRate: 1 }, decoyStarts: 0 },
      // F13 (15:00Z = 20:30 local) | F12
      { day: '2026-03-04', reset: { started: 0, completed: 0, failed: 0, successRate: null }, unlock: { started: 1, completed: 0, failed: 1, successRate: 0 }, decoyStarts: 1 },
    ]);
  });

  it('is part of the OpenAPI contract with its query parameters', async () => {
    const contract = json<{ paths: Record<string, { get?: { parameters?: { name: string }[] } }> }>(await call(h, 'GET', '/api/openapi.json'));
    expect(contract.paths['/api/admin/reports/usage']?.get?.parameters?.map((parameter) => parameter.name).sort()).toEqual(['format', 'from', 'staleDays', 'timeZone', 'to']);
  });

  it('audits every read with the period and format, never the figures', async () => {
    const events = await auditEvents(h, { types: ['admin.report_queried'] });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events[0]).toMatchObject({ actor: { kind: 'admin_token' }, outcome: 'success', data: { report: 'usage', from: '2026-03-02T00:00:00.000Z', to: '2026-03-05T00:00:00.000Z', time_zone: 'UTC', format: 'json' } });
    expect(events.some((event) => event.data['format'] === 'csv')).toBe(true);
    // Refused requests read nothing and are not recorded as reads.
    expect(events.every((event) => event.actor.kind === 'admin_token')).toBe(true);
  });
});
