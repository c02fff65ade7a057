import { describe, expect, it } from 'vitest';
import { recoveryCodeMethod, normaliseRecoveryCode } from '../../src/core/methods/recovery-code/recovery-code.ts';
import { methodContract } from './method.contract.ts';
import { enrolled, testContext, testPolicy } from './fixtures.ts';

const codesOf = (shownOnce: Readonly<Record<string, string | readonly string[]>> | null): readonly string[] => {
  const codes = shownOnce?.['codes'];
  if (!Array.isArray(codes)) throw new Error('no codes shown');
  return codes as readonly string[];
};

methodContract({
  method: recoveryCodeMethod,
  context: () => testContext(),
  validEnrollInput: {},
  invalidEnrollInputs: [{ count: 50 }, 'codes', 42],
  correctAnswer: ({ draft }) => ({ code: codesOf(draft.shownOnce)[0] ?? '' }),
  // Well-formed codes that were never issued: the method returns a consume claim, which the
  // engine's consume refuses (wouldPass models that); malformed ones are a plain mismatch.
  wrongAnswers: () => [{ code: '0000-0000-00000' }, { code: 'ZZZZ-ZZZZ-ZZZZZ' }, { code: 'UUUU-UUUU-UUUUU' }, { code: 'ABCD-EFGH' }],
});

describe('recovery_code specifics', () => {
  it('issues policy count codes shown once as XXXX-XXXX-XXXXX, active at once, stored only as hashes', async () => {
    const context = testContext();
    const draft = await recoveryCodeMethod.enroll({}, context);
    const codes = codesOf(draft.shownOnce);
    expect(codes).toHaveLength(10);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{5}$/);
    expect(draft).toMatchObject({ status: 'active', channelAddress: null, label: 'Recovery codes (10)', secret: { count: 10 } });
    expect(draft.singleUse).toHaveLength(10);
    const serialised = JSON.stringify({ secret: draft.secret, label: draft.label, singleUse: draft.singleUse });
    for (const code of codes) expect(serialised).not.toContain(code.replace(/-/g, '').slice(0, 8));
  });

  it('returns a consume claim on the enroll-time hash for each code, however it is typed', async () => {
    const context = testContext();
    const draft = await recoveryCodeMethod.enroll({}, context);
    const enrollment = enrolled(draft);
    const codes = codesOf(draft.shownOnce);
    for (const [index, code] of codes.entries()) {
      const typed = index % 2 === 0 ? code.toLowerCase() : ` ${code.replace(/-/g, ' ')} `;
      const outcome = await recoveryCodeMethod.verify({ code: typed }, null, enrollment, context);
      expect(outcome).toEqual({ kind: 'match', singleUse: { purpose: 'recovery_code', keyHash: draft.singleUse[index]?.keyHash, mode: 'consume' } });
    }
  });

  it('maps Crockford look-alikes (O→0, I/L→1) and refuses U', () => {
    expect(normaliseRecoveryCode('o1i1-L000-ZZZZZ')).toBe('01111000ZZZZZ');
    expect(normaliseRecoveryCode('U000-0000-00000')).toBeNull();
    expect(normaliseRecoveryCode('0000-0000-0000')).toBeNull();
    expect(normaliseRecoveryCode('0000–0000—00000')).toBe('0000000000000');
  });

  it('follows policy count', async () => {
    const context = testContext({ policy: testPolicy({ methods: { recovery_code: { count: 5 } } }) });
    expect(codesOf((await recoveryCodeMethod.enroll({}, context)).shownOnce)).toHaveLength(5);
  });
});
