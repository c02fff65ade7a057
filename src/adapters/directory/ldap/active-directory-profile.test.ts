import { describe, expect, it } from 'vitest';
import { createActiveDirectoryProfile } from './active-directory-profile.ts';
import { directoryConfigSchema } from './config.ts';
import type { LdapEntry } from './profile.ts';

function entry(attributes: Record<string, string | Buffer>): LdapEntry {
  const find = (name: string) => Object.entries(attributes).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  return {
    dn: 'CN=Someone,CN=Users,DC=corp,DC=test',
    text: (name) => {
      const value = find(name);
      return value === undefined ? [] : [value.toString()];
    },
    binary: (name) => {
      const value = find(name);
      return value === undefined ? [] : [Buffer.isBuffer(value) ? value : Buffer.from(value)];
    },
  };
}

const profile = createActiveDirectoryProfile({ enforceHistoryOnReset: false });
const enforcing = createActiveDirectoryProfile({ enforceHistoryOnReset: true });

describe('the Active Directory profile', () => {
  it('keys an account by its objectGUID in canonical form and searches it by escaped bytes', () => {
    const guid = Buffer.from('1b723b3b3c817e4b852d29abb9808d22', 'hex');
    expect(profile.keyOf(entry({ objectGUID: guid }))).toBe('3b3b721b-813c-4b7e-852d-29abb9808d22');
    expect(profile.keyFilterValue('3b3b721b-813c-4b7e-852d-29abb9808d22')).toBe('\\1b\\72\\3b\\3b\\3c\\81\\7e\\4b\\85\\2d\\29\\ab\\b9\\80\\8d\\22');
    expect(profile.keyFilterValue('*)(objectClass=*')).toBeNull();
    expect(profile.keyOf(entry({}))).toBeNull();
  });

  it('writes the password as a quoted UTF-16LE unicodePwd replace', () => {
    const write = profile.passwordWrite('CN=x', 'Näher-am-Ziel-42', 'modify');
    expect(write).toEqual({ kind: 'modify', changes: [{ operation: 'replace', attribute: 'unicodePwd', values: [Buffer.from('"Näher-am-Ziel-42"', 'utf16le')] }] });
  });

  it('enforcing history, resets to a fresh random temporary password (clearing a lockout) and then changes it as a password change', () => {
    const first = enforcing.passwordWrite('CN=x', 'Näher-am-Ziel-42', 'modify');
    const second = enforcing.passwordWrite('CN=x', 'Näher-am-Ziel-42', 'modify');
    if (first.kind !== 'modify_sequence' || second.kind !== 'modify_sequence') throw new Error('expected a sequence');
    const [reset, change] = first.steps;
    const temporary = reset?.[0]?.values[0];
    expect(reset).toEqual([
      { operation: 'replace', attribute: 'unicodePwd', values: [temporary] },
      { operation: 'replace', attribute: 'lockoutTime', values: ['0'] },
    ]);
    expect(change).toEqual([
      { operation: 'delete', attribute: 'unicodePwd', values: [temporary] },
      { operation: 'add', attribute: 'unicodePwd', values: [Buffer.from('"Näher-am-Ziel-42"', 'utf16le')] },
    ]);
    const temporaryText = (temporary as Buffer).toString('utf16le');
    expect(temporaryText).toMatch(/^"Tmp-[A-Za-z0-9_-]{43}-a9Z"$/);
    expect(second.steps[0]?.[0]?.values[0]).not.toEqual(temporary);
  });

  it('marks the password for change at next sign-in with pwdLastSet=0', () => {
    expect(profile.mustChangeChanges()).toEqual([{ operation: 'replace', attribute: 'pwdLastSet', values: ['0'] }]);
  });

  it('turns the domain password rules into reasons a person can act on, and nothing else', () => {
    const reason = (message: string, code = 19) => profile.passwordRefusalReason({ code, message });
    expect(reason('0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)! Code: 0x13')).toMatch(/recent password/);
    expect(reason('0000052D: Constraint violation - check_password_restrictions: the password is too short. It should be equal or longer than 7 characters!')).toMatch(/longer password/);
    expect(reason('0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity criteria!')).toMatch(/three of/);
    expect(reason('0000052D: Constraint violation - check_password_restrictions: the password is too young to change!')).toMatch(/so soon/);
    expect(reason('0000052D: SvcErr: DSID-031A1254, problem 5003 (WILL_NOT_PERFORM), data 0', 53)).toMatch(/password policy refused/);
    expect(reason('00000775: Password change not permitted, account locked out! at ../../source4/dsdb/samdb/ldb_modules/password_hash.c:3929')).toMatch(/locked/);
    // Not about the password: the connector raises these as failures.
    expect(reason('00002098: Insufficient access rights to perform the operation', 50)).toBeNull();
    expect(reason('0000001F: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0', 53)).toBeNull();
    for (const message of ['0000052D: Constraint violation - check_password_restrictions: the password was already used (in history)!', '00000775: Password change not permitted, account locked out! at ../../source4/dsdb/samdb/ldb_modules/password_hash.c:3929']) {
      expect(reason(message)).not.toMatch(/0000|52D|775|password_hash|source4|DSID/i);
    }
  });

  it('reads the lock from the DC-computed UF_LOCKOUT, dated by lockoutTime', () => {
    expect(profile.lockState(entry({ 'msDS-User-Account-Control-Computed': '16', lockoutTime: '134401734243738470' }))).toEqual({ locked: true, since: new Date('2026-11-26T13:30:24.373Z') });
    // lockoutTime stays set after the lockout duration ran out; the computed flag does not.
    expect(profile.lockState(entry({ 'msDS-User-Account-Control-Computed': '0', lockoutTime: '134401734243738470' }))).toEqual({ locked: false });
    expect(profile.lockState(entry({}))).toEqual({ locked: false });
  });

  it('unlocks with lockoutTime=0 when there is a lockout or a failed-password count to clear', () => {
    const unlock = { changes: [{ operation: 'replace', attribute: 'lockoutTime', values: ['0'] }], controlOids: [] };
    expect(profile.unlockChanges(entry({ lockoutTime: '134401734243738470', badPwdCount: '3' }))).toEqual(unlock);
    expect(profile.unlockChanges(entry({ lockoutTime: '0', badPwdCount: '2' }))).toEqual(unlock);
    expect(profile.unlockChanges(entry({ lockoutTime: '0', badPwdCount: '0' }))).toEqual({ changes: [], controlOids: [] });
  });

  it('never unlocks a disabled account', () => {
    expect(profile.unlockChanges(entry({ userAccountControl: '514', lockoutTime: '134401734243738470', badPwdCount: '3' }))).toEqual({ changes: [], controlOids: [] });
  });

  it('reads ACCOUNTDISABLE from userAccountControl', () => {
    expect(profile.isDisabled(entry({ userAccountControl: '514' }))).toBe(true);
    expect(profile.isDisabled(entry({ userAccountControl: '66050' }))).toBe(true);
    expect(profile.isDisabled(entry({ userAccountControl: '512' }))).toBe(false);
    expect(profile.isDisabled(entry({ userAccountControl: '66048' }))).toBe(false);
  });

  it('reads the bind sub-codes: 775 locked, 533 and 701 disabled, the rest invalid', () => {
    const verdict = (data: string) => profile.bindRefusalVerdict({ code: 49, message: `80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data ${data}, v1db1` });
    expect(verdict('775')).toBe('locked');
    expect(verdict('533')).toBe('disabled');
    expect(verdict('701')).toBe('disabled');
    expect(verdict('52e')).toBe('invalid');
    expect(verdict('532')).toBe('invalid');
    expect(verdict('773')).toBe('invalid');
    expect(verdict('999')).toBeNull();
    expect(profile.bindRefusalVerdict({ code: 49, message: 'Invalid credentials' })).toBeNull();
  });

  it('treats adminCount=1 as privileged', () => {
    expect(profile.privilegedByEntry(entry({ adminCount: '1' }))).toBe(true);
    expect(profile.privilegedByEntry(entry({ adminCount: '0' }))).toBe(false);
    expect(profile.privilegedByEntry(entry({}))).toBe(false);
  });

  it('walks nested groups on the server with LDAP_MATCHING_RULE_IN_CHAIN', () => {
    expect(profile.nestedGroupFilter).toBe('(member:1.2.840.113556.1.4.1941:={dn})');
  });
});

describe('Active Directory configuration', () => {
  const base = { kind: 'active_directory', bindDn: 'svc@corp.test', bindPassword: 'secret', baseDn: 'DC=corp,DC=test' } as const;
  const issues = (extra: Record<string, unknown>) => {
    const parsed = directoryConfigSchema.safeParse({ ...base, ...extra });
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('refuses plain ldap:// without StartTLS, even on loopback, naming the key: AD takes unicodePwd only encrypted', () => {
    for (const url of ['ldap://127.0.0.1:389', 'ldap://dc1.corp.test']) {
      expect(issues({ url }).join('\n'), url).toMatch(/^startTls: must be true for Active Directory/m);
    }
  });

  it('accepts LDAPS, and ldap:// with StartTLS', () => {
    expect(issues({ url: 'ldaps://dc1.corp.test' })).toEqual([]);
    expect(issues({ url: 'ldap://dc1.corp.test', startTls: true })).toEqual([]);
  });
});
