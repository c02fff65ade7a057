import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../src/core/errors.ts';
import { METHOD_IDS, CHANNEL_KINDS, STRENGTH_CLASSES } from '../../src/core/methods/method-ids.ts';
import { METHOD_REGISTRY } from '../../src/core/methods/registry.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../../src/core/methods/method.ts';
import { enrolled } from './fixtures.ts';

/** What a method's test file supplies to run the shared contract. */
export interface ContractSubject {
  readonly method: RecoveryMethod;
  /** A context under which the method is enabled. */
  readonly context: () => MethodContext;
  readonly validEnrollInput: unknown;
  /** Inputs `enroll` must refuse with `enrollment.invalid_input`. */
  readonly invalidEnrollInputs: readonly unknown[];
  /** The right answer to a real challenge, from what the person would have seen. */
  correctAnswer(setup: Setup): ChallengeAnswer;
  /** Answers that are well-formed but wrong. */
  wrongAnswers(setup: Setup): readonly ChallengeAnswer[];
}

export interface Setup {
  readonly context: MethodContext;
  readonly draft: EnrollmentDraft;
  readonly enrollment: EnrolledSecret;
  readonly real: ChallengeStart;
}

/**
 * Whether the engine would count this outcome as passed: a match without a claim passes; a claim
 * passes the first time; a `consume` passes only if its key was registered at enrollment (what
 * SingleUseRepository.consume decides).
 */
export function wouldPass(outcome: VerifyOutcome, draft: EnrollmentDraft): boolean {
  if (outcome.kind === 'mismatch') return false;
  if (outcome.singleUse === null || outcome.singleUse.mode === 'claim') return true;
  const claim = outcome.singleUse;
  return draft.singleUse.some((item) => item.keyHash === claim.keyHash && item.purpose === claim.purpose);
}

const huge = 'x'.repeat(100_000);
/** Answers of the wrong shape, empty, or absurdly long: every method must say mismatch, never throw. */
export const MALFORMED_ANSWERS: readonly unknown[] = [
  null,
  undefined,
  42,
  'code',
  [],
  {},
  { code: 12345678 },
  { code: null },
  { code: '' },
  { code: ' ' },
  { code: huge },
  { code: '1'.repeat(100_000) },
  { code: ['12345678'] },
  { code: { toString: () => '123456' } },
  { code: '１２３４５６７８' },
  { code: '12345678\u0000' },
  { code: '-1234567' },
  { code: '1e+07000' },
  { answers: 'blue whale' },
  { answers: [1, 2, 3] },
  { answers: [] },
  { answers: [huge, huge, huge] },
  { answers: null },
  { answers: Array.from({ length: 10_000 }, () => 'x') },
];

/** The prompt with question texts reduced to their count (security-question decoys pick their own). */
const shape = (prompt: ChallengePrompt): Omit<ChallengePrompt, 'questions'> & { questions: number } => ({ ...prompt, questions: prompt.questions.length });

async function setUp(subject: ContractSubject): Promise<Setup> {
  const context = subject.context();
  const draft = await subject.method.enroll(subject.validEnrollInput, context);
  const enrollment = enrolled(draft);
  const real = await subject.method.beginChallenge(enrollment, context, 'seed-1');
  return { context, draft, enrollment, real };
}

/** The shared RecoveryMethod contract; each method's test file calls it once. */
export function methodContract(subject: ContractSubject): void {
  const { method } = subject;

  describe(`${method.id}: RecoveryMethod contract`, () => {
    it('is registered under its id with a known strength and channel', () => {
      expect(METHOD_IDS).toContain(method.id);
      expect(METHOD_REGISTRY[method.id]).toBe(method);
      expect(STRENGTH_CLASSES).toContain(method.strength);
      expect(CHANNEL_KINDS).toContain(method.channel);
      expect(method.countsAsGate).toBe(method.strength !== 'knowledge');
    });

    it('enrolls valid input into a draft with a label and no plain secret in the label', async () => {
      const { draft } = await setUp(subject);
      expect(draft.label.length).toBeGreaterThan(0);
      expect(['pending', 'active']).toContain(draft.status);
      for (const value of Object.values(draft.secret)) {
        if (typeof value === 'string' && value.length > 6) expect(draft.label).not.toContain(value);
      }
    });

    it('refuses invalid enrollment input with enrollment.invalid_input naming the field', async () => {
      const context = subject.context();
      for (const input of subject.invalidEnrollInputs) {
        const error: unknown = await method.enroll(input, context).then(
          () => new Error(`accepted ${JSON.stringify(input)}`),
          (caught: unknown) => caught,
        );
        expect(isDomainError(error), `input ${JSON.stringify(input)?.slice(0, 80)} → ${String(error)}`).toBe(true);
        if (isDomainError(error)) {
          expect(error.code).toBe('enrollment.invalid_input');
          expect(error.detail).toMatch(/^[a-z][\w.]*: \S/i);
        }
      }
    });

    it('gives a decoy the same prompt, lifetime and hash shape as a real challenge, and no message', async () => {
      const { context, real } = await setUp(subject);
      const decoy = await method.beginChallenge(null, context, 'seed-1');
      expect(shape(decoy.prompt)).toEqual(shape(real.prompt));
      if (method.id !== 'security_questions') expect(decoy.prompt).toEqual(real.prompt);
      expect(decoy.prompt.questions.every((question) => context.policy.methods.security_questions.questions.includes(question))).toBe(true);
      expect(decoy.ttlSeconds).toBe(real.ttlSeconds);
      expect(decoy.message).toBeNull();
      expect(decoy.secretHash === null).toBe(real.secretHash === null);
      if (decoy.secretHash !== null) expect(decoy.secretHash).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(decoy).sort()).toEqual(Object.keys(real).sort());
      expect((await method.beginChallenge(null, context, 'seed-1')).prompt).toEqual(decoy.prompt);
    });

    it('accepts the correct answer to a real challenge', async () => {
      const setup = await setUp(subject);
      const outcome = await method.verify(subject.correctAnswer(setup), setup.real.secretHash, setup.enrollment, setup.context);
      expect(wouldPass(outcome, setup.draft)).toBe(true);
    });

    it('never lets a decoy challenge verify, even with a real answer or hash', async () => {
      const setup = await setUp(subject);
      const decoy = await method.beginChallenge(null, setup.context, 'seed-1');
      const answer = subject.correctAnswer(setup);
      for (const hash of [decoy.secretHash, setup.real.secretHash]) {
        expect(await method.verify(answer, hash, null, setup.context)).toEqual({ kind: 'mismatch' });
      }
    });

    it('refuses wrong answers', async () => {
      const setup = await setUp(subject);
      const wrong = subject.wrongAnswers(setup);
      expect(wrong.length).toBeGreaterThan(0);
      for (const answer of wrong) {
        const outcome = await method.verify(answer, setup.real.secretHash, setup.enrollment, setup.context);
        expect(wouldPass(outcome, setup.draft), JSON.stringify(answer)).toBe(false);
      }
    });

    it('answers malformed input (wrong shape, empty, too long) with mismatch and never throws', async () => {
      const setup = await setUp(subject);
      for (const answer of MALFORMED_ANSWERS) {
        for (const enrollment of [setup.enrollment, null]) {
          const outcome = await method.verify(answer as ChallengeAnswer, setup.real.secretHash, enrollment, setup.context);
          expect(outcome, JSON.stringify(answer)?.slice(0, 60)).toEqual({ kind: 'mismatch' });
        }
      }
    });
  });
}
