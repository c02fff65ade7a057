import type { AccountId } from '../account/ids.ts';

/**
 * Where a seal stands. `sealed`: the password is known only as shares held by custodians.
 * `opened`: custodians rebuilt it for an emergency and someone saw it; a re-seal is due at the end
 * of the emergency window. `retired`: a newer seal replaced it (re-seal, drill) and it binds nothing.
 */
export const SEAL_STATUSES = ['sealed', 'opened', 'retired'] as const;
export type SealStatus = (typeof SEAL_STATUSES)[number];

/**
 * What Latchkey keeps of a seal: who holds the shares and how many it takes, never the password or
 * a share in clear. `passwordMac` is a keyed hash of the sealed password, so a password rebuilt from
 * shares is recognised before it reaches the directory (a wrong combination must not cost a failed
 * bind toward the lock-out); the password is long and random, so the hash gives away nothing that
 * guessing could use even with the key.
 */
export interface SealRecord {
  readonly id: string;
  readonly accountId: AccountId;
  readonly username: string;
  /** Custodian names in share order: share n belongs to custodians[n - 1]. */
  readonly custodians: readonly string[];
  readonly threshold: number;
  readonly status: SealStatus;
  readonly passwordMac: string;
  /** The account's directory groups when it was sealed, for the watch. */
  readonly groups: readonly string[];
  /** The directory's password-changed time read right after the seal wrote the password; null when the directory does not tell. */
  readonly directoryPasswordChangedAt: Date | null;
  readonly sealedAt: Date;
  /** Who sealed it: `cli:<user>`, `token:<id>` or `worker`. */
  readonly sealedBy: string;
  /** The seal this one replaced, if any. */
  readonly replaces: string | null;
  readonly openedAt: Date | null;
  readonly resealDueAt: Date | null;
  /** The last passed drill of the account (carried over from seal to seal). */
  readonly lastDrillAt: Date | null;
  /**
   * Shares a worker made when it re-sealed on its own, encrypted (SecretCipher) until an operator
   * releases them to the custodians with `latchkey breakglass shares`; null otherwise.
   */
  readonly pendingShares: string | null;
  /** Watch mismatch kinds seen at the last check, so each is raised once when it appears. */
  readonly watchState: readonly string[];
  /** Compare-and-set counter. */
  readonly version: number;
}

export type DrillResult = 'passed' | 'failed';

/** A drill as stored: the canonical record text and its Ed25519 signature. */
export interface DrillRow {
  readonly id: string;
  readonly sealId: string;
  readonly accountId: AccountId;
  readonly at: Date;
  readonly result: DrillResult;
  readonly record: string;
  readonly keyId: string;
  readonly signature: string;
}

export type OpeningStatus = 'collecting' | 'completed' | 'expired';

/** A console opening: shares arrive one request at a time, from different operators. */
export interface OpeningRecord {
  readonly id: string;
  readonly sealId: string;
  readonly accountId: AccountId;
  readonly reason: string;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly status: OpeningStatus;
  /** SecretCipher output of the share codes received so far; null once the opening ended (wiped). */
  readonly sharesCiphertext: string | null;
  /** Which share numbers arrived and from whom, readable without decrypting anything. */
  readonly submitted: readonly { readonly share: number; readonly by: string }[];
  readonly version: number;
}
