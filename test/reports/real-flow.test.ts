import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../src/core/reports/usage-report.ts';
import { call, createPerson, enrolEmailAndTotp, ENGINES, json, passTwoGates, startFlow, startHarness, type Harness } from '../support/harness.ts';

/*
 * The report's reading of the audit log checked against what the real services record: a reset
 * through the API, an unlock left open, a wrong code and an unknown identifier.
 */

describe.each(ENGINES)('usage report over real flows (%s)', (engine) => {
  let h: Harness;
  let report: UsageReport;
  let metrics: string;

  beforeAll(async () => {
    h = await startHarness({ engine });
    const person = await createPerson(h, 'rita', { department: 'Finance' });
    const enrolled = await enrolEmailAndTotp(h, person);

    const reset = await startFlow(h, person.email);
    const grant = await passTwoGates(h, reset.token, enrolled);
    const written = await call(h, 'POST', '/api/recovery/flow/password', { password: 'purple otter juggles seven lanterns', confirmPassword: 'purple otter juggles seven lanterns' }, { token: grant });
    expect(written.statusCode, written.body).toBe(200);

    const unlock = await startFlow(h, person.username, 'unlock');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: unlock.token });
    await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, { token: unlock.token });

    await startFlow(h, 'nobody@corp.test');

    const day = h.clock.now().toISOString().slice(0, 10);
    const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
    const token = (await h.latchkey.adminTokens.create({ name: 'r', scopes: ['reports:read'] }, { kind: 'cli', id: 'test' })).token;
    const response = await call(h, 'GET', `/api/admin/reports/usage?from=${day}&to=${next}`, undefined, { token });
    expect(response.statusCode, response.body).toBe(200);
    report = json<UsageReport>(response);
    metrics = (await call(h, 'GET', '/metrics')).body;
  }, 60_000);
  afterAll(async () => h?.close());

  it('counts the completed reset, the open unlock and the decoy', () => {
    expect(report.totals.reset).toMatchObject({ started: 1, completed: 1, successRate: 1, decoyStarts: 1 });
    expect(report.totals.unlock).toMatchObject({ started: 1, completed: 0, failed: 1, failedBy: { open: 1 } });
    expect(report.byDepartment).toEqual([{ department: 'Finance', reset: { started: 1, completed: 1, failed: 0, successRate: 1 }, unlock: { started: 1, completed: 0, failed: 1, successRate: 0 } }]);
    expect(report.byTier[0]).toMatchObject({ tier: 'standard', reset: { started: 1, completed: 1 } });
  });

  it('credits the methods that passed the gates, and lists the wrong code', () => {
    expect(report.byMethod.filter((row) => row.reset > 0).map((row) => row.method)).toEqual(['email_code', 'totp']);
    expect(report.failures).toContainEqual({ type: 'challenge.failed', reason: 'challenge.invalid', detail: 'email_code', count: 1 });
  });

  it('sees the person covered by an email address and an authenticator app', () => {
    expect(report.coverage).toMatchObject({ enabledAccounts: 1, eligible: 1, covered: 1, coverage: 1 });
    expect(report.strengthMix.byStrength).toContainEqual({ strength: 'possession', active: 1, share: 0.5 });
    expect(report.staleEnrollments.count).toBe(0);
  });

  it('counts as admin-assisted only completions an admin token or the CLI recorded, not the person’s own reset', async () => {
    const now = h.clock.now();
    const period = { from: new Date(now.getTime() - 3_600_000), to: new Date(now.getTime() + 3_600_000) };
    expect(await h.latchkey.store.reports.adminAssistedCompletions(period)).toEqual({ resets: 0, unlocks: 0 });
    // No code path records an admin-assisted unlock yet (the lifecycle issue adds one); this is the shape it will have.
    await h.latchkey.store.audit.append([{ type: 'account.unlocked', at: now, actor: { kind: 'admin_token', id: 'helpdesk' }, subject: null, outcome: 'success', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { via: 'helpdesk' } }]);
    expect(await h.latchkey.store.reports.adminAssistedCompletions(period)).toEqual({ resets: 0, unlocks: 1 });
  });

  it('exposes the same flows as Prometheus counters', () => {
    expect(metrics).toContain('latchkey_recoveries_total{purpose="reset",tier="standard",outcome="completed"} 1');
    expect(metrics).toContain('latchkey_recoveries_total{purpose="unlock",tier="standard",outcome="started"} 1');
    expect(metrics).toContain('latchkey_recovery_decoys_total{purpose="reset"} 1');
    expect(metrics).toContain('latchkey_recovery_completed_gates_total{purpose="reset",tier="standard",method="totp"} 1');
  });
});
