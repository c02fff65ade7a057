import type { DirectoryAccount, LockState } from '../../../core/account/account.ts';
import type { AccountId } from '../../../core/account/ids.ts';
import { clampSearchLimit, DIRECTORY_CAPABILITIES, type Directory, type DirectoryLookup, type PasswordVerification, type PasswordWriteResult } from '../../../core/ports/directory.ts';
import type { BuiltinAccountRecord, Store } from '../../../core/ports/store.ts';
import type { Clock, PasswordHasher } from '../../../core/ports/system.ts';

/**
 * Passwords in the built-in store are NFKC-normalised at set and at verify (NIST SP 800-63B
 * §5.1.1.2, PWD-5), so a password typed in NFC or NFD verifies the same. Nothing is truncated or
 * case-folded (PWD-2).
 */
export const normalisePassword = (password: string): string => password.normalize('NFKC');

export const toDirectoryAccount = (record: BuiltinAccountRecord): DirectoryAccount => ({
  id: record.id,
  username: record.username,
  displayName: record.displayName,
  workEmail: record.workEmail,
  department: record.department,
  // The built-in store keeps no phone of record: phones are enrolled and verified (sms_code).
  phone: null,
  groups: record.groups,
  enabled: record.enabled,
  // The built-in directory has no directory-side admin marker: tiers come from groups alone.
  directoryPrivileged: false,
});

const LIST_ACCOUNTS_PAGE_SIZE = 500;

/**
 * The built-in directory: accounts in Latchkey's own database with argon2id password hashes.
 * Failed sign-ins lock an account at the policy's threshold, so unlock is real.
 */
export function createBuiltinDirectory(deps: { store: Store; hasher: PasswordHasher; clock: Clock; lockoutThreshold: () => number }): Directory {
  const { store, hasher, clock } = deps;
  return {
    name: 'builtin',
    capabilities: new Set(DIRECTORY_CAPABILITIES),

    async findByIdentifier(canonicalIdentifier: string): Promise<DirectoryLookup> {
      // Username and email are both looked up, always, so the lookup costs the same whichever matches.
      const [byName, byEmail] = await Promise.all([store.builtinAccounts.findByUsername(canonicalIdentifier), store.builtinAccounts.findByEmail(canonicalIdentifier)]);
      const matches = new Map<string, BuiltinAccountRecord>();
      if (byName) matches.set(byName.id, byName);
      for (const record of byEmail) matches.set(record.id, record);
      // SECURITY: an identifier that names two accounts (one's username is another's email, or two
      // share an email) resolves to none, so mail can never go to the wrong one (INP-9).
      if (matches.size > 1) return { kind: 'ambiguous' };
      const only = [...matches.values()][0];
      return only ? { kind: 'one', account: toDirectoryAccount(only) } : { kind: 'none' };
    },

    async getAccount(id: AccountId): Promise<DirectoryAccount | null> {
      const record = await store.builtinAccounts.get(id);
      return record ? toDirectoryAccount(record) : null;
    },

    async *listAccounts(): AsyncIterable<DirectoryAccount> {
      // Keyset paging on the unique username: stable under concurrent inserts, no OFFSET rescans.
      let afterUsername: string | undefined;
      for (;;) {
        const page = await store.builtinAccounts.list({ limit: LIST_ACCOUNTS_PAGE_SIZE, ...(afterUsername === undefined ? {} : { afterUsername }) });
        for (const record of page) yield toDirectoryAccount(record);
        if (page.length < LIST_ACCOUNTS_PAGE_SIZE) return;
        afterUsername = page[page.length - 1]?.username;
      }
    },

    async searchAccounts(query: string, limit: number, options: { readonly afterUsername?: string } = {}): Promise<DirectoryAccount[]> {
      // The store escapes LIKE wildcards and binds the query as a parameter.
      const records = await store.builtinAccounts.list({
        limit: clampSearchLimit(limit),
        ...(options.afterUsername === undefined ? {} : { afterUsername: options.afterUsername }),
        ...(query === '' ? {} : { query }),
      });
      return records.map(toDirectoryAccount);
    },

    async verifyPassword(id: AccountId, password: string): Promise<PasswordVerification> {
      const record = await store.builtinAccounts.get(id);
      if (!record) return 'invalid';
      // SECURITY: the hash is checked before the account's state, so a locked or disabled account
      // answers as slowly as any wrong password; returning early let anyone lock an account with a
      // few wrong guesses and then tell it exists by its fast replies (ENUM-2, ENUM-5).
      const matches = await hasher.verify(record.passwordHash, normalisePassword(password));
      if (!record.enabled) return 'disabled';
      if (record.lockedAt) return 'locked';
      if (matches) {
        if (record.failedSignIns > 0) await store.builtinAccounts.clearFailedSignIns(id);
        return 'valid';
      }
      await store.builtinAccounts.recordFailedSignIn(id, deps.lockoutThreshold(), clock.now());
      return 'invalid';
    },

    async setPassword(id: AccountId, password: string): Promise<PasswordWriteResult> {
      const record = await store.builtinAccounts.get(id);
      if (!record) return { ok: false, reason: 'The account no longer exists.' };
      await store.builtinAccounts.setPassword(id, await hasher.hash(normalisePassword(password)), clock.now());
      return { ok: true };
    },

    async readPasswordChangedAt(id: AccountId): Promise<Date | null> {
      return (await store.builtinAccounts.get(id))?.passwordChangedAt ?? null;
    },

    async readLockState(id: AccountId): Promise<LockState> {
      const record = await store.builtinAccounts.get(id);
      return record?.lockedAt ? { locked: true, since: record.lockedAt } : { locked: false };
    },

    async unlock(id: AccountId): Promise<void> {
      await store.builtinAccounts.unlock(id);
    },

    async ping(): Promise<void> {
      await store.ping();
    },
  };
}
