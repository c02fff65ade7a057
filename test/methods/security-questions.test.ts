import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/core/errors.ts';
import { securityQuestionsMethod } from '../../src/core/methods/security-questions/security-questions.ts';
import type { PasswordHasher } from '../../src/core/ports/system.ts';
import type { MethodContext } from '../../src/core/methods/method.ts';
import { methodContract } from './method.contract.ts';
import { enrolled, testContext, testPolicy, testServices } from './fixtures.ts';

const enabledPolicy = testPolicy({ methods: { security_questions: { enabled: true } } });
const catalogue = enabledPolicy.methods.security_questions.questions;
const q = (index: number): string => catalogue[index] ?? '';
const validInput = {
  answers: [
    { question: q(0), answer: 'Baker Street' },
    { question: q(1), answer: 'Ford Escort' },
    { question: q(3), answer: '  Blue  Whale' },
  ],
};
const enabled = (services = testServices()): MethodContext => testContext({ policy: enabledPolicy, services });

methodContract({
  method: securityQuestionsMethod,
  context: () => enabled(),
  validEnrollInput: validInput,
  invalidEnrollInputs: [
    null,
    {},
    { answers: 'x' },
    { answers: validInput.answers.slice(0, 2) },
    { answers: [...validInput.answers, { question: q(4), answer: 'Leeds' }] },
    { answers: [validInput.answers[0], validInput.answers[1], { question: 'What is your favourite colour?', answer: 'blue' }] },
    { answers: [validInput.answers[0], validInput.answers[1], { question: q(0), answer: 'again' }] },
    { answers: [validInput.answers[0], validInput.answers[1], { question: q(3), answer: ' a  ' }] },
    { answers: [validInput.answers[0], validInput.answers[1], { question: q(3), answer: 'x'.repeat(200) }] },
    { answers: [validInput.answers[0], validInput.answers[1], { question: q(3), answer: 42 }] },
    { answers: validInput.answers, extra: true },
  ],
  correctAnswer: () => ({ answers: ['baker street', 'FORD ESCORT', 'blue whale'] }),
  wrongAnswers: () => [
    { answers: ['baker street', 'ford escort', 'blue shark'] },
    { answers: ['wrong', 'ford escort', 'blue whale'] },
    { answers: ['baker street', 'ford escort'] },
    { answers: ['blue whale', 'ford escort', 'baker street'] },
  ],
});

describe('security_questions specifics', () => {
  it('is refused while disabled, which is the default', async () => {
    const error: unknown = await securityQuestionsMethod.enroll(validInput, testContext()).catch((caught: unknown) => caught);
    expect(isDomainError(error) && error.code).toBe('method.not_allowed');
    expect(securityQuestionsMethod.countsAsGate).toBe(false);
  });

  it('stores argon2id hashes of normalised answers, never the answers', async () => {
    const context = enabled();
    const draft = await securityQuestionsMethod.enroll(validInput, context);
    expect(draft).toMatchObject({ status: 'active', label: 'Security questions', channelAddress: null, shownOnce: null, singleUse: [] });
    const serialised = JSON.stringify(draft);
    expect(serialised).not.toMatch(/baker|escort|whale/i);
    const stored = draft.secret['answers'] as { question: string; answerHash: string }[];
    expect(stored.map((item) => item.question)).toEqual([q(0), q(1), q(3)]);
    for (const item of stored) expect(item.answerHash).toMatch(/^\$argon2id\$/);
    expect(await context.services.passwords.verify(stored[2]?.answerHash ?? '', 'blue whale')).toBe(true);
  });

  it('normalises answers: "  Blue  Whale" equals "blue whale"', async () => {
    const context = enabled();
    const enrollment = enrolled(await securityQuestionsMethod.enroll(validInput, context));
    for (const third of ['blue whale', 'BLUE WHALE', ' blue\twhale ', 'ｂｌｕｅ whale', 'blue\u200b whale']) {
      const outcome = await securityQuestionsMethod.verify({ answers: ['Baker  Street', 'ford escort', third] }, null, enrollment, context);
      expect(outcome, third).toEqual({ kind: 'match', singleUse: null });
    }
  });

  it('shows the enrolled questions, and a decoy stable catalogue questions per seed', async () => {
    const context = enabled();
    const enrollment = enrolled(await securityQuestionsMethod.enroll(validInput, context));
    const real = await securityQuestionsMethod.beginChallenge(enrollment, context, 'seed');
    expect(real.prompt).toEqual({ methodId: 'security_questions', answerKind: 'answers', codeLength: null, questions: [q(0), q(1), q(3)] });
    const picks = new Set<string>();
    for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const first = await securityQuestionsMethod.beginChallenge(null, context, seed);
      const again = await securityQuestionsMethod.beginChallenge(null, context, seed);
      expect(again.prompt.questions).toEqual(first.prompt.questions);
      expect(first.prompt.questions).toHaveLength(3);
      expect(new Set(first.prompt.questions).size).toBe(3);
      picks.add(first.prompt.questions.join('|'));
    }
    expect(picks.size).toBeGreaterThan(1);
  });

  it('runs argon2 for every answer, even after a wrong one, and as often for a decoy', async () => {
    const base = testServices();
    let verifies = 0;
    const counting: PasswordHasher = {
      hash: (password) => base.passwords.hash(password),
      verify: (hash, password) => {
        verifies += 1;
        return base.passwords.verify(hash, password);
      },
    };
    const context = enabled({ ...base, passwords: counting });
    const enrollment = enrolled(await securityQuestionsMethod.enroll(validInput, context));
    verifies = 0;
    expect((await securityQuestionsMethod.verify({ answers: ['wrong', 'wrong', 'wrong'] }, null, enrollment, context)).kind).toBe('mismatch');
    expect(verifies).toBe(3);
    verifies = 0;
    expect((await securityQuestionsMethod.verify({ answers: ['baker street', 'ford escort', 'blue whale'] }, null, null, context)).kind).toBe('mismatch');
    expect(verifies).toBe(3);
  });
});
