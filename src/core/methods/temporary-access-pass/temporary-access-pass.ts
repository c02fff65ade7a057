import type { Random } from '../../ports/system.ts';
import { DomainError } from '../../errors.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, RecoveryMethod, MethodContext, VerifyOutcome } from '../method.ts';
import { RECOVERY_CODE_ALPHABET } from '../recovery-code/recovery-code.ts';
import { codeOf } from '../shared/codes.ts';

/** Characters of a pass: 16 × 5 bits = 80 bits, and at least the 15 characters a password needs (TOK-17). */
export const PASS_LENGTH = 16;
/** Characters of each half when a pass is delivered split: 8 × 5 bits = 40 bits each. */
export const PASS_HALF_LENGTH = PASS_LENGTH / 2;
/** The purpose under which passes are MACed; the keyed hash is all that is stored. */
export const PASS_MAC_PURPOSE = 'temporary_access_pass';
/** How long a pass challenge stays open in a flow (the pass itself has its own lifetime). */
const PASS_CHALLENGE_TTL_SECONDS = 300;

/**
 * A new pass: {@link PASS_LENGTH} Crockford base32 characters from the CSPRNG. Never chosen by an
 * operator (TOK-17): issuance takes no pass value as input.
 */
export function generatePass(random: Random): string {
  let pass = '';
  for (let i = 0; i < PASS_LENGTH; i += 1) pass += RECOVERY_CODE_ALPHABET[random.int(RECOVERY_CODE_ALPHABET.length)] ?? '';
  return pass;
}

/** `XXXXXXXXXXXXXXXX` → `XXXX-XXXX-XXXX-XXXX`; a half `XXXXXXXX` → `XXXX-XXXX`. */
export function formatPass(pass: string): string {
  return pass.match(/.{1,4}/g)?.join('-') ?? pass;
}

/** The two halves of a pass for split delivery: the person types part 1 then part 2. */
export function splitPass(pass: string): readonly [string, string] {
  return [pass.slice(0, PASS_HALF_LENGTH), pass.slice(PASS_HALF_LENGTH)];
}

/**
 * A typed pass as stored: upper-case, spaces and dashes removed, Crockford look-alikes mapped
 * (I, L → 1; O → 0), then exactly {@link PASS_LENGTH} alphabet characters; else null. Half a pass
 * is therefore malformed and never even reaches the store.
 */
export function normalisePass(input: string): string | null {
  const compact = input
    .toUpperCase()
    .replace(/[\s\-‐‑‒–—]/g, '')
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (compact.length !== PASS_LENGTH) return null;
  for (const char of compact) if (!RECOVERY_CODE_ALPHABET.includes(char)) return null;
  return compact;
}

/** The keyed hash a pass is stored and looked up by. */
export const passKeyHash = (context: Pick<MethodContext, 'services'>, pass: string): string => context.services.secrets.mac(PASS_MAC_PURPOSE, pass);

function prompt(): ChallengePrompt {
  return { methodId: 'temporary_access_pass', answerKind: 'alphanumeric_code', codeLength: PASS_LENGTH, questions: [] };
}

/**
 * The Temporary Access Pass (strength `possession`, channel `issued_pass`): a time-limited,
 * use-limited secret the helpdesk (or day-one bulk issuance) hands out after verifying the person
 * some other way. It is not registered by the person: `enroll` always refuses; the helpdesk
 * service creates its enrollment together with the pass row.
 *
 * Verify cannot know whether the pass is live (valid from, expiry, uses left, revoked): that lives
 * in the pass store, which methods do not read. A `match` means only "well-formed pass for an
 * enrollment": the claim's mode `use_pass` tells the engine to count one use atomically in
 * `TemporaryAccessPassRepository.use`, and only a true result passes the gate.
 *
 * SECURITY: the pass is 80 random bits, so a keyed hash (HMAC) is enough at rest: without the
 * server key a stolen hash cannot be tested, and with it 2^80 guesses are out of reach. argon2
 * would add nothing but a CPU cost an attacker could trigger at will on the sign-in endpoint.
 */
export const temporaryAccessPassMethod: RecoveryMethod = Object.freeze({
  id: 'temporary_access_pass',
  strength: 'possession',
  channel: 'issued_pass',
  countsAsGate: true,

  async enroll(): Promise<EnrollmentDraft> {
    throw new DomainError('method.not_allowed', 'A temporary access pass is issued by the helpdesk; it cannot be registered.');
  },

  async beginChallenge(_enrollment: EnrolledSecret | null): Promise<ChallengeStart> {
    // The pass is already in the person's hands: nothing to send. Real and decoy look the same.
    return { secretHash: null, ttlSeconds: PASS_CHALLENGE_TTL_SECONDS, message: null, prompt: prompt() };
  },

  async verify(answer: ChallengeAnswer, _challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    const raw = codeOf(answer);
    const pass = raw === null ? null : normalisePass(raw);
    if (pass === null || enrollment === null) return { kind: 'mismatch' };
    return { kind: 'match', singleUse: { purpose: PASS_MAC_PURPOSE, keyHash: passKeyHash(context, pass), mode: 'use_pass' } };
  },
});
