import { timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';
import { z } from 'zod';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { codeOf, normaliseNumericCode } from '../shared/codes.ts';
import { parseEnrollInput, secretString } from '../shared/input.ts';
import { plainText } from '../shared/messages.ts';

/** Seed size: 160 bits, the RFC 4226 recommendation and what authenticator apps expect for SHA-1. */
export const TOTP_SEED_BYTES = 20;
/** How long a TOTP challenge stays open; the code itself changes every period. */
export const TOTP_CHALLENGE_TTL_SECONDS = 300;
/** The purpose under which used time steps are MACed for the replay ledger. */
export const TOTP_STEP_PURPOSE = 'totp_step';
const ALGORITHM = 'SHA1';
const DEFAULT_LABEL = 'Authenticator app';

const enrollSchema = z.strictObject({
  label: z
    .string()
    .trim()
    .min(1)
    .max(40)
    .regex(/^[\p{L}\p{M}\p{N} ._'()-]+$/u)
    .optional(),
});

function prompt(context: MethodContext): ChallengePrompt {
  return { methodId: 'totp', answerKind: 'numeric_code', codeLength: context.policy.methods.totp.digits, questions: [] };
}

/** The seed and parameters fixed at enrollment (what the app was configured with). */
function enrolledParameters(enrollment: EnrolledSecret, context: MethodContext): { secret: Secret; digits: number; period: number } {
  const seed = secretString(enrollment, 'seed', 'totp');
  const secret = Secret.fromBase32(seed);
  if (secret.bytes.length < 16) throw new Error(`totp enrollment ${enrollment.id} has a seed shorter than 128 bits`);
  const digits = enrollment.secret['digits'];
  const period = enrollment.secret['period'];
  const { totp } = context.policy.methods;
  return {
    secret,
    digits: digits === 6 || digits === 8 ? digits : totp.digits,
    period: typeof period === 'number' && Number.isInteger(period) && period > 0 ? period : totp.periodSeconds,
  };
}

/**
 * The counter (time step) whose code equals `code`, checking the current step and
 * `driftSteps` either side, or null. Every candidate step is computed and compared in constant
 * time, with no early exit.
 */
export function matchTotpStep(input: {
  readonly secret: Secret;
  readonly code: string;
  readonly digits: number;
  readonly period: number;
  readonly driftSteps: number;
  readonly timestamp: number;
}): number | null {
  const current = Math.floor(input.timestamp / 1000 / input.period);
  const given = Buffer.from(input.code, 'ascii');
  let matched: number | null = null;
  // Current step first, so that in the (1 in 10^digits) case of two steps sharing a code, the
  // claimed step is the one the person most likely used.
  const order = [0];
  for (let delta = 1; delta <= input.driftSteps; delta += 1) order.push(-delta, delta);
  for (const delta of order) {
    const counter = current + delta;
    if (counter < 0) continue;
    const expected = Buffer.from(HOTP.generate({ secret: input.secret, algorithm: ALGORITHM, digits: input.digits, counter }), 'ascii');
    const equal = expected.length === given.length && timingSafeEqual(expected, given);
    if (equal && matched === null) matched = counter;
  }
  return matched;
}

/**
 * Time-based one-time passwords from an authenticator app (RFC 6238; SHA-1, 30-second steps,
 * 6 or 8 digits; strength `possession`, channel `authenticator_app`).
 *
 * Enroll input `{}` or `{ label }` (a name for the owner's own list, e.g. "Work phone"): a fresh
 * 160-bit seed, shown once as base32 and as an `otpauth://` URI (QR code); `pending` until a code
 * is entered. The enrolled digits and period are stored with the seed, so a later policy change
 * does not break apps already set up.
 *
 * Verify accepts the current step and `policy.methods.totp.driftSteps` either side, and returns a
 * `claim` on `mac('totp_step', '<enrollmentId>:<step>')`.
 *
 * Why: SECURITY: TOK-14: a code seen over a shoulder or phished stays valid for up to 90 seconds;
 * the engine's claim-once ledger makes each step of each enrollment usable once, so it cannot be
 * replayed, and the window never exceeds one step either side.
 */
export const totpMethod: RecoveryMethod = Object.freeze({
  id: 'totp',
  strength: 'possession',
  channel: 'authenticator_app',
  countsAsGate: true,

  async enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft> {
    const parsed = parseEnrollInput(enrollSchema, input ?? {}, (field) =>
      field === 'label' ? 'must be 1-40 letters, digits, spaces or . _ \' ( ) -' : 'is not valid',
    );
    const settings = context.policy.methods.totp;
    const secret = new Secret({ buffer: new Uint8Array(context.services.random.bytes(TOTP_SEED_BYTES)).buffer });
    // Key URI format: neither issuer nor account name may contain a colon (it separates them).
    const issuer = plainText(settings.issuer, 64).replace(/:/g, ' ');
    const accountName = plainText(parsed.label ?? context.displayName, 64).replace(/:/g, ' ') || DEFAULT_LABEL;
    // The otpauth library percent-encodes issuer and label, so no text can break out of the URI.
    const otpauthUri = new TOTP({ issuer, label: accountName, secret, algorithm: ALGORITHM, digits: settings.digits, period: settings.periodSeconds }).toString();
    return {
      secret: { seed: secret.base32, digits: settings.digits, period: settings.periodSeconds },
      label: parsed.label ?? DEFAULT_LABEL,
      channelAddress: null,
      status: 'pending',
      shownOnce: { secret: secret.base32, otpauthUri },
      singleUse: [],
    };
  },

  async beginChallenge(_enrollment: EnrolledSecret | null, context: MethodContext): Promise<ChallengeStart> {
    // Nothing is sent and nothing is stored: the app already holds the secret. Real and decoy
    // challenges are therefore identical by construction.
    return { secretHash: null, ttlSeconds: TOTP_CHALLENGE_TTL_SECONDS, message: null, prompt: prompt(context) };
  },

  async verify(answer: ChallengeAnswer, _challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    const raw = codeOf(answer);
    if (raw === null || enrollment === null) return { kind: 'mismatch' };
    const { secret, digits, period } = enrolledParameters(enrollment, context);
    const code = normaliseNumericCode(raw, digits);
    if (code === null) return { kind: 'mismatch' };
    const step = matchTotpStep({ secret, code, digits, period, driftSteps: context.policy.methods.totp.driftSteps, timestamp: context.now.getTime() });
    if (step === null) return { kind: 'mismatch' };
    return {
      kind: 'match',
      singleUse: { purpose: TOTP_STEP_PURPOSE, keyHash: context.services.secrets.mac(TOTP_STEP_PURPOSE, `${enrollment.id}:${step}`), mode: 'claim' },
    };
  },
});
