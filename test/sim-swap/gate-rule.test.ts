import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../../src/core/policy/load.ts';
import { gateEligibility, simSwapEligibility, type GateEligibilityContext } from '../../src/core/flows/recovery/gate-eligibility.ts';
import { loadDefaultPolicyForTest } from './policy.ts';
import type { EnrollmentRecord } from '../../src/core/ports/store.ts';

const phone = (id: string): EnrollmentRecord =>
  ({
    id,
    accountId: 'builtin:ann',
    methodId: 'sms_code',
    status: 'active',
    label: '+44•••••••23',
    secretCiphertext: 'x',
    channelFingerprint: 'f',
    createdAt: new Date('2026-01-01T00:00:00Z'),
    verifiedAt: new Date('2026-01-01T00:00:00Z'),
    lastUsedAt: null,
  }) as EnrollmentRecord;

describe('the SIM swap gate rule', () => {
  const base: GateEligibilityContext = { now: new Date('2026-11-26T12:00:00Z'), policy: loadDefaultPolicyForTest(), tier: 'standard', usedEnrollmentIds: new Set() };

  it('takes a swapped phone out of recovery with its own reason, and an unvouched one with another', () => {
    const context: GateEligibilityContext = { ...base, simSwap: new Map([['p1', 'swapped'], ['p2', 'unavailable']]) };
    expect(simSwapEligibility(phone('p1'), context)).toEqual({ usable: false, reason: 'sim_swap.recent' });
    expect(gateEligibility(phone('p1'), context)).toEqual({ usable: false, reason: 'sim_swap.recent' });
    expect(gateEligibility(phone('p2'), context)).toEqual({ usable: false, reason: 'sim_swap.unavailable' });
    expect(gateEligibility(phone('p3'), context)).toEqual({ usable: true });
  });

  it('leaves every phone usable when no check ran', () => {
    expect(gateEligibility(phone('p1'), base)).toEqual({ usable: true });
  });
});

describe('policy simSwap', () => {
  it('defaults to ten days and refusing an unanswered check when the document leaves it out', () => {
    const text = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8');
    const without = text.replace(/^simSwap:\n(?: {2}.*\n|\s*#.*\n)*/m, '');
    expect(without).not.toMatch(/^simSwap:/m);
    const parsed = parsePolicy(without, 'policy.yaml');
    expect(parsed.ok && parsed.policy.simSwap).toEqual({ maxAgeHours: 240, onUnavailable: 'refuse' });
  });

  it('refuses a window CAMARA cannot answer and an unknown fallback, naming the key', () => {
    const text = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8').replace('maxAgeHours: 240', 'maxAgeHours: 5000').replace('onUnavailable: refuse', 'onUnavailable: maybe');
    const parsed = parsePolicy(text, 'policy.yaml');
    expect(parsed.ok).toBe(false);
    const messages = parsed.ok ? [] : parsed.errors.map(formatPolicyError);
    expect(messages.some((message) => /simSwap\.maxAgeHours: the CAMARA SIM Swap API looks back at most 2400 hours/.test(message))).toBe(true);
    expect(messages.some((message) => message.includes('simSwap.onUnavailable'))).toBe(true);
  });
});
