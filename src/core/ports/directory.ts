import type { DirectoryAccount, LockState } from '../account/account.ts';
import type { AccountId } from '../account/ids.ts';

export const DIRECTORY_CAPABILITIES = ['find_account', 'reset_password', 'unlock_account', 'read_groups', 'read_lock_state', 'verify_password', 'list_accounts', 'search_accounts'] as const;

/** The most accounts one searchAccounts call returns, whatever the caller asks for. */
export const SEARCH_ACCOUNTS_MAX = 500;

/** A searchAccounts limit within 1..SEARCH_ACCOUNTS_MAX (a non-number reads as 1). */
export const clampSearchLimit = (limit: number): number => (Number.isFinite(limit) ? Math.min(SEARCH_ACCOUNTS_MAX, Math.max(1, Math.trunc(limit))) : 1);
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
   * Every account the directory holds, disabled ones included, each exactly once, for reports
   * (capability `list_accounts`). The implementation fetches in pages, so a caller can walk a large
   * directory without holding it in memory; order is the implementation's own and stable per walk.
   */
  listAccounts(): AsyncIterable<DirectoryAccount>;
  /**
   * Accounts whose username, display name or work email contains `query` (case-insensitive; an
   * empty query matches every account), disabled ones included, in username order, at most `limit`
   * of them (clamped to 1..SEARCH_ACCOUNTS_MAX), for the admin console (capability
   * `search_accounts`). `afterUsername` pages on: only usernames after it are returned.
   * SECURITY: the query is data, never syntax: LDAP escapes it (RFC 4515) and SQL binds it with LIKE
   * wildcards escaped, so `*)(uid=*` or `%` matches those characters literally.
   * An LDAP directory orders only the first 1,000 matches its server returns (a server-side sort
   * is not universal); a query matching more should be narrowed.
   */
  searchAccounts(query: string, limit: number, options?: { readonly afterUsername?: string }): Promise<DirectoryAccount[]>;
  /**
   * Checks a password as a sign-in would; a wrong password counts toward the directory's lock-out.
   * Empty passwords never reach the directory (PWD-10): callers reject them first.
   */
  verifyPassword(id: AccountId, password: string): Promise<PasswordVerification>;
  /** An administrative reset: writes the password exactly as given. */
  setPassword(id: AccountId, password: string): Promise<PasswordWriteResult>;
  readLockState(id: AccountId): Promise<LockState>;
  /**
   * When the account's password last changed, by whatever path (OpenLDAP `pwdChangedTime`, AD
   * `pwdLastSet`, the built-in store's own record); null when the account is unknown or the
   * directory does not keep it. Optional: the break-glass watch skips the check without it.
   */
  readPasswordChangedAt?(id: AccountId): Promise<Date | null>;
  /** Clears the lock and the failed sign-in counter. */
  unlock(id: AccountId): Promise<void>;
  /** Resolves when the directory answers; rejects otherwise. Used by /readyz. */
  ping(): Promise<void>;
}
