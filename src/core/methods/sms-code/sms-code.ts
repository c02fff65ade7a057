import { z } from 'zod';
import { maskPhone } from '../../account/masking.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { CHALLENGE_MAC_PURPOSE, generateNumericCode, verifyNumericChallenge } from '../shared/codes.ts';
import { invalidInput, parseEnrollInput, secretString } from '../shared/input.ts';
import { lifetimeText, messagePurpose, plainText, purposeNoun } from '../shared/messages.ts';

/** E.164: `+`, a non-zero country code digit, 7 to 15 digits in all. */
export const E164_PATTERN = /^\+[1-9]\d{6,14}$/;
const FORMAT_HINT = 'must be in international E.164 format: + then country code and number, digits only, e.g. +447700900123';

/**
 * ITU-T E.164 codes that name no country: international freephone (+800), shared cost (+808),
 * Inmarsat (+870), UPT (+878), satellite (+881), international networks (+882, +883), OCHA (+888),
 * international premium rate (+979) and trial services (+991).
 *
 * SECURITY: none is a person's own mobile, and texts to them are billed at premium rates: a
 * registration that sends a verification code there is SMS pumping paid by the organisation
 * (INP-7). National premium ranges need per-country numbering data and are not covered here.
 */
const NON_GEOGRAPHIC = /^\+(?:800|808|870|878|881|882|883|888|979|991)/;

const enrollSchema = z.strictObject({ phone: z.string().max(32) });

function prompt(context: MethodContext): ChallengePrompt {
  return { methodId: 'sms_code', answerKind: 'numeric_code', codeLength: context.policy.methods.sms_code.codeLength, questions: [] };
}

/**
 * A one-time numeric code sent by SMS to the number of record (strength `possession_weak`,
 * channel `phone`).
 *
 * Enroll input `{ phone }` already in E.164 form (`+447700900123`); anything else is refused with
 * a message stating the format. The enrollment is `pending` until a code sent there is entered.
 *
 * Why the text is short and carries no display name: one SMS segment, and SECURITY: nothing an
 * attacker can set rides in a genuine message (INP-8).
 */
export const smsCodeMethod: RecoveryMethod = Object.freeze({
  id: 'sms_code',
  strength: 'possession_weak',
  channel: 'phone',
  countsAsGate: true,

  async enroll(input: unknown, _context: MethodContext): Promise<EnrollmentDraft> {
    const { phone } = parseEnrollInput(enrollSchema, input, (field) => (field === 'phone' ? FORMAT_HINT : 'is not valid'));
    const trimmed = phone.trim();
    if (!E164_PATTERN.test(trimmed)) throw invalidInput('phone', FORMAT_HINT);
    if (NON_GEOGRAPHIC.test(trimmed)) throw invalidInput('phone', 'must be a mobile number of a country: satellite, international network and premium-rate numbers are not accepted');
    return { secret: { phone: trimmed }, label: maskPhone(trimmed), channelAddress: trimmed, status: 'pending', shownOnce: null, singleUse: [] };
  },

  async beginChallenge(enrollment: EnrolledSecret | null, context: MethodContext): Promise<ChallengeStart> {
    const settings = context.policy.methods.sms_code;
    const { random, secrets } = context.services;
    // SECURITY: decoys draw and hash a code exactly like real challenges, then forget it.
    const code = generateNumericCode(random, settings.codeLength);
    const secretHash = secrets.mac(CHALLENGE_MAC_PURPOSE, code);
    const start = { secretHash, ttlSeconds: settings.codeTtlSeconds, prompt: prompt(context) };
    if (enrollment === null) return { ...start, message: null };

    const to = secretString(enrollment, 'phone', 'sms_code');
    const org = plainText(context.policy.organisationName, 30);
    const noun = purposeNoun(context.purpose);
    const text = `${org}: ${code} is your ${noun}. Expires in ${lifetimeText(settings.codeTtlSeconds)}. Never share it. Not you? Ignore this and tell your helpdesk.`;
    return { ...start, message: { channel: 'sms', to, subject: `${org} ${noun}`, text, purpose: messagePurpose(context.purpose) } };
  },

  async verify(answer: ChallengeAnswer, challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    return verifyNumericChallenge(answer, challengeSecretHash, enrollment, context, context.policy.methods.sms_code.codeLength);
  },
});
