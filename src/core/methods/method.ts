import type { EnrollmentId } from '../account/ids.ts';
import type { MethodId, StrengthClass, ChannelKind } from './method-ids.ts';
import type { OutboundMessage } from '../ports/message-channel.ts';
import type { PasswordHasher, Random, SecretHasher } from '../ports/system.ts';
import type { SingleUsePurpose } from '../ports/store.ts';
import type { Policy } from '../policy/schema.ts';

/** What every method may use: no I/O beyond the injected ports. */
export interface MethodServices {
  readonly random: Random;
  readonly secrets: SecretHasher;
  readonly passwords: PasswordHasher;
}

export interface MethodContext {
  readonly now: Date;
  /** Why the challenge runs; it picks the message wording. */
  readonly purpose: 'reset' | 'unlock' | 'enrollment' | 'sign_in';
  readonly policy: Policy;
  /** The account's display name, for message salutations; never request input. */
  readonly displayName: string;
  readonly services: MethodServices;
  /** ISO 3166-1 region for phone numbers typed in national format (server `phone.defaultRegion`); unset means international form only. */
  readonly defaultPhoneRegion?: string;
  /** The WebAuthn relying party (server `webauthn`); passkeys refuse to work without it. */
  readonly relyingParty?: RelyingParty;
  /** Who registers a method, for methods that name the account to the device (passkeys); set only by enrollment. */
  readonly subject?: { readonly accountId: string; readonly username: string; readonly displayName: string };
}

/** Who the passkeys belong to and where they may be used: the RP id and the exact origins allowed. */
export interface RelyingParty {
  readonly id: string;
  readonly name: string;
  readonly origins: readonly string[];
}

/**
 * The person's answer to a challenge, in the one shape its method expects. `credential` is a
 * WebAuthn response as `@simplewebauthn/browser` serialises it (registration or authentication).
 */
export type ChallengeAnswer = { readonly code: string } | { readonly answers: readonly string[] } | { readonly credential: Readonly<Record<string, unknown>> };

/**
 * What the person sees for a challenge. Before the first gate it carries nothing that depends on
 * the account (ENUM-3): the same prompt for a real account, a decoy, and an account that lacks the
 * method.
 */
export interface ChallengePrompt {
  readonly methodId: MethodId;
  readonly answerKind: 'numeric_code' | 'alphanumeric_code' | 'answers' | 'passkey';
  /** WebAuthn request options (JSON form) for `passkey` prompts; shaped alike for a real account and a decoy. */
  readonly publicKey?: Readonly<Record<string, unknown>>;
  readonly codeLength: number | null;
  /** Question texts for security questions; empty for code methods. */
  readonly questions: readonly string[];
}

export interface ChallengeStart {
  /** Keyed hash of the expected answer for code methods; null when verification uses the enrollment secret. */
  readonly secretHash: string | null;
  /** Lifetime of this challenge. */
  readonly ttlSeconds: number;
  /** A message to queue (the code, to the address of record); null for app-based methods and decoys. */
  readonly message: OutboundMessage | null;
  readonly prompt: ChallengePrompt;
}

/** A single-use secret the engine must consume atomically before a match counts. */
export interface SingleUseClaim {
  readonly purpose: SingleUsePurpose;
  readonly keyHash: string;
  /**
   * `consume`: a pre-registered secret (recovery code); `claim`: record first use (TOTP step);
   * `use_pass`: count one use of a live temporary access pass (TemporaryAccessPassRepository.use).
   */
  readonly mode: 'consume' | 'claim' | 'use_pass';
}

export type VerifyOutcome =
  | { readonly kind: 'mismatch' }
  | {
      readonly kind: 'match';
      readonly singleUse: SingleUseClaim | null;
      /**
       * The enrollment secret as it must be stored from now on (a passkey's credential after
       * registration, its signature counter after a use). The engine writes it compare-and-set in
       * the transaction that counts the match; if another request changed the secret first, the
       * match does not count.
       */
      readonly secretUpdate?: Readonly<Record<string, unknown>>;
    };

/** A method's enrollment as a method sees it: id and decrypted secret. */
export interface EnrolledSecret {
  readonly id: EnrollmentId;
  readonly secret: Readonly<Record<string, unknown>>;
}

export interface EnrollmentDraft {
  /** Encrypted by the caller before it is stored. */
  readonly secret: Readonly<Record<string, unknown>>;
  /** Masked, safe to show the owner: `a•••e@example.org`, `+44•••••••12`, `Authenticator app`. */
  readonly label: string;
  /** Normalised address or number, for the keyed fingerprint that finds reuse across accounts. */
  readonly channelAddress: string | null;
  /** `active` when nothing needs proving (recovery codes); otherwise a verification challenge follows. */
  readonly status: 'pending' | 'active';
  /** Shown to the person once and never again (TOTP key and URI, recovery codes). */
  readonly shownOnce: Readonly<Record<string, string | readonly string[]>> | null;
  /** Single-use secrets to store with the enrollment (recovery code hashes). */
  readonly singleUse: readonly { readonly keyHash: string; readonly purpose: SingleUsePurpose }[];
}

/**
 * A recovery method: a strategy, not an endpoint. It begins challenges, verifies answers and
 * presents sanitised prompts. Attempt caps, expiry, rate limits, single-use consumption and audit
 * live once in the flow engine, for every method alike (STYLE §1.3).
 */
export interface RecoveryMethod {
  readonly id: MethodId;
  readonly strength: StrengthClass;
  readonly channel: ChannelKind;
  /** Whether a gate of this method counts toward the tier's gate count (knowledge never does: FAC-6). */
  readonly countsAsGate: boolean;
  /** Validates enrollment input (throws DomainError 'enrollment.invalid_input' with a message naming the field). */
  enroll(input: unknown, context: MethodContext): Promise<EnrollmentDraft>;
  /**
   * Starts a challenge. `enrollment` is null for a decoy (unknown account, or the account lacks the
   * method): the result must look the same and can never be answered.
   */
  beginChallenge(enrollment: EnrolledSecret | null, context: MethodContext, seed: string): Promise<ChallengeStart>;
  /** Checks an answer. Pure apart from hashing: consumption is the engine's job. */
  verify(answer: ChallengeAnswer, challengeSecretHash: string | null, enrollment: EnrolledSecret | null, context: MethodContext): Promise<VerifyOutcome>;
}
