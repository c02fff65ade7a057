import type { Tier } from '../../account/account.ts';
import type { MethodId } from '../../methods/method-ids.ts';
import type { ChallengePrompt } from '../../methods/method.ts';

export const RECOVERY_PURPOSES = ['reset', 'unlock'] as const;
export const FLOW_PURPOSES = ['reset', 'unlock', 'sign_in'] as const;
/**
 * What the flow is for: a new password, clearing a lock without changing the password, or the
 * gate after a correct password when a person signs in to manage their methods.
 */
export type RecoveryPurpose = (typeof FLOW_PURPOSES)[number];

/** A passed challenge that counts toward the tier's gates. */
export interface Gate {
  readonly methodId: MethodId;
  readonly enrollmentId: string;
  readonly passedAt: string;
}

/**
 * Facts fixed when the flow starts. `subjectKey` is the account id, or for a decoy a keyed hash of
 * the identifier, so rate limits and throttles treat real and unknown subjects alike (ENUM-4).
 */
export interface RecoverySubject {
  readonly purpose: RecoveryPurpose;
  readonly decoy: boolean;
  readonly subjectKey: string;
  readonly tier: Tier;
  readonly department: string | null;
  /** Seed for deterministic decoy prompts (the same questions on every attempt). */
  readonly seed: string;
  /** Gates required beyond the usual count, decided at start: a recovery from outside a declared trip (travel), a sign-in right after a recovery (lifecycle); absent means none. */
  readonly extraGates?: number;
}

export type RecoveryState =
  | (RecoverySubject & { readonly name: 'awaiting_method_choice'; readonly gates: readonly Gate[] })
  | (RecoverySubject & {
      readonly name: 'awaiting_challenge_answer';
      readonly gates: readonly Gate[];
      readonly challengeId: string;
      readonly methodId: MethodId;
      readonly enrollmentId: string | null;
      readonly prompt: ChallengePrompt;
    })
  | (RecoverySubject & { readonly name: 'awaiting_new_password'; readonly gates: readonly Gate[]; readonly grantExpiresAt: string })
  | (RecoverySubject & { readonly name: 'awaiting_unlock_confirmation'; readonly gates: readonly Gate[]; readonly grantExpiresAt: string })
  /** One request holds the grant while it writes to the directory; concurrent requests are refused (TOK-5). */
  | (RecoverySubject & { readonly name: 'completing'; readonly gates: readonly Gate[]; readonly grantExpiresAt: string })
  | (RecoverySubject & { readonly name: 'completed'; readonly completedAt: string })
  | (RecoverySubject & { readonly name: 'expired' })
  | (RecoverySubject & { readonly name: 'superseded' })
  /** Closed by the sweeper after a process stopped between claiming the grant and finishing. */
  | (RecoverySubject & { readonly name: 'interrupted' });

export type RecoveryStateName = RecoveryState['name'];

export const TERMINAL_STATES: ReadonlySet<RecoveryStateName> = new Set(['completed', 'expired', 'superseded', 'interrupted']);

export const isTerminal = (state: RecoveryState): boolean => TERMINAL_STATES.has(state.name);

/** The gates passed so far; none once the flow has ended. */
export const gatesOf = (state: RecoveryState): readonly Gate[] => ('gates' in state ? state.gates : []);

/** The facts fixed at start, without the step-specific fields. */
export const subjectOf = (state: RecoveryState): RecoverySubject => ({
  purpose: state.purpose,
  decoy: state.decoy,
  subjectKey: state.subjectKey,
  tier: state.tier,
  department: state.department,
  seed: state.seed,
  ...(state.extraGates ? { extraGates: state.extraGates } : {}),
});
