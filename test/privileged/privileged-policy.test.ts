import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../../src/core/policy/load.ts';
import { privilegedLoosenings } from '../../src/core/policy/privileged.ts';

/*
 * The privileged baseline as policy: the shipped default meets it; a policy that loosens it (email
 * or SMS codes as gates, no strong gate required, passwords under 15) is refused with FILE:LINE:COL
 * naming the loosened rule unless `privileged.looseningAcknowledged` lists that rule, and every
 * loosening, acknowledged or not, is reported by privilegedLoosenings for `policy paths`.
 */

const DEFAULT_TEXT = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8');
const FILE = 'policy.yaml';

function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped policy no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/** 1-based line and column of the nth occurrence of a needle. */
function position(text: string, needle: string, occurrence = 1): { line: number; column: number } {
  let index = -1;
  for (let i = 0; i < occurrence; i += 1) index = text.indexOf(needle, index + 1);
  if (index < 0) throw new Error(`${needle} not found`);
  const before = text.slice(0, index).split('\n');
  return { line: before.length, column: (before[before.length - 1]?.length ?? 0) + 1 };
}

const PRIVILEGED_METHODS = '  privileged:\n    selfService: true\n    # No email or SMS codes for administrators (FAC-4): only an authenticator app and recovery codes.\n    allowedMethods:\n      - totp\n      - recovery_code\n';
const PRIVILEGED_REQUIRE = '    gatesRequired: 2\n    requireOneOf:\n      - phishing_resistant\n      - possession\n    minEnrolledMethods: 2\n    # Fewer';
const PRIVILEGED_PASSWORD = '    password:\n      minLength: 15\n      maxLength: 256\n      blocklist: true\n      contextWords: true\n      breachedCheck: false\n\n  # Break-glass';

const withSms = edit(DEFAULT_TEXT, PRIVILEGED_METHODS, PRIVILEGED_METHODS.replace('      - recovery_code\n', '      - recovery_code\n      - sms_code\n'));
const withoutStrongGate = edit(DEFAULT_TEXT, PRIVILEGED_REQUIRE, PRIVILEGED_REQUIRE.replace('    requireOneOf:\n      - phishing_resistant\n      - possession\n', '    requireOneOf: []\n'));
const shortPassword = edit(DEFAULT_TEXT, PRIVILEGED_PASSWORD, PRIVILEGED_PASSWORD.replace('minLength: 15', 'minLength: 12'));

const ACK_AT = '  confirmationDeadlineSeconds: 86400\n';
const acknowledge = (text: string, rules: readonly string[], extra = ''): string =>
  edit(text, ACK_AT, `${ACK_AT}  looseningAcknowledged:\n    rules: [${rules.join(', ')}]\n    by: Chief Information Security Officer\n    reason: The legacy admin fleet has no authenticator apps until Q3; risk accepted by the board.\n    at: 2026-11-20\n${extra}`);

const errorsOf = (text: string): string[] => {
  const result = parsePolicy(text, FILE);
  return result.ok ? [] : result.errors.map(formatPolicyError);
};

describe('the privileged baseline', () => {
  it('is met by the shipped policy: nothing loosened, nothing to acknowledge', () => {
    const parsed = parsePolicy(DEFAULT_TEXT, FILE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(privilegedLoosenings(parsed.policy)).toEqual([]);
    expect(parsed.policy.tiers.privileged).toMatchObject({ gatesRequired: 2, requireOneOf: ['phishing_resistant', 'possession'], password: { minLength: 15 } });
    expect(parsed.policy.tiers.privileged.allowedMethods).toEqual(['totp', 'recovery_code']);
    expect(parsed.policy.privileged).toEqual({ holdForConfirmation: false, confirmationDeadlineSeconds: 86_400 });
  });

  it('refuses SMS codes as privileged gates without an acknowledgement, at the line and column of the method', () => {
    const at = position(withSms, '- sms_code\n', 2);
    expect(errorsOf(withSms)).toEqual([
      `${FILE}:${at.line}:${at.column + 2} tiers.privileged.allowedMethods[2]: sms_code is too weak for privileged accounts (FAC-4): email and SMS codes are phishable and interceptable; a policy that loosens the privileged baseline needs privileged.looseningAcknowledged listing 'weak_gate_method' with by, reason and at`,
    ]);
  });

  it('refuses a privileged tier that requires no strong gate, naming the rule', () => {
    const errors = errorsOf(withoutStrongGate);
    const at = position(withoutStrongGate, 'requireOneOf: []');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${FILE}:${at.line}:${at.column + 14} tiers\\.privileged\\.requireOneOf: .*'strong_gate_not_required'`));
  });

  it('refuses a privileged password minimum under 15, naming the rule', () => {
    const errors = errorsOf(shortPassword);
    const at = position(shortPassword, 'minLength: 12');
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^${FILE}:${at.line}:${at.column + 11} tiers\\.privileged\\.password\\.minLength: .*shorter than 15.*'short_password'`))]);
  });

  it('accepts each loosening once acknowledged, and reports it as a finding with who accepted it and why', () => {
    const text = acknowledge(withSms, ['weak_gate_method']);
    const parsed = parsePolicy(text, FILE);
    expect(parsed.ok ? [] : parsed.errors.map(formatPolicyError)).toEqual([]);
    if (!parsed.ok) return;
    expect(privilegedLoosenings(parsed.policy)).toEqual([
      {
        kind: 'privileged_loosening',
        rule: 'weak_gate_method',
        severity: 'high',
        path: ['tiers', 'privileged', 'allowedMethods', 2],
        message: 'sms_code is too weak for privileged accounts (FAC-4): email and SMS codes are phishable and interceptable',
        acknowledged: { by: 'Chief Information Security Officer', reason: 'The legacy admin fleet has no authenticator apps until Q3; risk accepted by the board.', at: '2026-11-20' },
      },
    ]);
  });

  it('still refuses a loosening the acknowledgement does not list', () => {
    const both = acknowledge(edit(withSms, PRIVILEGED_PASSWORD, PRIVILEGED_PASSWORD.replace('minLength: 15', 'minLength: 12')), ['weak_gate_method']);
    const errors = errorsOf(both);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("tiers.privileged.password.minLength: privileged passwords may be shorter than 15 characters");
    const parsed = parsePolicy(acknowledge(edit(withSms, PRIVILEGED_PASSWORD, PRIVILEGED_PASSWORD.replace('minLength: 15', 'minLength: 12')), ['weak_gate_method', 'short_password']), FILE);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(privilegedLoosenings(parsed.policy).map((finding) => [finding.rule, finding.acknowledged?.by])).toEqual([['weak_gate_method', 'Chief Information Security Officer'], ['short_password', 'Chief Information Security Officer']]);
  });

  it('refuses an acknowledgement of a rule the policy does not loosen, so it cannot pre-approve a later change', () => {
    const text = acknowledge(DEFAULT_TEXT, ['short_password']);
    const at = position(text, 'short_password');
    expect(errorsOf(text)).toEqual([`${FILE}:${at.line}:${at.column} privileged.looseningAcknowledged.rules[0]: 'short_password' is acknowledged but the policy does not loosen it; remove it`]);
  });

  it('refuses an acknowledgement without a reason or date', () => {
    const text = edit(acknowledge(withSms, ['weak_gate_method']), '    at: 2026-11-20\n', '    at: last tuesday\n');
    expect(errorsOf(text).join('\n')).toContain('privileged.looseningAcknowledged.at');
    const noReason = edit(acknowledge(withSms, ['weak_gate_method']), '    reason: The legacy admin fleet has no authenticator apps until Q3; risk accepted by the board.\n', '');
    expect(errorsOf(noReason).join('\n')).toContain("missing required key 'reason'");
  });

  it('never lets security questions or a single gate through, acknowledged or not', () => {
    const questions = acknowledge(edit(DEFAULT_TEXT, PRIVILEGED_METHODS, PRIVILEGED_METHODS.replace('      - recovery_code\n', '      - recovery_code\n      - security_questions\n')), ['weak_gate_method']);
    expect(errorsOf(questions).join('\n')).toContain('security_questions can never be a gate');
    const oneGate = edit(DEFAULT_TEXT, PRIVILEGED_REQUIRE, PRIVILEGED_REQUIRE.replace('gatesRequired: 2', 'gatesRequired: 1'));
    expect(errorsOf(oneGate).join('\n')).toContain('tiers.privileged.gatesRequired');
  });
});
