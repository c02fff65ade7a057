import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { MethodId } from '../../src/core/methods/method-ids.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { canAddGate, evaluateGates, METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';
import type { GateAdmission, GateEvaluation, GateFact } from '../../src/core/policy/gates.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { TierPolicy } from '../../src/core/policy/schema.ts';

const parsed = parsePolicy(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'), 'default.yaml');
if (!parsed.ok) throw new Error('default policy refused');
const STANDARD: TierPolicy = parsed.policy.tiers.standard;
const PRIVILEGED: TierPolicy = parsed.policy.tiers.privileged;
/** Any two gates will do: no strength class is required. */
const LENIENT: TierPolicy = { ...STANDARD, requireOneOf: [] };
/** Three gates, one of them strong. */
const THREE: TierPolicy = { ...STANDARD, gatesRequired: 3, minEnrolledMethods: 3 };
const NO_SELF_SERVICE: TierPolicy = { ...STANDARD, selfService: false };

const email = METHOD_GATE_FACTS.email_code;
const sms = METHOD_GATE_FACTS.sms_code;
const totp = METHOD_GATE_FACTS.totp;
const recovery = METHOD_GATE_FACTS.recovery_code;
const questions = METHOD_GATE_FACTS.security_questions;
/** A hypothetical second method over the authenticator-app channel: a different id, the same proof. */
const appPush: GateFact = { ...recovery, channel: 'authenticator_app' };
/** A hypothetical second email method (a link instead of a code): the same channel as email_code. */
const emailLink: GateFact = { ...totp, methodId: 'recovery_code', channel: 'email' };

const STRONG = ['phishing_resistant', 'possession'] as const;

describe('evaluateGates', () => {
  const cases: readonly [string, TierPolicy, readonly GateFact[], GateEvaluation][] = [
    ['no gates yet needs both gates and a strong one', STANDARD, [], { satisfied: false, remaining: 2, missingClasses: STRONG }],
    ['one email gate still needs one strong gate', STANDARD, [email], { satisfied: false, remaining: 1, missingClasses: STRONG }],
    ['one TOTP gate needs any one more gate', STANDARD, [totp], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['email + SMS are two gates but neither is strong, so the reset is not allowed (FAC-1)', STANDARD, [email, sms], { satisfied: false, remaining: 1, missingClasses: STRONG }],
    ['email + TOTP satisfy the standard tier', STANDARD, [email, totp], { satisfied: true, remaining: 0, missingClasses: [] }],
    ['TOTP + recovery code satisfy the standard tier', STANDARD, [totp, recovery], { satisfied: true, remaining: 0, missingClasses: [] }],
    ['the same method twice counts once', STANDARD, [totp, totp], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['two methods over one channel count once (FAC-3)', STANDARD, [totp, appPush], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['an email link after an email code counts once (FAC-3)', LENIENT, [email, emailLink], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['security questions never count as a gate (FAC-6)', STANDARD, [questions, totp], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['a method the tier does not allow does not count (FAC-4)', PRIVILEGED, [email, totp], { satisfied: false, remaining: 1, missingClasses: [] }],
    ['TOTP + recovery code satisfy the privileged tier', PRIVILEGED, [recovery, totp], { satisfied: true, remaining: 0, missingClasses: [] }],
    ['without requireOneOf, email + SMS satisfy the tier', LENIENT, [email, sms], { satisfied: true, remaining: 0, missingClasses: [] }],
    ['three required gates of which two are weak still need one strong gate', THREE, [email, sms], { satisfied: false, remaining: 1, missingClasses: STRONG }],
    ['a tier without self-service is never satisfied', NO_SELF_SERVICE, [totp, recovery], { satisfied: false, remaining: 2, missingClasses: STRONG }],
  ];

  it.each(cases)('%s', (_name, tier, gates, expected) => {
    expect(evaluateGates(tier, gates)).toEqual(expected);
  });
});

describe('canAddGate', () => {
  const OK: GateAdmission = { ok: true };
  const USED: GateAdmission = { ok: false, reason: 'method.already_used' };
  const NOT_ALLOWED: GateAdmission = { ok: false, reason: 'method.not_allowed' };

  const cases: readonly [string, TierPolicy, readonly GateFact[], GateFact, GateAdmission][] = [
    ['a weak method may start the flow when two gates remain', STANDARD, [], email, OK],
    ['a strong method may start the flow', STANDARD, [], totp, OK],
    ['SMS after email is refused: it would use the last gate without a strong one (FAC-1)', STANDARD, [email], sms, NOT_ALLOWED],
    ['email after SMS is refused for the same reason', STANDARD, [sms], email, NOT_ALLOWED],
    ['TOTP after email is accepted', STANDARD, [email], totp, OK],
    ['SMS after TOTP is accepted: the strong gate is already there', STANDARD, [totp], sms, OK],
    ['the same method twice is refused', STANDARD, [totp], totp, USED],
    ['email twice is refused', STANDARD, [email], email, USED],
    ['another method over an already used channel is refused (FAC-3)', STANDARD, [totp], appPush, USED],
    ['an email link after an email code is refused (FAC-3)', LENIENT, [email], emailLink, USED],
    ['a method the tier does not allow is refused (FAC-4)', PRIVILEGED, [], email, NOT_ALLOWED],
    ['SMS is refused for privileged accounts even after a strong gate (FAC-4)', PRIVILEGED, [totp], sms, NOT_ALLOWED],
    ['security questions are never a gate (FAC-6)', STANDARD, [totp], questions, NOT_ALLOWED],
    ['no further gate is taken once the tier is satisfied', STANDARD, [totp, email], recovery, NOT_ALLOWED],
    ['without requireOneOf, SMS after email is accepted', LENIENT, [email], sms, OK],
    ['with three gates required, a second weak gate is accepted while two remain', THREE, [email], sms, OK],
    ['with three gates required, the last gate must be strong when none was', THREE, [email, sms], totp, OK],
    ['no gate is accepted for a tier without self-service', NO_SELF_SERVICE, [], totp, NOT_ALLOWED],
  ];

  it.each(cases)('%s', (_name, tier, gates, candidate, expected) => {
    expect(canAddGate(tier, gates, candidate)).toEqual(expected);
  });
});

describe('gate selection as a whole', () => {
  /** Every ordering of a list (small lists only). */
  function permutations<T>(items: readonly T[]): T[][] {
    if (items.length <= 1) return [[...items]];
    return items.flatMap((item, index) => permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]));
  }

  const methods: readonly MethodId[] = ['email_code', 'sms_code', 'totp', 'recovery_code', 'security_questions'];

  it.each([
    ['standard', STANDARD],
    ['privileged', PRIVILEGED],
    ['three-gate', THREE],
  ] as const)('in the %s tier, any order of attempts that canAddGate admits ends satisfied, with a strong gate', (_name, tier) => {
    for (const order of permutations(methods)) {
      const gates: GateFact[] = [];
      for (const methodId of order) {
        const candidate = METHOD_GATE_FACTS[methodId];
        if (canAddGate(tier, gates, candidate).ok) gates.push(candidate);
      }
      const evaluation = evaluateGates(tier, gates);
      expect(evaluation.satisfied, order.join(' → ')).toBe(true);
      expect(gates).toHaveLength(tier.gatesRequired);
      expect(gates.some((gate) => tier.requireOneOf.includes(gate.strength))).toBe(true);
      expect(new Set(gates.map((gate) => gate.channel)).size).toBe(gates.length);
    }
  });

  it('never lets a flow reach a state where every gate is used but the policy is unmet', () => {
    for (const first of Object.values(METHOD_GATE_FACTS)) {
      for (const second of Object.values(METHOD_GATE_FACTS)) {
        const gates: GateFact[] = [];
        for (const candidate of [first, second]) if (canAddGate(STANDARD, gates, candidate).ok) gates.push(candidate);
        const evaluation = evaluateGates(STANDARD, gates);
        if (gates.length === STANDARD.gatesRequired) expect(evaluation.satisfied).toBe(true);
      }
    }
  });
});
