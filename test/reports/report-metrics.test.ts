import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFlowId } from '../../src/core/account/ids.ts';
import { call, ENGINES, startHarness, type Harness } from '../support/harness.ts';
import { accountIdOf, seedReportData } from './seed.ts';

/*
 * The Prometheus counters over the seed.ts log. They count the whole log, not a period, so F0 and
 * F14 (outside the report period) count here.
 */

/** The value of one sample line, or undefined when the series does not exist. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '').split(',').sort();
    if (have.length === wanted.length && have.every((label, index) => label === wanted[index])) return Number(match[3]);
  }
  return undefined;
}

describe.each(ENGINES)('recovery metrics (%s)', (engine) => {
  let h: Harness;
  const scrape = async (): Promise<string> => (await call(h, 'GET', '/metrics')).body;

  beforeAll(async () => {
    h = await startHarness({ engine });
    await seedReportData(h.latchkey.store);
  }, 60_000);
  afterAll(async () => h?.close());

  it('counts started and completed resets and unlocks by tier, decoys apart, from the audit log', async () => {
    const text = await scrape();
    // Standard resets started: F0 F1 F2 F6 F11 F14; completed F0 F1 F11. Privileged resets F8 F9, completed F9.
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'reset', tier: 'standard', outcome: 'started' })).toBe(6);
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'reset', tier: 'standard', outcome: 'completed' })).toBe(3);
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'reset', tier: 'privileged', outcome: 'started' })).toBe(2);
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'reset', tier: 'privileged', outcome: 'completed' })).toBe(1);
    // Unlocks: standard F7 F13 (F7 completed), privileged F3 (completed).
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'started' })).toBe(2);
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'privileged', outcome: 'completed' })).toBe(1);
    expect(sample(text, 'latchkey_recovery_decoys_total', { purpose: 'reset' })).toBe(3);
    // The sign-in gate F10 is not a recovery.
    expect(text).not.toMatch(/purpose="sign_in"/);
  });

  it('counts the methods of completed flows and failures by type and catalogued reason', async () => {
    const text = await scrape();
    // Standard resets F0 F1 F11 each passed email_code and totp; privileged F9 totp + recovery_code.
    expect(sample(text, 'latchkey_recovery_completed_gates_total', { purpose: 'reset', tier: 'standard', method: 'email_code' })).toBe(3);
    expect(sample(text, 'latchkey_recovery_completed_gates_total', { purpose: 'reset', tier: 'standard', method: 'totp' })).toBe(3);
    expect(sample(text, 'latchkey_recovery_completed_gates_total', { purpose: 'reset', tier: 'privileged', method: 'recovery_code' })).toBe(1);
    expect(sample(text, 'latchkey_recovery_completed_gates_total', { purpose: 'unlock', tier: 'privileged', method: 'totp' })).toBe(1);
    // challenge.failed: F0, F1, F2 ×2, F4, and the sign-in gate F10 (the engine's failures, all of them).
    expect(sample(text, 'latchkey_recovery_failures_total', { type: 'challenge.failed', reason: 'challenge.invalid' })).toBe(6);
    expect(sample(text, 'latchkey_recovery_failures_total', { type: 'recovery.rate_limited', reason: 'rate.limited' })).toBe(2);
    expect(sample(text, 'latchkey_recovery_failures_total', { type: 'recovery.interrupted', reason: 'process.interrupted' })).toBe(1);
    expect(sample(text, 'latchkey_recovery_failures_total', { type: 'recovery.refused', reason: 'self_service.unavailable' })).toBe(1);
  });

  it('keeps label values to closed sets: no account ids, departments or free-text reasons', async () => {
    await h.latchkey.store.audit.append([
      { type: 'challenge.failed', at: new Date(), actor: { kind: 'anonymous', id: null }, subject: accountIdOf('alice'), outcome: 'failure', reason: 'some free text from a future adapter', ip: null, userAgent: null, department: 'Sales', tier: 'standard', flowId: asFlowId('00000000-0000-4000-8000-000000000099'), data: { method: 'totp' } },
    ]);
    const text = await scrape();
    expect(sample(text, 'latchkey_recovery_failures_total', { type: 'challenge.failed', reason: 'other' })).toBe(1);
    const recoveryLines = text.split('\n').filter((line) => line.startsWith('latchkey_recover'));
    expect(recoveryLines.join('\n')).not.toMatch(/builtin:|Sales|Engineering|free text/);
    const labelNames = new Set(recoveryLines.flatMap((line) => [...line.matchAll(/([a-z_]+)="/g)].map((match) => match[1])));
    expect([...labelNames].sort()).toEqual(['method', 'outcome', 'purpose', 'reason', 'tier', 'type']);
  });

  it('reads only new events on the next scrape, counting each event once', async () => {
    const before = sample(await scrape(), 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'started' });
    await h.latchkey.store.audit.append([
      { type: 'recovery.started', at: new Date(), actor: { kind: 'person', id: accountIdOf('bob') }, subject: accountIdOf('bob'), outcome: 'info', reason: null, ip: null, userAgent: null, department: 'Sales', tier: 'standard', flowId: asFlowId('00000000-0000-4000-8000-000000000100'), data: { purpose: 'unlock', decoy: false, identifier_hash: 'h' } },
    ]);
    // Two scrapes at once must not both count the new event.
    const [first, second] = await Promise.all([scrape(), scrape()]);
    expect(sample(first, 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'started' })).toBe((before ?? 0) + 1);
    expect(sample(second, 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'started' })).toBe((before ?? 0) + 1);
    expect(sample(await scrape(), 'latchkey_recoveries_total', { purpose: 'unlock', tier: 'standard', outcome: 'started' })).toBe((before ?? 0) + 1);
  });
});
