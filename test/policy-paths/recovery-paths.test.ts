import { describe, expect, it } from 'vitest';
import { METHOD_IDS } from '../../src/core/methods/method-ids.ts';
import { canAddGate, evaluateGates, METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';
import { allPathFindings, formatPolicyPaths, recoveryPaths } from '../../src/core/policy/paths/recovery-paths.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { DEFAULT_POLICY_TEXT, policyOf, policyText, weakEdit } from './fixtures.ts';

const DEFAULT = policyOf(DEFAULT_POLICY_TEXT);
const WEAK = policyOf(policyText(weakEdit));

const combos = (policy: Policy, tier: 'standard' | 'privileged'): string[] =>
  recoveryPaths(policy)
    .tiers.find((entry) => entry.tier === tier)
    ?.paths.map((path) => path.methods.join('+')) ?? [];

const findingLines = (policy: Policy): string[] =>
  recoveryPaths(policy).tiers.flatMap((tier) => [
    ...tier.findings.map((finding) => `${tier.tier} ${finding.severity} ${finding.code}`),
    ...tier.paths.flatMap((path) => path.findings.map((finding) => `${tier.tier} ${path.methods.join('+')} ${finding.severity} ${finding.code}`)),
    ...(tier.helpdesk?.findings ?? []).map((finding) => `${tier.tier} helpdesk ${finding.severity} ${finding.code}`),
  ]);

/** Every subset of `items` of exactly `size` elements. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, index) => subsets(items.slice(index + 1), size - 1).map((rest) => [item, ...rest]));
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
}

/** Whether the engine lets `order` be taken gate by gate and ends satisfied. */
function engineCompletes(policy: Policy, tier: 'standard' | 'privileged', order: readonly (typeof METHOD_IDS)[number][]): boolean {
  const rules = policy.tiers[tier];
  const taken = [];
  for (const method of order) {
    if (!canAddGate(rules, taken, METHOD_GATE_FACTS[method]).ok) return false;
    taken.push(METHOD_GATE_FACTS[method]);
  }
  return evaluateGates(rules, taken).satisfied;
}

describe('policy paths', () => {
  it('lists exactly the nine standard and one privileged combination of the shipped default, and no break-glass path', () => {
    expect(combos(DEFAULT, 'standard')).toEqual(['webauthn+totp', 'webauthn+recovery_code', 'webauthn+email_code', 'webauthn+sms_code', 'totp+recovery_code', 'totp+email_code', 'totp+sms_code', 'recovery_code+email_code', 'recovery_code+sms_code']);
    expect(combos(DEFAULT, 'privileged')).toEqual(['totp+recovery_code']);
    const breakGlass = recoveryPaths(DEFAULT).tiers.find((tier) => tier.tier === 'break_glass');
    expect(breakGlass).toMatchObject({ selfService: false, paths: [], helpdesk: null });
  });

  it('marks each default path with its weakest and strongest class', () => {
    const standard = recoveryPaths(DEFAULT).tiers[0];
    expect(standard?.paths.map((path) => `${path.methods.join('+')} ${path.weakest}..${path.strongest}`)).toEqual([
      'webauthn+totp possession..phishing_resistant',
      'webauthn+recovery_code possession..phishing_resistant',
      'webauthn+email_code possession_weak..phishing_resistant',
      'webauthn+sms_code possession_weak..phishing_resistant',
      'totp+recovery_code possession..possession',
      'totp+email_code possession_weak..possession',
      'totp+sms_code possession_weak..possession',
      'recovery_code+email_code possession_weak..possession',
      'recovery_code+sms_code possession_weak..possession',
    ]);
  });

  it('finds exactly these four things in the shipped default (none of them high)', () => {
    expect(findingLines(DEFAULT)).toEqual([
      'standard totp+sms_code warning path.same_device',
      'standard helpdesk warning helpdesk.out_of_band_verification',
      'privileged totp+recovery_code warning path.privileged_not_phishing_resistant',
      'break_glass info tier.no_self_service',
    ]);
    expect(recoveryPaths(DEFAULT).findingCount).toBe(4);
  });

  it('finds exactly these things in a deliberately weak policy', () => {
    expect(combos(WEAK, 'standard')).toEqual([
      'totp+temporary_access_pass',
      'totp+email_code',
      'totp+sms_code',
      'temporary_access_pass+email_code',
      'temporary_access_pass+sms_code',
      'email_code+sms_code',
    ]);
    expect(combos(WEAK, 'privileged')).toEqual(['totp+sms_code']);
    expect(findingLines(WEAK)).toEqual([
      'standard high tier.method_not_approved',
      'standard totp+temporary_access_pass info path.helpdesk_issued',
      'standard totp+temporary_access_pass high path.method_not_approved',
      'standard totp+sms_code warning path.same_device',
      'standard temporary_access_pass+email_code info path.helpdesk_issued',
      'standard temporary_access_pass+email_code high path.method_not_approved',
      'standard temporary_access_pass+sms_code info path.helpdesk_issued',
      'standard temporary_access_pass+sms_code high path.method_not_approved',
      'standard email_code+sms_code high path.weak_only',
      'standard helpdesk warning helpdesk.out_of_band_verification',
      'privileged high tier.loosening_acknowledged',
      'privileged high tier.loosening_acknowledged',
      'privileged totp+sms_code warning path.same_device',
      'privileged totp+sms_code warning path.privileged_not_phishing_resistant',
      'privileged helpdesk high helpdesk.out_of_band_verification',
      'break_glass info tier.no_self_service',
    ]);
    const text = formatPolicyPaths(recoveryPaths(WEAK));
    expect(text).toContain('! high tier.method_not_approved: method enabled but not approved: tiers.standard.allowedMethods lists temporary_access_pass, governance.approvedMethods does not');
    expect(text).toContain('! high path.weak_only: every gate is phishable or interceptable (email_code + sms_code)');
    expect(text).toContain('acknowledged by CISO on 2026-11-01: Field admins have no smartphones yet.');
    expect(allPathFindings(recoveryPaths(WEAK))).toHaveLength(16);
  });

  it('lists a combination exactly when some order of it completes in the engine, and every order the engine admits', () => {
    for (const policy of [DEFAULT, WEAK]) {
      for (const tier of ['standard', 'privileged'] as const) {
        const listed = recoveryPaths(policy).tiers.find((entry) => entry.tier === tier)?.paths ?? [];
        for (let size = 1; size <= 4; size += 1) {
          for (const subset of subsets(METHOD_IDS, size)) {
            const completingOrders = permutations(subset).filter((order) => engineCompletes(policy, tier, order));
            const path = listed.find((candidate) => candidate.methods.length === subset.length && subset.every((method) => candidate.methods.includes(method)));
            expect(path?.orders.map((order) => order.join('+')).sort() ?? [], `${tier} ${subset.join('+')}`).toEqual(completingOrders.map((order) => order.join('+')).sort());
          }
        }
      }
    }
  });
});
