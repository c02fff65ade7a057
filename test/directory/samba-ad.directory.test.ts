import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLdapDirectory } from '../../src/adapters/directory/ldap/ldap-directory.ts';
import { createActiveDirectoryProfile, DEFAULT_AD_PRIVILEGED_GROUPS } from '../../src/adapters/directory/ldap/active-directory-profile.ts';
import { guidFromBytes } from '../../src/adapters/directory/ldap/active-directory-attributes.ts';
import type { Directory } from '../../src/core/ports/directory.ts';
import type { DirectoryAccount } from '../../src/core/account/account.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { describeDirectoryContract } from './directory.contract.ts';
import { SAMBA_DOMAIN_DN, SAMBA_LDAPS_URL, SAMBA_PEOPLE, SAMBA_SERVICE_PASSWORD, SAMBA_SERVICE_UPN, startSambaAd, type SambaAd } from '../support/samba-ad.ts';

/*
 * The LDAP connector with the Active Directory profile against a real Samba AD domain controller,
 * bound as a delegated service account (Reset Password, write lockoutTime and pwdLastSet; no
 * administrator). Every password outcome is checked with ldapsearch, an independent client.
 */

let ad: SambaAd;
let directory: Directory & { close(): Promise<void> };
let enforcing: Directory & { close(): Promise<void> };

function connector(options: { enforceHistoryOnReset: boolean; mustChangeAtNextSignIn?: boolean }): Directory & { close(): Promise<void> } {
  return createLdapDirectory(
    {
      url: SAMBA_LDAPS_URL,
      startTls: false,
      ca: [Buffer.from(ad.caCert)],
      connectTimeoutMs: 2_000,
      operationTimeoutMs: 5_000,
      bindDn: SAMBA_SERVICE_UPN,
      bindPassword: SAMBA_SERVICE_PASSWORD,
      baseDn: SAMBA_DOMAIN_DN,
      groups: { mode: 'nested' },
      mustChangeAtNextSignIn: options.mustChangeAtNextSignIn ?? false,
      privilegedGroups: [...DEFAULT_AD_PRIVILEGED_GROUPS],
      poolSize: 2,
    },
    createActiveDirectoryProfile({ enforceHistoryOnReset: options.enforceHistoryOnReset }),
  );
}

async function find(identifier: string): Promise<DirectoryAccount> {
  const lookup = await directory.findByIdentifier(identifier);
  if (lookup.kind !== 'one') throw new Error(`${identifier}: ${lookup.kind}`);
  return lookup.account;
}

beforeAll(async () => {
  ad = await startSambaAd();
  directory = connector({ enforceHistoryOnReset: false });
  enforcing = connector({ enforceHistoryOnReset: true });
});

afterAll(async () => {
  await directory?.close();
  await enforcing?.close();
  await ad?.stop();
});

/*
 * The contract runs on the plain administrative reset. Its history case also expects a refused
 * write to leave the previous password working, which history enforcement on AD cannot give (the
 * temporary password is already set when the domain refuses the change): that mode has its own
 * cases below.
 */
describeDirectoryContract('Samba AD (nested groups, unicodePwd)', async () => ({
  directory,
  async createPerson(person) {
    const guid = await ad.addPerson(person);
    return { username: person.username, email: person.email ?? '', password: person.password, accountId: asAccountId(`active_directory:${guidFromBytes(guid)}`) };
  },
  lockByFailedSignIns: (person) => ad.lockByFailedBinds(person.username),
  checkPassword: async (person, password) => (await ad.bindWithCli(person.username, password)).ok,
  directoryPolicy: { tooShort: 'Ab1-', refusesRecentPassword: false },
  storesPhone: true,
  // Four character classes for the domain's complexity rule; long and uncommon for Latchkey's.
  freshPassword: () => `Fresh-${randomBytes(6).toString('hex')}-Otters-9`,
  // The connector outlives the suite: afterAll below closes it.
  close: async () => undefined,
}));

describe('Active Directory accounts on Samba', () => {
  it('finds an account by sAMAccountName and by mail, keyed by its objectGUID in canonical form', async () => {
    const alice = SAMBA_PEOPLE.alice;
    const byName = await find('alice');
    const byMail = await find(alice.email);
    const { objectGUID } = await ad.readAccount('alice', ['objectGUID']);
    expect(byName.id).toBe(`active_directory:${guidFromBytes(objectGUID as Buffer)}`);
    expect(byMail.id).toBe(byName.id);
    expect(byName).toMatchObject({ username: 'alice', displayName: alice.displayName, workEmail: alice.email, department: 'Sales', enabled: true, directoryPrivileged: false });
    expect(byName.groups).toContain('CN=Sales,CN=Users,DC=sspr,DC=test');
    expect(await directory.getAccount(byName.id)).toEqual(byName);
  });

  it('maps the seeded telephoneNumber to E.164 and searches people only: the disabled one included, no computer or DC account', async () => {
    expect((await find('alice')).phone).toBe('+493012345601');
    const everyone = await directory.searchAccounts('', 500);
    const usernames = everyone.map((account) => account.username);
    expect(usernames).toEqual(expect.arrayContaining(['alice', 'bob', 'dave', 'adm1']));
    // objectCategory=person keeps the DC's machine account (sAMAccountName ending in $) out.
    expect(usernames.some((name) => name.endsWith('$'))).toBe(false);
    expect(everyone.find((account) => account.username === 'dave')?.enabled).toBe(false);
    expect((await directory.searchAccounts('ada prot', 10)).map((account) => ({ username: account.username, directoryPrivileged: account.directoryPrivileged }))).toEqual([{ username: 'adm1', directoryPrivileged: true }]);
  });

  it('finds nothing, and raises nothing, for LDAP injection identifiers', async () => {
    for (const identifier of ['*', '*)(sAMAccountName=*', 'alice)(|(objectClass=*', 'ali*', '*)(objectGUID=*', '\\2a', '(|(mail=*))']) {
      expect((await directory.findByIdentifier(identifier)).kind, identifier).toBe('none');
    }
  });

  it('finds nothing for an account id that is not a GUID or names no entry', async () => {
    for (const id of ['active_directory:*', 'active_directory:*)(objectClass=*', 'active_directory:00000000-0000-0000-0000-000000000000', 'openldap:3b3b721b-813c-4b7e-852d-29abb9808d22']) {
      expect(await directory.getAccount(asAccountId(id)), id).toBeNull();
    }
  });

  it('reads nested membership: a member of Tier0 Ops, itself in Domain Admins, is privileged', async () => {
    const pg1 = await find('pg1');
    expect(pg1.groups).toEqual(expect.arrayContaining(['CN=Tier0 Ops,CN=Users,DC=sspr,DC=test', 'CN=Domain Admins,CN=Users,DC=sspr,DC=test', 'CN=Administrators,CN=Builtin,DC=sspr,DC=test']));
    expect(pg1.directoryPrivileged).toBe(true);
    // Samba runs no SDProp, so the nesting alone made this one privileged.
    expect((await ad.readAccount('pg1', ['adminCount'])).adminCount).toEqual([]);
  });

  it('treats adminCount=1 as privileged even outside every privileged group', async () => {
    const adm1 = await find('adm1');
    expect(adm1.groups).toEqual([]);
    expect(adm1.directoryPrivileged).toBe(true);
  });

  it('reports a disabled account disabled, and never writes its password or its lock', async () => {
    const dave = await find('dave');
    expect(dave.enabled).toBe(false);
    expect(await directory.verifyPassword(dave.id, SAMBA_PEOPLE.dave.password)).toBe('disabled');
    const before = await ad.readAccount('dave', ['pwdLastSet']);
    expect((await directory.setPassword(dave.id, 'Never-Written-Pw-1')).ok).toBe(false);
    expect(await ad.readAccount('dave', ['pwdLastSet'])).toEqual(before);
    await ad.lockByFailedBinds('dave');
    const locked = await ad.readAccount('dave', ['lockoutTime']);
    expect(locked.lockoutTime).not.toBe('0');
    await directory.unlock(dave.id);
    expect(await ad.readAccount('dave', ['lockoutTime'])).toEqual(locked);
  });
});

describe('passwords and locks on Samba', () => {
  it('checks a password by a bind: valid, invalid', async () => {
    const carol = await find('carol');
    expect(await directory.verifyPassword(carol.id, SAMBA_PEOPLE.carol.password)).toBe('valid');
    expect(await directory.verifyPassword(carol.id, 'Not-Her-Password-1')).toBe('invalid');
  });

  it('writes a new password as unicodePwd: the new one binds, the old one is refused', async () => {
    const bob = await find('bob');
    expect(await directory.setPassword(bob.id, 'Bob-Fresh-Pw-2468')).toEqual({ ok: true });
    expect(await ad.bindWithCli('bob', 'Bob-Fresh-Pw-2468')).toEqual({ ok: true });
    expect(await ad.bindWithCli('bob', SAMBA_PEOPLE.bob.password)).toEqual({ ok: false, data: '52e' });
  });

  it('turns the domain length and complexity rules into readable reasons without the diagnostic', async () => {
    const bob = await find('bob');
    const before = await ad.readAccount('bob', ['pwdLastSet']);
    const short = await directory.setPassword(bob.id, 'Ab1-');
    const simple = await directory.setPassword(bob.id, 'onlysmallletters');
    expect(short).toEqual({ ok: false, reason: expect.stringMatching(/longer password/) });
    expect(simple).toEqual({ ok: false, reason: expect.stringMatching(/three of/) });
    expect(JSON.stringify([short, simple])).not.toMatch(/0000052D|check_password|DC=|0x13/i);
    expect(await ad.readAccount('bob', ['pwdLastSet'])).toEqual(before);
  });

  it('enforcing history, refuses a recent password with a readable reason and then accepts a new one', async () => {
    const carol = await find('carol');
    const refused = await enforcing.setPassword(carol.id, SAMBA_PEOPLE.carol.password);
    expect(refused).toEqual({ ok: false, reason: expect.stringMatching(/recent password/) });
    // The refusal came on the change from the temporary password: the old one is gone already.
    expect(await ad.bindWithCli('carol', SAMBA_PEOPLE.carol.password)).toEqual({ ok: false, data: '52e' });
    expect(await enforcing.setPassword(carol.id, 'Carol-Next-Pw-1357')).toEqual({ ok: true });
    expect(await ad.bindWithCli('carol', 'Carol-Next-Pw-1357')).toEqual({ ok: true });
    expect(await ad.bindWithCli('carol', SAMBA_PEOPLE.carol.password)).toEqual({ ok: false, data: '52e' });
  });

  it('without enforcement, an administrative reset is not checked against history (as AD does it)', async () => {
    const carol = await find('carol');
    expect(await directory.setPassword(carol.id, SAMBA_PEOPLE.carol.password)).toEqual({ ok: true });
    expect(await ad.bindWithCli('carol', SAMBA_PEOPLE.carol.password)).toEqual({ ok: true });
  });

  it('reads a lock made by real failed binds, answers "locked" to a bind, and unlocks with lockoutTime=0', async () => {
    const erin = await find('erin');
    expect(await directory.readLockState(erin.id)).toEqual({ locked: false });
    const before = Date.now();
    await ad.lockByFailedBinds('erin');
    const state = await directory.readLockState(erin.id);
    expect(state.locked).toBe(true);
    if (state.locked) expect(Math.abs(state.since.getTime() - before)).toBeLessThan(60_000);
    expect(await directory.verifyPassword(erin.id, SAMBA_PEOPLE.erin.password)).toBe('locked');
    expect(await ad.bindWithCli('erin', SAMBA_PEOPLE.erin.password)).toEqual({ ok: false, data: '775' });
    await directory.unlock(erin.id);
    expect(await directory.readLockState(erin.id)).toEqual({ locked: false });
    expect(await ad.readAccount('erin', ['lockoutTime', 'badPwdCount'])).toEqual({ lockoutTime: '0', badPwdCount: '0' });
    expect(await ad.bindWithCli('erin', SAMBA_PEOPLE.erin.password)).toEqual({ ok: true });
  });

  it('enforcing history, resets a locked account too (AD refuses a change while locked, so the reset unlocks)', async () => {
    const erin = await find('erin');
    await ad.lockByFailedBinds('erin');
    expect(await enforcing.setPassword(erin.id, 'Erin-Locked-Pw-975')).toEqual({ ok: true });
    expect(await ad.bindWithCli('erin', 'Erin-Locked-Pw-975')).toEqual({ ok: true });
  });

  it('marks the password for change at next sign-in with pwdLastSet=0 when configured', async () => {
    const mustChange = connector({ enforceHistoryOnReset: false, mustChangeAtNextSignIn: true });
    try {
      const alice = await find('alice');
      expect(await mustChange.setPassword(alice.id, 'Alice-Temp-Pw-8080')).toEqual({ ok: true });
      expect(await ad.readAccount('alice', ['pwdLastSet'])).toEqual({ pwdLastSet: '0' });
      // AD refuses the sign-in until the person changes it (data 773), and so does Latchkey.
      expect(await ad.bindWithCli('alice', 'Alice-Temp-Pw-8080')).toEqual({ ok: false, data: '773' });
      expect(await directory.verifyPassword(alice.id, 'Alice-Temp-Pw-8080')).toBe('invalid');
    } finally {
      await mustChange.close();
    }
  });

  it('answers ping', async () => {
    await expect(directory.ping()).resolves.toBeUndefined();
  });
});
