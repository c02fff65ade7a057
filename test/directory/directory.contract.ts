import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountId } from '../../src/core/account/ids.ts';
import type { Directory } from '../../src/core/ports/directory.ts';
import { isDomainError } from '../../src/core/errors.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { resolveTier } from '../../src/core/policy/tier.ts';
import { readFileSync } from 'node:fs';

/** A person the fixture created in the directory under test. */
export interface SeededPerson {
  readonly username: string;
  readonly email: string;
  readonly password: string;
  readonly accountId: AccountId;
}

export interface NewPerson {
  /** Letters and digits only, so every directory accepts it as a username. */
  readonly username: string;
  readonly password: string;
  readonly email?: string;
  readonly displayName?: string;
  readonly department?: string;
  /** The phone of record as a directory administrator typed it (fixtures whose `storesPhone` is true). */
  readonly phone?: string;
  /** Group names (common names); the fixture creates missing groups. */
  readonly groups?: readonly string[];
}

/**
 * What a directory must offer for the contract suite: the Directory under test plus seeding and
 * checking helpers that do NOT go through it (a rootdn/administrator client, `ldapwhoami`, the
 * store), so the suite checks the directory against the truth rather than against itself.
 */
export interface DirectoryFixture {
  readonly directory: Directory;
  createPerson(person: NewPerson): Promise<SeededPerson>;
  /** Locks the account the way the directory does on repeated wrong passwords (real failed binds). */
  lockByFailedSignIns(person: SeededPerson): Promise<void>;
  /**
   * Whether a sign-in with this password would succeed now (so false while the account is locked),
   * checked with a client independent of the Directory under test.
   */
  checkPassword(person: SeededPerson, password: string): Promise<boolean>;
  /**
   * Passwords the directory's own policy refuses on an administrative reset, or null when the
   * directory has no policy of its own (the built-in one leaves the rules to Latchkey's policy).
   */
  readonly directoryPolicy: { readonly tooShort: string; readonly refusesRecentPassword: boolean } | null;
  /**
   * Whether the directory keeps a phone of record (LDAP/AD `telephoneNumber`); the built-in one does
   * not, and reports every account's phone as null.
   */
  readonly storesPhone: boolean;
  /** A password never used before that both the directory's and Latchkey's default policy accept. */
  freshPassword(): string;
  close(): Promise<void>;
}

const parsed = parsePolicy(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'), 'default.yaml');
if (!parsed.ok) throw new Error('default policy refused');
const defaultPolicy = parsed.policy;

/** Raw LDAP and AD diagnostics that must never reach a person (ENUM-7). */
const DIAGNOSTIC = /Code: 0x|0000052D|data [0-9a-f]{3}|ppolicy|uid=|cn=|dc=|LDAP/i;

/**
 * The one suite every Directory passes: built-in, OpenLDAP (slapd) and Samba AD. Names are short
 * random-suffixed words so each run seeds fresh people into a shared fixture.
 */
export function describeDirectoryContract(label: string, makeFixture: () => Promise<DirectoryFixture>): void {
  describe(`Directory contract: ${label}`, () => {
    let fixture: DirectoryFixture;
    let directory: Directory;
    let counter = 0;
    const unique = (stem: string): string => `${stem}${Date.now().toString(36)}${(counter += 1)}`;
    const person = async (extra: Partial<NewPerson> = {}): Promise<SeededPerson> => {
      const username = extra.username ?? unique('p');
      return fixture.createPerson({ username, password: fixture.freshPassword(), email: `${username}@corp.test`, department: 'Finance', ...extra });
    };

    beforeAll(async () => {
      fixture = await makeFixture();
      directory = fixture.directory;
    });
    afterAll(async () => {
      await fixture?.close();
    });

    it('finds a person by username and by work email, with their details', async () => {
      const alice = await person({ displayName: 'Alice Liddell', department: 'Sales' });
      for (const identifier of [alice.username, alice.email]) {
        const lookup = await directory.findByIdentifier(identifier);
        expect(lookup.kind).toBe('one');
        if (lookup.kind !== 'one') continue;
        expect(lookup.account).toMatchObject({ id: alice.accountId, username: alice.username, displayName: 'Alice Liddell', workEmail: alice.email, department: 'Sales', enabled: true });
      }
    });

    it('finds nobody for an unknown identifier', async () => {
      expect(await directory.findByIdentifier(unique('ghost'))).toEqual({ kind: 'none' });
      expect(await directory.findByIdentifier(`${unique('ghost')}@corp.test`)).toEqual({ kind: 'none' });
    });

    it('reports an identifier that names two accounts as ambiguous', async () => {
      const first = await person();
      // Two entries share one work email: mail must never go to a guess.
      await person({ email: `${first.username}@corp.test` });
      expect(await directory.findByIdentifier(first.email)).toEqual({ kind: 'ambiguous' });
    });

    it('treats filter syntax in an identifier as literal text: injection finds nothing and raises nothing', async () => {
      await person();
      for (const identifier of ['*', '*)(uid=*', 'alice)(|(uid=*', '\\2a', '*)(|(objectClass=*', '(', ')', '\\', '*@corp.test', 'p*']) {
        expect(await directory.findByIdentifier(identifier), identifier).toEqual({ kind: 'none' });
      }
    });

    it('gets an account by its id, and nothing for an id that is not one of its accounts', async () => {
      const bob = await person();
      expect((await directory.getAccount(bob.accountId))?.username).toBe(bob.username);
      for (const bogus of ['builtin:nope', 'openldap:*', 'openldap:00000000-0000-0000-0000-000000000000', 'active_directory:*)(objectClass=*', `${bob.accountId}x`, '*']) {
        expect(await directory.getAccount(bogus as AccountId), bogus).toBeNull();
      }
    });

    it('verifies a password: valid, and invalid for a wrong one or an empty one', async () => {
      const carol = await person();
      expect(await directory.verifyPassword(carol.accountId, carol.password)).toBe('valid');
      // PWD-10: an empty password is an unauthenticated bind to LDAP; blank and NUL must fail too.
      for (const wrong of [`${carol.password}-wrong`, '', ' ', '\u0000']) {
        expect(await directory.verifyPassword(carol.accountId, wrong), JSON.stringify(wrong)).toBe('invalid');
        // Clear the failure count each wrong guess leaves, so no directory reaches its lock-out threshold.
        await directory.unlock(carol.accountId);
      }
      expect(await directory.verifyPassword(carol.accountId, carol.password)).toBe('valid');
    });

    it('sets a password as an administrative reset: the new one works and the old one is refused', async () => {
      const dave = await person();
      const next = fixture.freshPassword();
      expect(await directory.setPassword(dave.accountId, next)).toEqual({ ok: true });
      expect(await fixture.checkPassword(dave, next)).toBe(true);
      expect(await fixture.checkPassword(dave, dave.password)).toBe(false);
      expect(await directory.verifyPassword(dave.accountId, next)).toBe('valid');
    });

    it('writes a long Unicode password exactly as typed, and a sign-in with the same string works (PWD-2, PWD-5)', async () => {
      const ivy = await person();
      const unicode = `pässwörd ✓ ﬁ long enough ${fixture.freshPassword()}`;
      expect(await directory.setPassword(ivy.accountId, unicode)).toEqual({ ok: true });
      expect(await fixture.checkPassword(ivy, unicode)).toBe(true);
      const long = `${fixture.freshPassword()} ${'x'.repeat(64)}`.slice(0, 80);
      expect(await directory.setPassword(ivy.accountId, long)).toEqual({ ok: true });
      expect(await fixture.checkPassword(ivy, long)).toBe(true);
      expect(await fixture.checkPassword(ivy, long.slice(0, 72))).toBe(false);
      expect(await fixture.checkPassword(ivy, long.toUpperCase())).toBe(false);
    });

    it('returns the directory policy refusal as a readable reason, and the next good password still works', async (context) => {
      const policy = fixture.directoryPolicy;
      if (!policy) return context.skip('this directory has no password policy of its own');
      const erin = await person();
      const short = await directory.setPassword(erin.accountId, policy.tooShort);
      expect(short.ok).toBe(false);
      if (!short.ok) {
        expect(short.reason.length).toBeGreaterThan(10);
        expect(short.reason).not.toMatch(DIAGNOSTIC);
      }
      if (policy.refusesRecentPassword) {
        const next = fixture.freshPassword();
        expect(await directory.setPassword(erin.accountId, next)).toEqual({ ok: true });
        const reused = await directory.setPassword(erin.accountId, erin.password);
        expect(reused.ok).toBe(false);
        if (!reused.ok) {
          expect(reused.reason).toMatch(/recent|used before|history/i);
          expect(reused.reason).not.toMatch(DIAGNOSTIC);
        }
        expect(await fixture.checkPassword(erin, next)).toBe(true);
      }
      const final = fixture.freshPassword();
      expect(await directory.setPassword(erin.accountId, final)).toEqual({ ok: true });
      expect(await fixture.checkPassword(erin, final)).toBe(true);
    });

    it('reads the lock a directory sets after failed sign-ins, and unlock clears it', async () => {
      const frank = await person();
      expect(await directory.readLockState(frank.accountId)).toEqual({ locked: false });
      await fixture.lockByFailedSignIns(frank);
      const lock = await directory.readLockState(frank.accountId);
      expect(lock.locked).toBe(true);
      if (lock.locked) expect(Math.abs(lock.since.getTime() - Date.now())).toBeLessThan(10 * 60_000);
      expect(await directory.verifyPassword(frank.accountId, frank.password)).toBe('locked');
      expect(await fixture.checkPassword(frank, frank.password)).toBe(false);

      await directory.unlock(frank.accountId);
      expect(await directory.readLockState(frank.accountId)).toEqual({ locked: false });
      expect(await fixture.checkPassword(frank, frank.password)).toBe(true);
      // The failure count went with the lock: one more wrong password does not lock again.
      expect(await directory.verifyPassword(frank.accountId, 'one more wrong password')).toBe('invalid');
      expect(await directory.verifyPassword(frank.accountId, frank.password)).toBe('valid');
    });

    it('reports groups so that policy tier groups match them, and the department', async () => {
      const grace = await person({ groups: ['admins', 'staff'], department: 'Security' });
      const account = await directory.getAccount(grace.accountId);
      expect(account?.department).toBe('Security');
      expect(resolveTier(defaultPolicy, account?.groups ?? [], account?.directoryPrivileged ?? false)).toBe('privileged');
      const plain = await person({ groups: ['staff'] });
      const plainAccount = await directory.getAccount(plain.accountId);
      expect(plainAccount?.groups.length).toBe(1);
      expect(resolveTier(defaultPolicy, plainAccount?.groups ?? [], plainAccount?.directoryPrivileged ?? false)).toBe('standard');
    });

    it('lists every account exactly once', async () => {
      const seeded = [await person(), await person(), await person()];
      const seen = new Map<string, number>();
      for await (const account of directory.listAccounts()) seen.set(account.id, (seen.get(account.id) ?? 0) + 1);
      for (const one of seeded) expect(seen.get(one.accountId)).toBe(1);
      expect([...seen.values()].every((count) => count === 1)).toBe(true);
    });

    it('reports the phone of record in E.164, and a value that is no phone number as null, never an error', async () => {
      const phoned = await person({ phone: '+44 7700 900123' });
      const unparseable = await person({ phone: 'ext. 4711 (reception)' });
      const none = await person();
      const expected = fixture.storesPhone ? '+447700900123' : null;
      expect((await directory.getAccount(phoned.accountId))?.phone).toBe(expected);
      const lookup = await directory.findByIdentifier(phoned.username);
      expect(lookup.kind === 'one' ? lookup.account.phone : 'not found').toBe(expected);
      expect((await directory.getAccount(unparseable.accountId))?.phone).toBeNull();
      expect(await directory.verifyPassword(unparseable.accountId, unparseable.password)).toBe('valid');
      expect((await directory.getAccount(none.accountId))?.phone).toBeNull();
      expect(directory.capabilities.has('search_accounts')).toBe(true);
    });

    it('searches accounts by username, display name or work email, case-insensitively, in username order', async () => {
      const stem = unique('srch');
      const zed = await person({ username: `${stem}z`, displayName: `Zora ${stem.toUpperCase()} Quill` });
      const amy = await person({ username: `${stem}a`, displayName: 'Amy Pond' });
      await person({ username: `${stem}m`, email: `marked.${stem}@corp.test`, displayName: 'Mark' });
      const ids = async (query: string, limit = 50, afterUsername?: string): Promise<string[]> =>
        (await directory.searchAccounts(query, limit, afterUsername === undefined ? {} : { afterUsername })).map((account) => account.username);

      expect(await ids(stem)).toEqual([`${stem}a`, `${stem}m`, `${stem}z`]);
      expect(await ids(stem.toUpperCase())).toEqual([`${stem}a`, `${stem}m`, `${stem}z`]);
      // Display name (a substring in the middle, another case), then work email.
      expect(await ids(`zora ${stem}`)).toEqual([zed.username]);
      expect(await ids(`marked.${stem}`)).toEqual([`${stem}m`]);
      // Bounded and paged: the limit holds, and `afterUsername` continues after the last one seen.
      expect(await ids(stem, 2)).toEqual([`${stem}a`, `${stem}m`]);
      expect(await ids(stem, 2, `${stem}m`)).toEqual([`${stem}z`]);
      const [found] = await directory.searchAccounts(amy.username, 5);
      expect(found).toMatchObject({ id: amy.accountId, username: amy.username, displayName: 'Amy Pond', workEmail: amy.email, enabled: true });
      expect(await directory.searchAccounts(unique('nobody'), 10)).toEqual([]);
      expect((await directory.searchAccounts('', 3)).length).toBe(3);
    });

    it('treats filter and wildcard syntax in a search as literal text: injection finds nothing and raises nothing', async () => {
      await person({ displayName: 'Plain Person' });
      for (const query of ['*', '*)(uid=*', '*)(|(objectClass=*', 'x*)(|(mail=*', '\\2a', '(', ')', '\\', '%', '_%', '*@corp.test', `${unique('p')}*`]) {
        expect(await directory.searchAccounts(query, 50), query).toEqual([]);
      }
    });

    it('answers ping', async () => {
      await expect(directory.ping()).resolves.toBeUndefined();
    });

    it('never throws anything but directory.unavailable for a well-formed call', async () => {
      const henry = await person();
      const calls = [directory.findByIdentifier('x'.repeat(256)), directory.getAccount(henry.accountId), directory.readLockState(henry.accountId)];
      const results = await Promise.allSettled(calls);
      for (const result of results) {
        if (result.status === 'rejected') expect(isDomainError(result.reason) && result.reason.code === 'directory.unavailable').toBe(true);
      }
      expect(results.every((result) => result.status === 'fulfilled')).toBe(true);
    });
  });
}
