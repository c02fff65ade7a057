import type { DirectoryAccount, LockState } from '../account/account.ts';
import type { AccountId } from '../account/ids.ts';

export const DIRECTORY_CAPABILITIES = ['find_account', 'reset_password', 'unlock_account', 'read_groups', 'read_lock_state', 'verify_password'] as const;
export type DirectoryCapability = (typeof DIRECTORY_CAPABILITIES)[number];

export type DirectoryLookup =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly account: DirectoryAccount }
  /** More than one entry matched: recovery treats it like no match (INP-9). */
  | { readonly kind: 'ambiguous' };

export type PasswordVerification = 'valid' | 'invalid' | 'locked' | 'disabled';

export type PasswordWriteResult =
  | { readonly ok: true }
  /** The directory's own policy refused the password; `reason` is safe to show the person. */
  | { readonly ok: false; readonly reason: string };

/**
 * The directory Latchkey fronts: built-in, LDAP or Active Directory. Every method may throw
 * DomainError('directory.unavailable') when the directory cannot be reached; callers must then
 * leave flows and grants unconsumed. Implementations are safe to call concurrently.
 */
export interface Directory {
  readonly name: string;
  readonly capabilities: ReadonlySet<DirectoryCapability>;
  /** Finds an account by username or work email, given in canonical form (see identifier.ts). */
  findByIdentifier(canonicalIdentifier: string): Promise<DirectoryLookup>;
  getAccount(id: AccountId): Promise<DirectoryAccount | null>;
  /**
   * Checks a password as a sign-in would; a wrong password counts toward the directory's lock-out.
   * Empty passwords never reach the directory (PWD-10): callers reject them first.
   */
  verifyPassword(id: AccountId, password: string): Promise<PasswordVerification>;
  /** An administrative reset: writes the password exactly as given. */
  setPassword(id: AccountId, password: string): Promise<PasswordWriteResult>;
  readLockState(id: AccountId): Promise<LockState>;
  /** Clears the lock and the failed sign-in counter. */
  unlock(id: AccountId): Promise<void>;
  /** Resolves when the directory answers; rejects otherwise. Used by /readyz. */
  ping(): Promise<void>;
}
