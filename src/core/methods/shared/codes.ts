import type { Random } from '../../ports/system.ts';
import type { ChallengeAnswer, EnrolledSecret, MethodContext, VerifyOutcome } from '../method.ts';

/**
 * The purpose under which challenge codes are MACed (`services.secrets.mac('challenge', code)`).
 * Stored as the challenge's secretHash.
 */
export const CHALLENGE_MAC_PURPOSE = 'challenge';

/** Longest answer string any method looks at; longer input is a mismatch without further work. */
export const MAX_ANSWER_INPUT_LENGTH = 256;

/**
 * A numeric code of `length` digits, each drawn independently from `random.int(10)`.
 *
 * Why: TOK-2: one-time codes come from the CSPRNG, digit by digit, so every code of the length is
 * equally likely and nothing about one code predicts the next.
 */
export function generateNumericCode(random: Random, length: number): string {
  let code = '';
  for (let i = 0; i < length; i += 1) code += String(random.int(10));
  return code;
}

/**
 * The `code` string of an answer, or null when the answer does not have the code shape (another
 * method's shape, a non-string, an over-long string). Answers arrive from the network, so the
 * static type is not trusted here.
 */
export function codeOf(answer: unknown): string | null {
  if (typeof answer !== 'object' || answer === null || !('code' in answer)) return null;
  const code: unknown = (answer as { code: unknown }).code;
  if (typeof code !== 'string' || code.length === 0 || code.length > MAX_ANSWER_INPUT_LENGTH) return null;
  return code;
}

/**
 * The `answers` list of an answer, or null unless it is an array of strings of sane length.
 */
export function answersOf(answer: unknown): readonly string[] | null {
  if (typeof answer !== 'object' || answer === null || !('answers' in answer)) return null;
  const answers: unknown = (answer as { answers: unknown }).answers;
  if (!Array.isArray(answers) || answers.length === 0 || answers.length > 16) return null;
  const strings: string[] = [];
  for (const item of answers as unknown[]) {
    if (typeof item !== 'string' || item.length > MAX_ANSWER_INPUT_LENGTH) return null;
    strings.push(item);
  }
  return strings;
}

/**
 * A typed numeric code as people enter it: spaces removed (apps show `123 456`), then exactly
 * `length` ASCII digits, else null. Fullwidth or other Unicode digits are refused rather than
 * mapped, so there is one accepted spelling per code.
 */
export function normaliseNumericCode(code: string, length: number): string | null {
  const compact = code.replace(/ /g, '');
  return compact.length === length && /^[0-9]+$/.test(compact) ? compact : null;
}

/**
 * Shared verification of a sent numeric code: normalise, MAC, compare in constant time (TOK-18).
 * Never a match without an enrollment (a decoy), and never a throw on malformed input.
 */
export function verifyNumericChallenge(
  answer: ChallengeAnswer,
  challengeSecretHash: string | null,
  enrollment: EnrolledSecret | null,
  context: MethodContext,
  codeLength: number,
): VerifyOutcome {
  const raw = codeOf(answer);
  const code = raw === null ? null : normaliseNumericCode(raw, codeLength);
  if (code === null || challengeSecretHash === null) return { kind: 'mismatch' };
  const { secrets } = context.services;
  const equal = secrets.equal(secrets.mac(CHALLENGE_MAC_PURPOSE, code), challengeSecretHash);
  // SECURITY: a decoy's hash belongs to a code nobody saw, but a lucky guess (1 in 10^6) must
  // still never pass a decoy, so the enrollment check comes after the comparison and overrides it.
  return equal && enrollment !== null ? { kind: 'match', singleUse: null } : { kind: 'mismatch' };
}
