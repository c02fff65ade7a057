import { z } from 'zod';
import type { Random } from '../../ports/system.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { codeOf } from '../shared/codes.ts';
import { parseEnrollInput } from '../shared/input.ts';

/** Crockford base32: digits and letters without I, L, O and U (no 1/I/L, 0/O confusion). */
export const RECOVERY_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Significant characters per code: 13 × 5 bits = 65 bits of entropy (B4 asks ≥ 64 for saved codes). */
export const RECOVERY_CODE_LENGTH = 13;
/** Bits of entropy in one code. */
export const RECOVERY_CODE_BITS = RECOVERY_CODE_LENGTH * Math.log2(RECOVERY_CODE_ALPHABET.length);
/** Group sizes of the displayed form `XXXX-XXXX-XXXXX`. */
const GROUPS = [4, 4, 5] as const;
/** How long a recovery-code challenge stays open. */
export const RECOVERY_CODE_CHALLENGE_TTL_SECONDS = 300;
/** The purpose under which codes are MACed for the single-use store. */
export const RECOVERY_CODE_PURPOSE = 'recovery_code';

const enrollSchema = z.strictObject({});

/** `XXXXXXXXXXXXX` → `XXXX-XXXX-XXXXX`. */
function format(code: string): string {
  const parts: string[] = [];
  let offset = 0;
  for (const size of GROUPS) {
    parts.push(code.slice(offset, offset + size));
    offset += size;
  }
  return parts.join('-');
}

/** One code: {@link RECOVERY_CODE_LENGTH} characters, each `random.int(32)` (TOK-2). */
function generateCode(random: Random): string {
  let code = '';
  for (let i = 0; i < RECOVERY_CODE_LENGTH; i += 1) code += RECOVERY_CODE_ALPHABET[random.int(RECOVERY_CODE_ALPHABET.length)] ?? '';
  return code;
}

/**
 * A typed recovery code as stored: upper-case, spaces and hyphens (any dash) removed, Crockford's
 * look-alikes mapped (I and L → 1, O → 0), then exactly 13 alphabet characters; else null.
 */
export function normaliseRecoveryCode(input: string): string | null {
  const compact = input
    .toUpperCase()
    .replace(/[\s\-‐‑‒–—]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (compact.length !== RECOVERY_CODE_LENGTH) return null;
  for (const char of compact) if (!RECOVERY_CODE_ALPHABET.includes(char)) return null;
  return compact;
}

function prompt(): ChallengePrompt {
  return { methodId: 'recovery_code', answerKind: 'alphanumeric_code', codeLength: RECOVERY_CODE_LENGTH, questions: [] };
}

/**
 * Printed single-use recovery codes (strength `possession`, channel `printed_codes`).
 *
 * Enroll input `{}`: `policy.methods.recovery_code.count` codes of 13 Crockford base32 characters
 * (65 bits each), shown once as `XXXX-XXXX-XXXXX`; the enrollment is `active` at once (nothing to
 * prove). Only keyed hashes are kept: `mac('recovery_code', <normalised code>)`, stored as
 * single-use entries of the enrollment.
 *
 * Verify cannot know whether a code exists: the codes are stored hashed in the single-use store,
 * which methods do not read. A `match` here means only "well-formed code": the result carries a
 * `consume` claim on its keyHash, and the ENGINE decides. It must treat the gate as passed only if
 * `SingleUseRepository.consume(enrollmentId, keyHash)` returns true. Because consumption is keyed
 * by (enrollment, hash), a code counts only for the enrollment that issued it. A decoy (no
 * enrollment) and malformed input are a mismatch.
 *
 * Why: SECURITY: 65 random bits make online guessing hopeless even without attempt caps, the
 * hashes are useless without the server key, and atomic consumption makes each code work exactly
 * once, even under concurrent requests.
 */
export const recoveryCodeMethod: RecoveryMethod = Object.freeze({
  id: 'recovery_code',
  strength: 'possession',
  channel: 'printed_codes',
  countsAsGate: true,

  async enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft> {
    parseEnrollInput(enrollSchema, input ?? {}, () => 'is not valid');
    const count = context.policy.methods.recovery_code.count;
    const { random, secrets } = context.services;
    const codes = new Set<string>();
    // A duplicate among 20 codes of 65 bits has odds of about 1 in 10^17; the bound only stops a
    // broken Random from looping forever.
    for (let draws = 0; codes.size < count; draws += 1) {
      if (draws >= count * 4) throw new Error('recovery codes: the random source keeps repeating itself');
      codes.add(generateCode(random));
    }
    const list = [...codes];
    return {
      secret: { count },
      label: `Recovery codes (${count})`,
      channelAddress: null,
      status: 'active',
      shownOnce: { codes: list.map(format) },
      singleUse: list.map((code) => ({ purpose: RECOVERY_CODE_PURPOSE, keyHash: secrets.mac(RECOVERY_CODE_PURPOSE, code) })),
    };
  },

  async beginChallenge(_enrollment: EnrolledSecret | null): Promise<ChallengeStart> {
    // Nothing to send or remember: the codes are on paper. Real and decoy are identical.
    return { secretHash: null, ttlSeconds: RECOVERY_CODE_CHALLENGE_TTL_SECONDS, message: null, prompt: prompt() };
  },

  async verify(answer: ChallengeAnswer, _challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    const raw = codeOf(answer);
    const code = raw === null ? null : normaliseRecoveryCode(raw);
    if (code === null || enrollment === null) return { kind: 'mismatch' };
    return { kind: 'match', singleUse: { purpose: RECOVERY_CODE_PURPOSE, keyHash: context.services.secrets.mac(RECOVERY_CODE_PURPOSE, code), mode: 'consume' } };
  },
});
