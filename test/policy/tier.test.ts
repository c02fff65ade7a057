import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { resolveTier } from '../../src/core/policy/tier.ts';

const parsed = parsePolicy(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'), 'default.yaml');
if (!parsed.ok) throw new Error('default policy refused');
const policy = parsed.policy;

describe('resolveTier', () => {
  it.each([
    ['no groups', [], 'standard'],
    ['ordinary groups', ['staff', 'finance'], 'standard'],
    ['a privileged group', ['staff', 'admins'], 'privileged'],
    ['a privileged group in another case', ['DOMAIN ADMINS'], 'privileged'],
    ['a privileged group given as a distinguished name', ['CN=Domain Admins,CN=Users,DC=corp,DC=example'], 'privileged'],
    ['a privileged group whose DN escapes a comma', ['CN=Admins\\, Tier 0,OU=Groups,DC=corp'], 'standard'],
    ['the break-glass group', ['break-glass'], 'break_glass'],
    ['break-glass and privileged groups together (break-glass wins)', ['admins', 'Break-Glass'], 'break_glass'],
    ['a group that only contains a privileged name', ['admins-readonly'], 'standard'],
  ] as const)('resolves %s', (_name, groups, tier) => {
    expect(resolveTier(policy, groups)).toBe(tier);
  });

  it('matches a configured group with an escaped comma in its common name', () => {
    const custom = { ...policy, tierGroups: { ...policy.tierGroups, privileged: ['Admins, Tier 0'] } };
    expect(resolveTier(custom, ['CN=Admins\\, Tier 0,OU=Groups,DC=corp'])).toBe('privileged');
    expect(resolveTier(custom, ['CN=Admins\\2C Tier 0,OU=Groups,DC=corp'])).toBe('privileged');
  });

  it('makes an account the directory marks privileged at least privileged, and break-glass groups still win', () => {
    expect(resolveTier(policy, ['staff'], true)).toBe('privileged');
    expect(resolveTier(policy, [], false)).toBe('standard');
    expect(resolveTier(policy, ['break-glass'], true)).toBe('break_glass');
  });
});
