import { z } from 'zod';
import { maskPhone } from '../../account/masking.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { CHALLENGE_MAC_PURPOSE, generateNumericCode, verifyNumericChallenge } from '../shared/codes.ts';
import { invalidInput, parseEnrollInput, secretString } from '../shared/input.ts';
import { lifetimeText, messagePurpose, plainText, purposeNoun } from '../shared/messages.ts';
import { normalisePhoneNumber } from '../../phone/e164.ts';

const FORMAT_HINT = 'must be in international E.164 format: + then country code and number, e.g. +447700900123';

const enrollSchema = z.strictObject({ phone: z.string().max(32) });

function prompt(context: MethodContext): ChallengePrompt {
  return { methodId: 'sms_code', answerKind: 'numeric_code', codeLength: context.policy.methods.sms_code.codeLength, questions: [] };
}

/**
 * A one-time numeric code sent by SMS to the number of record (strength `possession_weak`,
 * channel `phone`).
 *
 * Enroll input `{ phone }` in international form (`+44 7700 900123`), or national form when the
 * server configures `phone.defaultRegion`; it is normalised to E.164 (src/core/phone) and anything
 * else is refused with a message stating what to fix. The enrollment is `pending` until a code sent
 * there is entered.
 *
 * Why the text is short and carries no display name: one SMS segment, and SECURITY: nothing an
 * attacker can set rides in a genuine message (INP-8).
 */
export const smsCodeMethod: RecoveryMethod = Object.freeze({
  id: 'sms_code',
  strength: 'possession_weak',
  channel: 'phone',
  countsAsGate: true,

  async enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft> {
    const { phone } = parseEnrollInput(enrollSchema, input, (field) => (field === 'phone' ? FORMAT_HINT : 'is not valid'));
    const verdict = normalisePhoneNumber(phone, context.defaultPhoneRegion ?? null);
    if (!verdict.ok) throw invalidInput('phone', verdict.message);
    // The E.164 form is what is stored, sent to and fingerprinted, so one number typed two ways is one channel.
    const e164 = verdict.e164;
    return { secret: { phone: e164 }, label: maskPhone(e164), channelAddress: e164, status: 'pending', shownOnce: null, singleUse: [] };
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
