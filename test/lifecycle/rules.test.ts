import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { asAccountId, asEnrollmentId } from '../../src/core/account/ids.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { policySchema } from '../../src/core/policy/schema.ts';
import type { EnrollmentRecord } from '../../src/core/ports/store.ts';
import { activationCoolsOff, reconfirmation, usableFrom } from '../../src/core/lifecycle/rules.ts';
import { gateEligibility } from '../../src/core/flows/recovery/gate-eligibility.ts';

const policy = policySchema.parse(parse(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8')));
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);

const enrollment = (overrides: Partial<EnrollmentRecord> = {}): EnrollmentRecord => ({
  id: asEnrollmentId('e-1'),
  accountId: asAccountId('a-1'),
  methodId: 'sms_code',
  status: 'active',
  label: 'phone',
  secretCiphertext: '',
  channelFingerprint: null,
  createdAt: T0,
  verifiedAt: T0,
  lastUsedAt: null,
  ...overrides,
});

describe('cooling-off', () => {
  it.each([
    ['standard', 24 * HOUR],
    ['privileged', 72 * HOUR],
    ['break_glass', 72 * HOUR],
  ] as const)('a change on a %s account counts after %i ms', (tier, wait) => {
    expect(usableFrom(enrollment(), true, policy, tier)).toEqual(at(wait));
    expect(usableFrom(enrollment(), false, policy, tier)).toEqual(T0);
    expect(usableFrom(enrollment({ status: 'pending', verifiedAt: null }), true, policy, tier)).toBeNull();
  });

  it.each([
    ['no other method', [], false],
    ['a method activated in the same session', [enrollment({ id: asEnrollmentId('e-2'), verifiedAt: at(HOUR) })], false],
    ['a method active before the session', [enrollment({ id: asEnrollmentId('e-2'), verifiedAt: at(-HOUR) })], true],
    ['only a pending method from before', [enrollment({ id: asEnrollmentId('e-2'), status: 'pending', verifiedAt: null, createdAt: at(-HOUR) })], false],
    ['only the Temporary Access Pass the session was opened with', [enrollment({ id: asEnrollmentId('e-2'), methodId: 'temporary_access_pass', verifiedAt: at(-HOUR) })], false],
  ] as const)('an activation with %s cools off: %s', (_name, others, expected) => {
    expect(activationCoolsOff(others, T0)).toBe(expected);
  });

  it('keeps a cooling method out of every gate, sign-in included, until its time', () => {
    const facts = { coolingOffEnrollmentIds: new Set(['e-1']) };
    for (const purpose of ['reset', 'unlock', 'sign_in'] as const) {
      const context = { policy, tier: 'standard' as const, usedEnrollmentIds: new Set<string>(), lifecycle: { ...facts, purpose } };
      expect(gateEligibility(enrollment(), { ...context, now: at(24 * HOUR - 1) })).toEqual({ usable: false, reason: 'enrollment.cooling_off' });
      expect(gateEligibility(enrollment(), { ...context, now: at(24 * HOUR) })).toEqual({ usable: true });
    }
  });
});

describe('re-confirmation', () => {
  it.each([
    [179, 'current'],
    [180, 'due'],
    [209, 'due'],
    [210, 'lapsed'],
  ] as const)('%i days after the last confirmation a method is %s', (days, status) => {
    expect(reconfirmation(enrollment(), policy, at(days * DAY))?.status).toBe(status);
  });

  it('counts the last successful use as a confirmation', () => {
    expect(reconfirmation(enrollment({ lastUsedAt: at(100 * DAY) }), policy, at(210 * DAY))?.status).toBe('current');
  });

  it('drops a lapsed method from reset and unlock but not from the sign-in that confirms it', () => {
    const base = { now: at(211 * DAY), policy, tier: 'standard' as const, usedEnrollmentIds: new Set<string>() };
    expect(gateEligibility(enrollment(), { ...base, lifecycle: { purpose: 'reset', coolingOffEnrollmentIds: new Set() } })).toEqual({ usable: false, reason: 'enrollment.reconfirmation_lapsed' });
    expect(gateEligibility(enrollment(), { ...base, lifecycle: { purpose: 'unlock', coolingOffEnrollmentIds: new Set() } })).toEqual({ usable: false, reason: 'enrollment.reconfirmation_lapsed' });
    expect(gateEligibility(enrollment(), { ...base, lifecycle: { purpose: 'sign_in', coolingOffEnrollmentIds: new Set() } })).toEqual({ usable: true });
  });
});

describe('lifecycle policy', () => {
  it('fills every key with the secure default when the section is left out', () => {
    const document = parse(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8')) as Record<string, unknown>;
    delete document['lifecycle'];
    expect(policySchema.parse(document).lifecycle).toEqual(policy.lifecycle);
  });

  it('refuses a privileged cooling-off under an hour, naming the key', () => {
    const document = parse(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8')) as { lifecycle: { coolingOffSeconds: { privileged: number } } };
    document.lifecycle.coolingOffSeconds.privileged = 60;
    const result = policySchema.safeParse(document);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['lifecycle', 'coolingOffSeconds', 'privileged']);
  });
});
