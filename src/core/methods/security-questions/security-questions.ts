import { z } from 'zod';
import { DomainError } from '../../errors.ts';
import type { PasswordHasher } from '../../ports/system.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { answersOf } from '../shared/codes.ts';
import { invalidInput, parseEnrollInput } from '../shared/input.ts';

/** Shortest normalised answer accepted at enrollment. */
export const MIN_ANSWER_LENGTH = 3;
/** Longest normalised answer accepted at enrollment. */
export const MAX_ANSWER_LENGTH = 128;
/** How long a security-question challenge stays open. */
export const SECURITY_QUESTIONS_CHALLENGE_TTL_SECONDS = 300;
/** The MAC purpose that turns a decoy's seed into its (stable) choice of questions. */
const DECOY_PURPOSE = 'security_questions_decoy';

const enrollSchema = z.strictObject({
  answers: z.array(z.strictObject({ question: z.string().max(200), answer: z.string().max(512) })).max(16),
});

/** What the enrollment secret holds: each question with the argon2id hash of its normalised answer. */
interface StoredAnswer {
  readonly question: string;
  readonly answerHash: string;
}

/**
 * The comparable form of an answer: NFKC, invisible format characters removed, lower-case,
 * whitespace runs collapsed to one space, trimmed. `"  Blue  Whale"` equals `"blue whale"`.
 *
 * Why: people type answers slightly differently each time; a strict comparison would lock out the
 * owner while adding nothing against an attacker who knows the answer.
 */
export function normaliseAnswer(answer: string): string {
  return answer.normalize('NFKC').replace(/\p{Cf}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();
}

function storedAnswers(enrollment: EnrolledSecret): readonly StoredAnswer[] {
  const items = enrollment.secret['answers'];
  if (!Array.isArray(items) || items.length === 0) throw new Error(`security_questions enrollment ${enrollment.id} has no answers in its secret`);
  return (items as unknown[]).map((item) => {
    if (typeof item !== 'object' || item === null) throw new Error(`security_questions enrollment ${enrollment.id} has a malformed answer`);
    const { question, answerHash } = item as Record<string, unknown>;
    if (typeof question !== 'string' || typeof answerHash !== 'string') throw new Error(`security_questions enrollment ${enrollment.id} has a malformed answer`);
    return { question, answerHash };
  });
}

/**
 * `count` questions of the catalogue, chosen by a keyed hash of `seed` (a partial Fisher–Yates
 * shuffle): the same seed always yields the same questions, and without the server key nobody can
 * predict them.
 */
function decoyQuestions(context: MethodContext, seed: string): string[] {
  const { questions, answersRequired } = context.policy.methods.security_questions;
  const pool = [...questions];
  const count = Math.min(answersRequired, pool.length);
  for (let i = 0; i < count; i += 1) {
    const draw = Number.parseInt(context.services.secrets.mac(DECOY_PURPOSE, `${seed}:${i}`).slice(0, 12), 16);
    const j = i + (draw % (pool.length - i));
    const picked = pool[j];
    const current = pool[i];
    if (picked !== undefined && current !== undefined) {
      pool[i] = picked;
      pool[j] = current;
    }
  }
  return pool.slice(0, count);
}

/** One argon2id hash per hasher, of a random value nobody knows, for decoy verifications. */
const decoyHashes = new WeakMap<PasswordHasher, Promise<string>>();
function decoyHash(context: MethodContext): Promise<string> {
  const { passwords, random } = context.services;
  let hash = decoyHashes.get(passwords);
  if (hash === undefined) {
    hash = passwords.hash(random.bytes(32).toString('base64'));
    decoyHashes.set(passwords, hash);
    // A failed hash must not be cached: the next decoy tries again.
    hash.catch(() => decoyHashes.delete(passwords));
  }
  return hash;
}

function prompt(questions: readonly string[]): ChallengePrompt {
  return { methodId: 'security_questions', answerKind: 'answers', codeLength: null, questions };
}

/**
 * Security questions (strength `knowledge`, channel `knowledge`). Off unless
 * `policy.methods.security_questions.enabled`, and never a gate (`countsAsGate` false: FAC-6).
 *
 * Enroll input `{ answers: [{ question, answer }] }`: exactly `answersRequired` distinct questions
 * from the policy catalogue, each answer at least 3 characters once normalised (see
 * {@link normaliseAnswer}), stored only as argon2id hashes. The enrollment is `active` at once.
 *
 * Verify `{ answers: [...] }` in prompt order: all must match. Every answer is checked with argon2
 * even after a failure, and decoys check theirs against a dummy hash.
 *
 * Why: SECURITY: answers are low-entropy and often researchable, so they are hashed like
 * passwords (an offline guess costs an argon2 run), and the constant number of argon2 runs means
 * response time reveals neither which answer was wrong nor whether the account is real.
 */
export const securityQuestionsMethod: RecoveryMethod = Object.freeze({
  id: 'security_questions',
  strength: 'knowledge',
  channel: 'knowledge',
  countsAsGate: false,

  async enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft> {
    const settings = context.policy.methods.security_questions;
    if (!settings.enabled) throw new DomainError('method.not_allowed', 'Security questions are not enabled by the recovery policy.');
    const { answers } = parseEnrollInput(enrollSchema, input, (field) =>
      field.endsWith('.question') ? 'must be one of the offered questions' : field.endsWith('.answer') ? `must be at most ${MAX_ANSWER_LENGTH} characters` : 'must be a list of { question, answer }',
    );
    if (answers.length !== settings.answersRequired) {
      throw invalidInput('answers', `exactly ${settings.answersRequired} answered question${settings.answersRequired === 1 ? ' is' : 's are'} required`);
    }
    const seen = new Set<string>();
    const normalised = answers.map((item, index) => {
      if (!settings.questions.includes(item.question)) throw invalidInput(`answers.${index}.question`, 'must be one of the offered questions');
      if (seen.has(item.question)) throw invalidInput(`answers.${index}.question`, 'each question may be answered only once');
      seen.add(item.question);
      const answer = normaliseAnswer(item.answer);
      const length = Array.from(answer).length;
      if (length < MIN_ANSWER_LENGTH) throw invalidInput(`answers.${index}.answer`, `must be at least ${MIN_ANSWER_LENGTH} characters`);
      if (length > MAX_ANSWER_LENGTH) throw invalidInput(`answers.${index}.answer`, `must be at most ${MAX_ANSWER_LENGTH} characters`);
      return { question: item.question, answer };
    });
    const stored: StoredAnswer[] = [];
    for (const item of normalised) stored.push({ question: item.question, answerHash: await context.services.passwords.hash(item.answer) });
    return {
      secret: { answers: stored },
      label: 'Security questions',
      channelAddress: null,
      status: 'active',
      shownOnce: null,
      singleUse: [],
    };
  },

  async beginChallenge(enrollment: EnrolledSecret | null, context: MethodContext, seed: string): Promise<ChallengeStart> {
    const questions = enrollment === null ? decoyQuestions(context, seed) : storedAnswers(enrollment).map((item) => item.question);
    return { secretHash: null, ttlSeconds: SECURITY_QUESTIONS_CHALLENGE_TTL_SECONDS, message: null, prompt: prompt(questions) };
  },

  async verify(answer: ChallengeAnswer, _challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    const given = answersOf(answer);
    if (given === null) return { kind: 'mismatch' };
    const { passwords } = context.services;
    const expected: readonly { readonly answerHash: string }[] =
      enrollment === null ? Array.from({ length: context.policy.methods.security_questions.answersRequired }, () => ({ answerHash: '' })) : storedAnswers(enrollment);
    if (given.length !== expected.length) return { kind: 'mismatch' };
    const dummy = enrollment === null ? await decoyHash(context) : '';
    let allMatch = true;
    for (const [index, item] of expected.entries()) {
      // SECURITY: no early exit: each answer costs one argon2 run whether or not an earlier one
      // failed, so timing does not tell an attacker which answer was wrong.
      const ok = await passwords.verify(enrollment === null ? dummy : item.answerHash, normaliseAnswer(given[index] ?? ''));
      allMatch = allMatch && ok;
    }
    return allMatch && enrollment !== null ? { kind: 'match', singleUse: null } : { kind: 'mismatch' };
  },
});
