import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import type { ChallengeAnswer, ChallengePrompt, ChallengeStart, EnrolledSecret, EnrollmentDraft, MethodContext, RecoveryMethod, RelyingParty, VerifyOutcome } from '../method.ts';
import { parseEnrollInput } from '../shared/input.ts';

/** The purpose under which WebAuthn challenges are MACed into the challenge's secretHash. */
export const WEBAUTHN_CHALLENGE_PURPOSE = 'webauthn_challenge';
/** 256 bits: well above the 16 bytes WebAuthn asks for, and never reused. */
const CHALLENGE_BYTES = 32;
const DEFAULT_LABEL = 'Passkey';
/** Credential ids decoys show are as long as real ones commonly are; each decoy keeps one length. */
const DECOY_ID_LENGTHS = [16, 32, 48, 64] as const;
const DECOY_TRANSPORTS: readonly (readonly AuthenticatorTransport[])[] = [['internal', 'hybrid'], ['usb'], ['usb', 'nfc'], ['hybrid', 'internal']];
const TRANSPORTS = ['ble', 'hybrid', 'internal', 'nfc', 'usb'] as const;

const enrollSchema = z.strictObject({
  label: z
    .string()
    .trim()
    .min(1)
    .max(40)
    .regex(/^[\p{L}\p{M}\p{N} ._'()-]+$/u)
    .optional(),
});

/** The outer shape of a serialised credential; the library checks everything inside. */
const credentialSchema = z.looseObject({
  id: z.string().min(1).max(1024),
  rawId: z.string().min(1).max(1024),
  type: z.literal('public-key'),
  response: z.looseObject({ clientDataJSON: z.string().max(4096) }),
  clientExtensionResults: z.looseObject({}),
});

/** What an active passkey enrollment stores (encrypted like every enrollment secret). */
const storedCredentialSchema = z.looseObject({
  credentialId: z.string().min(1),
  publicKey: z.string().min(1),
  counter: z.int().min(0),
  transports: z.array(z.enum(TRANSPORTS)).default([]),
});

function relyingPartyOf(context: MethodContext): RelyingParty {
  if (!context.relyingParty) throw new Error('webauthn needs the relying party (server configuration `webauthn`) in the method context');
  return context.relyingParty;
}

function credentialOf(answer: ChallengeAnswer): Record<string, unknown> | null {
  if (typeof answer !== 'object' || answer === null || !('credential' in answer)) return null;
  const parsed = credentialSchema.safeParse(answer.credential);
  return parsed.success ? parsed.data : null;
}

/** Checks the response's challenge against the stored MAC, so the challenge itself is never stored in the clear. */
function challengeCheck(context: MethodContext, challengeSecretHash: string): (challenge: string) => boolean {
  const { secrets } = context.services;
  return (challenge) => challenge.length <= 512 && secrets.equal(secrets.mac(WEBAUTHN_CHALLENGE_PURPOSE, challenge), challengeSecretHash);
}

function prompt(publicKey: Record<string, unknown>): ChallengePrompt {
  return { methodId: 'webauthn', answerKind: 'passkey', codeLength: null, questions: [], publicKey };
}

/**
 * Passkeys and security keys (WebAuthn Level 2 through `@simplewebauthn/server`; strength
 * `phishing_resistant`, channel `security_key`).
 *
 * Registration: `enroll` returns the creation options (attestation `none`, resident key preferred,
 * user verification per policy) in `shownOnce.publicKey`, with the challenge kept in the pending
 * enrollment; `verify` with the browser's registration response checks challenge, origin, RP id and
 * user verification, and returns the credential (id, public key, counter, transports) as the new
 * secret. Authentication: `beginChallenge` issues request options bound to the one credential,
 * `verify` checks the assertion's signature, challenge, origin, RP id, user verification and that
 * the signature counter went up, and returns the new counter.
 *
 * SECURITY: the browser signs the origin it talked to, so a code-phishing page on another origin
 * gets an assertion that fails here (PHISH-1). A challenge is only ever compared by its MAC with
 * the challenge row the engine consumes once, so an assertion cannot be replayed into another
 * challenge or flow; a counter that does not increase (a cloned authenticator) is refused.
 * Decoys get options of the same shape: a credential id and transports derived from the decoy seed,
 * stable per identifier, so the options do not tell which identifiers have passkeys (ENUM-3).
 */
export const webauthnMethod: RecoveryMethod = Object.freeze({
  id: 'webauthn',
  strength: 'phishing_resistant',
  channel: 'security_key',
  countsAsGate: true,

  async enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft> {
    const parsed = parseEnrollInput(enrollSchema, input ?? {}, (field) =>
      field === 'label' ? 'must be 1-40 letters, digits, spaces or . _ \' ( ) -' : 'is not valid',
    );
    const rp = relyingPartyOf(context);
    if (!context.subject) throw new Error('webauthn enrollment needs the subject in the method context');
    const { secrets, random } = context.services;
    const challenge = random.bytes(CHALLENGE_BYTES).toString('base64url');
    // The user handle is a keyed hash of the account id: stable (one passkey per account and device),
    // and it tells the authenticator nothing about the directory.
    const userID = new Uint8Array(Buffer.from(secrets.mac('webauthn_user', context.subject.accountId), 'hex'));
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userID,
      userName: context.subject.username,
      userDisplayName: context.subject.displayName || context.subject.username,
      challenge: Buffer.from(challenge, 'base64url'),
      timeout: context.policy.methods.webauthn.challengeTtlSeconds * 1000,
      attestationType: 'none',
      authenticatorSelection: { residentKey: 'preferred', userVerification: context.policy.methods.webauthn.userVerification },
    });
    return {
      secret: { registrationChallenge: challenge },
      label: parsed.label ?? DEFAULT_LABEL,
      channelAddress: null,
      status: 'pending',
      shownOnce: { publicKey: JSON.stringify(options) },
      singleUse: [],
    };
  },

  async beginChallenge(enrollment: EnrolledSecret | null, context: MethodContext, seed: string): Promise<ChallengeStart> {
    const { secrets, random } = context.services;
    const ttlSeconds = context.policy.methods.webauthn.challengeTtlSeconds;
    const registering = enrollment !== null && typeof enrollment.secret['registrationChallenge'] === 'string';
    if (registering) {
      const challenge = enrollment.secret['registrationChallenge'] as string;
      return { secretHash: secrets.mac(WEBAUTHN_CHALLENGE_PURPOSE, challenge), ttlSeconds, message: null, prompt: prompt({}) };
    }
    const rp = relyingPartyOf(context);
    const stored = enrollment ? storedCredentialSchema.safeParse(enrollment.secret) : null;
    let allow: { id: string; transports: AuthenticatorTransport[] };
    if (stored?.success) {
      allow = { id: stored.data.credentialId, transports: [...stored.data.transports] };
    } else {
      const digest = Buffer.from(secrets.mac('webauthn_decoy_credential', seed), 'hex');
      const length = DECOY_ID_LENGTHS[(digest[0] ?? 0) % DECOY_ID_LENGTHS.length] ?? 32;
      const id = Buffer.concat([digest, Buffer.from(secrets.mac('webauthn_decoy_credential_2', seed), 'hex'), Buffer.from(secrets.mac('webauthn_decoy_credential_3', seed), 'hex')]).subarray(0, length);
      allow = { id: id.toString('base64url'), transports: [...(DECOY_TRANSPORTS[(digest[1] ?? 0) % DECOY_TRANSPORTS.length] ?? [])] };
    }
    const challenge = random.bytes(CHALLENGE_BYTES).toString('base64url');
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      challenge: Buffer.from(challenge, 'base64url'),
      timeout: ttlSeconds * 1000,
      allowCredentials: [allow],
      userVerification: context.policy.methods.webauthn.userVerification,
    });
    return { secretHash: secrets.mac(WEBAUTHN_CHALLENGE_PURPOSE, challenge), ttlSeconds, message: null, prompt: prompt({ ...options }) };
  },

  async verify(answer: ChallengeAnswer, challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome> {
    const credential = credentialOf(answer);
    if (credential === null || enrollment === null || challengeSecretHash === null) return { kind: 'mismatch' };
    const rp = relyingPartyOf(context);
    const requireUserVerification = context.policy.methods.webauthn.userVerification === 'required';
    const expectedChallenge = challengeCheck(context, challengeSecretHash);
    try {
      if (typeof enrollment.secret['registrationChallenge'] === 'string') {
        const result = await verifyRegistrationResponse({
          response: credential as unknown as RegistrationResponseJSON,
          expectedChallenge,
          expectedOrigin: [...rp.origins],
          expectedRPID: rp.id,
          requireUserVerification,
        });
        if (!result.verified) return { kind: 'mismatch' };
        const info = result.registrationInfo;
        const transports = ((credential['response'] as { transports?: unknown }).transports ?? []) as unknown[];
        return {
          kind: 'match',
          singleUse: null,
          secretUpdate: {
            credentialId: info.credential.id,
            publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
            counter: info.credential.counter,
            transports: transports.filter((item): item is (typeof TRANSPORTS)[number] => (TRANSPORTS as readonly unknown[]).includes(item)),
            aaguid: info.aaguid,
            deviceType: info.credentialDeviceType,
            backedUp: info.credentialBackedUp,
          },
        };
      }
      const stored = storedCredentialSchema.safeParse(enrollment.secret);
      if (!stored.success) throw new Error(`webauthn enrollment ${enrollment.id} has no credential in its secret`);
      if (credential['id'] !== stored.data.credentialId) return { kind: 'mismatch' };
      const result = await verifyAuthenticationResponse({
        response: credential as unknown as AuthenticationResponseJSON,
        expectedChallenge,
        expectedOrigin: [...rp.origins],
        expectedRPID: rp.id,
        credential: { id: stored.data.credentialId, publicKey: new Uint8Array(Buffer.from(stored.data.publicKey, 'base64url')), counter: stored.data.counter, transports: [...stored.data.transports] },
        requireUserVerification,
      });
      if (!result.verified) return { kind: 'mismatch' };
      return { kind: 'match', singleUse: null, secretUpdate: { ...enrollment.secret, counter: result.authenticationInfo.newCounter } };
    } catch (error) {
      // A corrupt enrollment is ours to fix; everything the library refuses is the answer's fault.
      if (error instanceof Error && error.message.startsWith('webauthn enrollment')) throw error;
      return { kind: 'mismatch' };
    }
  },
});
