import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../src/core/reports/usage-report.ts';
import { call, createPerson, ENGINES, json, type Harness } from '../support/harness.ts';
import { helpdeskToken, issuePass, startHelpdeskHarness } from '../helpdesk/support.ts';

/*
 * The usage report counts the Temporary Access Passes the helpdesk issued, from the audit trail the
 * real helpdesk path writes (tap.issued), and only those inside the period.
 */
describe.each(ENGINES)('helpdesk passes in the usage report on %s', (engine) => {
  let h: Harness;
  let reportToken: string;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine);
    reportToken = (await h.latchkey.adminTokens.create({ name: 'reports', scopes: ['reports:read'] }, { kind: 'cli', id: 'test' })).token;
  });
  afterAll(async () => {
    await h?.close();
  });

  const usage = async (from: Date, to: Date): Promise<UsageReport> => {
    const response = await call(h, 'GET', `/api/admin/reports/usage?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`, undefined, { token: reportToken });
    expect(response.statusCode, response.body).toBe(200);
    return json<UsageReport>(response);
  };

  it('counts each pass the helpdesk issued in the period, and none outside it', async () => {
    const start = h.clock.now();
    const operator = await helpdeskToken(h);
    const ines = await createPerson(h, 'ines');
    const jonas = await createPerson(h, 'jonas');
    await issuePass(h, operator, ines.accountId);
    await issuePass(h, operator, jonas.accountId);
    // A replacement pass for the same person is another pass issued.
    await issuePass(h, operator, ines.accountId);
    h.clock.advance(3 * 3600);
    const later = h.clock.now();
    await issuePass(h, operator, jonas.accountId);

    const first = await usage(new Date(start.getTime() - 60_000), new Date(start.getTime() + 3_600_000));
    expect(first.helpdeskPasses).toMatchObject({ issued: 3, dayOneIssued: 0 });
    const second = await usage(new Date(later.getTime() - 60_000), new Date(later.getTime() + 3_600_000));
    expect(second.helpdeskPasses).toMatchObject({ issued: 1, dayOneIssued: 0 });
  });
});
