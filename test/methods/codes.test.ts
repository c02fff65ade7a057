import { describe, expect, it } from 'vitest';
import { emailCodeMethod } from '../../src/core/methods/email-code/email-code.ts';
import type { ChallengeStart, MethodContext, RecoveryMethod } from '../../src/core/methods/method.ts';
import { RECOVERY_CODE_ALPHABET, RECOVERY_CODE_BITS, RECOVERY_CODE_LENGTH, recoveryCodeMethod } from '../../src/core/methods/recovery-code/recovery-code.ts';
import { normaliseAnswer, securityQuestionsMethod } from '../../src/core/methods/security-questions/security-questions.ts';
import { smsCodeMethod } from '../../src/core/methods/sms-code/sms-code.ts';
import { enrolled, recordingRandom, testContext, testPolicy, testServices } from './fixtures.ts';

/*
 * TOK-2: one-time codes come from the CSPRNG, have the configured length, and show no structure.
 * The statistical checks use generous bounds: they catch a broken generator (modulo bias, a
 * constant, a short cycle), not a 1-in-1000 fluctuation.
 */

const SAMPLES = 1_000;

/** Chi-square statistic of digit counts against the uniform distribution. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

async function sample(method: RecoveryMethod, context: MethodContext, input: unknown, extract: (start: ChallengeStart) => string): Promise<string[]> {
  const enrollment = enrolled(await method.enroll(input, context));
  const codes: string[] = [];
  for (let i = 0; i < SAMPLES; i += 1) codes.push(extract(await method.beginChallenge(enrollment, context, `seed-${i}`)));
  return codes;
}

const emailCode = (start: ChallengeStart): string => /: (\d+)$/m.exec(start.message?.text ?? '')?.[1] ?? '';
const smsCode = (start: ChallengeStart): string => /: (\d+) is your/.exec(start.message?.text ?? '')?.[1] ?? '';

describe('TOK-2: email and SMS codes', () => {
  for (const [method, input, extract, length] of [
    [emailCodeMethod, { address: 'alice@example.org' }, emailCode, 8],
    [emailCodeMethod, { address: 'alice@example.org' }, emailCode, 6],
    [smsCodeMethod, { phone: '+447700900123' }, smsCode, 6],
    [smsCodeMethod, { phone: '+447700900123' }, smsCode, 10],
  ] as const) {
    it(`${method.id}: ${SAMPLES} codes of length ${length} are digits only, uniform, without repeats`, async () => {
      const random = recordingRandom();
      const policy = testPolicy({ methods: { [method.id]: { codeLength: length } } });
      const context = testContext({ policy, services: testServices(random) });
      const codes = await sample(method, context, input, extract);

      for (const code of codes) expect(code).toMatch(new RegExp(`^[0-9]{${length}}$`));
      // Every digit was one random.int(10) draw, in order.
      expect(random.ints.join('')).toBe(codes.join(''));

      const counts = Array.from({ length: 10 }, () => 0);
      for (const code of codes) for (const digit of code) counts[Number(digit)] = (counts[Number(digit)] ?? 0) + 1;
      // 9 degrees of freedom: p = 0.001 at 27.9; 45 is far beyond any honest sample.
      expect(chiSquare(counts)).toBeLessThan(45);

      // Birthday bound: for 10^6 codes, 1000 draws share a value about 0.5 times on average.
      expect(new Set(codes).size).toBeGreaterThanOrEqual(SAMPLES - 5);
      // No code repeats its predecessor and no trivially patterned code dominates.
      expect(codes.some((code, index) => index > 0 && code === codes[index - 1])).toBe(false);
      expect(codes.filter((code) => /^(\d)\1+$/.test(code)).length).toBeLessThanOrEqual(2);
      // Each position is uniform too (catches a stuck or biased position).
      for (let position = 0; position < length; position += 1) {
        const column = Array.from({ length: 10 }, () => 0);
        for (const code of codes) column[Number(code[position])] = (column[Number(code[position])] ?? 0) + 1;
        expect(chiSquare(column), `position ${position}`).toBeLessThan(45);
      }
    });
  }

  it('hashes the challenge code with mac("challenge", code)', async () => {
    const context = testContext();
    const start = await emailCodeMethod.beginChallenge(enrolled(await emailCodeMethod.enroll({ address: 'a@example.org' }, context)), context, 's');
    expect(start.secretHash).toBe(context.services.secrets.mac('challenge', emailCode(start)));
  });
});

describe('recovery codes', () => {
  it('carry at least 64 bits each from an unambiguous alphabet', () => {
    expect(RECOVERY_CODE_ALPHABET).toHaveLength(32);
    expect(RECOVERY_CODE_ALPHABET).not.toMatch(/[ILOU]/);
    expect(RECOVERY_CODE_BITS).toBeGreaterThanOrEqual(64);
    expect(RECOVERY_CODE_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length)).toBeGreaterThanOrEqual(64);
  });

  it('are unique within and across 100 sets, and uniformly drawn', async () => {
    const context = testContext({ policy: testPolicy({ methods: { recovery_code: { count: 20 } } }) });
    const all: string[] = [];
    for (let i = 0; i < 100; i += 1) {
      const draft = await recoveryCodeMethod.enroll({}, context);
      const codes = draft.shownOnce?.['codes'] as readonly string[];
      expect(new Set(codes).size).toBe(20);
      expect(new Set(draft.singleUse.map((item) => item.keyHash)).size).toBe(20);
      all.push(...codes);
    }
    expect(new Set(all).size).toBe(all.length);
    const counts = Array.from({ length: 32 }, () => 0);
    for (const code of all) for (const char of code.replace(/-/g, '')) counts[RECOVERY_CODE_ALPHABET.indexOf(char)] = (counts[RECOVERY_CODE_ALPHABET.indexOf(char)] ?? 0) + 1;
    // 31 degrees of freedom: p = 0.001 at 61.1.
    expect(chiSquare(counts)).toBeLessThan(75);
  });

  it('hash with a purpose-scoped key: the same text as a challenge code or TOTP step hashes differently', async () => {
    const context = testContext();
    const draft = await recoveryCodeMethod.enroll({}, context);
    const code = (draft.shownOnce?.['codes'] as readonly string[])[0]?.replace(/-/g, '') ?? '';
    const keyHash = draft.singleUse[0]?.keyHash;
    expect(draft.singleUse[0]?.purpose).toBe('recovery_code');
    expect(keyHash).toBe(context.services.secrets.mac('recovery_code', code));
    expect(keyHash).not.toBe(context.services.secrets.mac('challenge', code));
    expect(keyHash).not.toBe(context.services.secrets.mac('totp_step', code));
  });

  it('are scoped to their enrollment: the claim is a consume, which the engine keys by (enrollmentId, keyHash)', async () => {
    const context = testContext();
    const first = await recoveryCodeMethod.enroll({}, context);
    const second = await recoveryCodeMethod.enroll({}, context);
    const codeOfFirst = (first.shownOnce?.['codes'] as readonly string[])[0] ?? '';
    const outcome = await recoveryCodeMethod.verify({ code: codeOfFirst }, null, enrolled(second), context);
    // The method reports a well-formed code; its hash is registered only under the first
    // enrollment, so consume(secondId, keyHash) fails in the engine.
    expect(outcome.kind === 'match' && outcome.singleUse?.mode).toBe('consume');
    const keyHash = outcome.kind === 'match' ? outcome.singleUse?.keyHash : undefined;
    expect(second.singleUse.map((item) => item.keyHash)).not.toContain(keyHash);
    expect(first.singleUse.map((item) => item.keyHash)).toContain(keyHash);
  });
});

describe('security questions', () => {
  it('are refused while disabled (the default policy)', async () => {
    const context = testContext();
    expect(context.policy.methods.security_questions.enabled).toBe(false);
    const catalogue = context.policy.methods.security_questions.questions;
    const input = { answers: catalogue.slice(0, 3).map((question) => ({ question, answer: 'something' })) };
    await expect(securityQuestionsMethod.enroll(input, context)).rejects.toMatchObject({ code: 'method.not_allowed' });
  });

  it('normalise answers: "  Blue  Whale" == "blue whale"', () => {
    expect(normaliseAnswer('  Blue  Whale')).toBe('blue whale');
    expect(normaliseAnswer('BLUE\t\nWHALE ')).toBe('blue whale');
    expect(normaliseAnswer('Ｂｌｕｅ Whale')).toBe('blue whale');
    expect(normaliseAnswer('Cafe\u0301')).toBe(normaliseAnswer('Café'));
  });
});
