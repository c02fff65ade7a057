import { z } from 'zod';
import { canonicalEmail, isEmailAddress } from '../../account/identifier.ts';
import { maskEmail } from '../../account/masking.ts';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, VerifyOutcome } from '../method.ts';
import { CHALLENGE_MAC_PURPOSE, generateNumericCode, verifyNumericChallenge } from '../shared/codes.ts';
import { invalidInput, parseEnrollInput, secretString } from '../shared/input.ts';
import { lifetimeText, messagePurpose, plainText, purposeClause, purposeNoun } from '../shared/messages.ts';

const enrollSchema = z.strictObject({ address: z.string().min(3).max(254) });

/**
 * Splits a raw address into the address to deliver to (local part NFKC with its case kept, as
 * RFC 5321 allows a case-sensitive mailbox; domain canonical) and the canonical form used for the
 * reuse fingerprint (INP-3). Null unless both are one plain address.
 */
function normaliseAddress(raw: string): { deliverTo: string; canonical: string } | null {
  const trimmed = raw.trim();
  const canonical = canonicalEmail(trimmed);
  if (!canonical.ok || !isEmailAddress(canonical.value)) return null;
  const typedLocal = trimmed.normalize('NFKC');
  const local = typedLocal.slice(0, typedLocal.indexOf('@'));
  const domain = canonical.value.slice(canonical.value.indexOf('@') + 1);
  const deliverTo = `${local}@${domain}`;
  // The delivery form must fold to the very address that was checked and fingerprinted.
  const again = canonicalEmail(deliverTo);
  if (!isEmailAddress(deliverTo) || !again.ok || again.value !== canonical.value) return null;
  return { deliverTo, canonical: canonical.value };
}

function prompt(context: MethodContext): ChallengePrompt {
  return { methodId: 'email_code', answerKind: 'numeric_code', codeLength: context.policy.methods.email_code.codeLength, questions: [] };
}

/**
 * A one-time numeric code sent by email to the address of record (strength `possession_weak`,
 * channel `email`).
 *
 * Enroll input `{ address }`: a single plain address (see isEmailAddress), canonicalised like
 * identifiers (INP-3). The enrollment is `pending` until a code sent there is entered.
 *
 * Why the message carries no display name: SECURITY: a display name an attacker can set (`Click
 * http://evil.test to keep your account`) would otherwise ride in a genuine, well-authenticated
 * mail from the organisation (INP-8). The text is a fixed template plus the code, the lifetime
 * and the operator's organisation name.
 */
export const emailCodeMethod: RecoveryMethod = Object.freeze({
  id: 'email_code',
  strength: 'possession_weak',
  channel: 'email',
  countsAsGate: true,

  async enroll(input: unknown, _context: MethodContext): Promise<EnrollmentDraft> {
    const { address } = parseEnrollInput(enrollSchema, input, (field) =>
      field === 'address' ? 'must be an email address like name@example.org' : 'is not valid',
    );
    const normalised = normaliseAddress(address);
    // SECURITY: one plain mailbox only; `a@corp.test,attacker@evil.test` or an address with
    // invisible characters would split delivery or collide with another person's address.
    if (normalised === null) throw invalidInput('address', 'must be a single email address like name@example.org');
    return {
      secret: { address: normalised.deliverTo },
      label: maskEmail(normalised.deliverTo),
      channelAddress: normalised.canonical,
      status: 'pending',
      shownOnce: null,
      singleUse: [],
    };
  },

  async beginChallenge(enrollment: EnrolledSecret | null, context: MethodContext): Promise<ChallengeStart> {
    const settings = context.policy.methods.email_code;
    const { random, secrets } = context.services;
    // SECURITY: a decoy draws a code the same way and hashes it the same way (same work, same
    // output shape), then forgets it: nobody can answer it, and its prompt cannot be told apart.
    const code = generateNumericCode(random, settings.codeLength);
    const secretHash = secrets.mac(CHALLENGE_MAC_PURPOSE, code);
    const start = { secretHash, ttlSeconds: settings.codeTtlSeconds, prompt: prompt(context) };
    if (enrollment === null) return { ...start, message: null };

    const to = secretString(enrollment, 'address', 'email_code');
    const org = plainText(context.policy.organisationName, 100);
    const lifetime = lifetimeText(settings.codeTtlSeconds);
    const text = [
      `Someone, hopefully you, asked to ${purposeClause(context.purpose)} ${org} account.`,
      '',
      `Your ${purposeNoun(context.purpose)} is: ${code}`,
      '',
      `It expires in ${lifetime} and works once. Never share it: ${org} staff will never ask you for it.`,
      '',
      'If you did not ask for this, ignore this message and tell your helpdesk: someone may be trying to get into your account.',
    ].join('\n');
    return {
      ...start,
      message: { channel: 'email', to, subject: `${org} ${purposeNoun(context.purpose)}`, text, purpose: messagePurpose(context.purpose) },
    };
  },

  async verify(answer: ChallengeAnswer, challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    return verifyNumericChallenge(answer, challengeSecretHash, enrollment, context, context.policy.methods.email_code.codeLength);
  },
});
