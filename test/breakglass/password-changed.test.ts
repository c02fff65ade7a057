import { describe, expect, it } from 'vitest';
import { createActiveDirectoryProfile } from '../../src/adapters/directory/ldap/active-directory-profile.ts';
import { openLdapProfile } from '../../src/adapters/directory/ldap/openldap-profile.ts';
import type { LdapEntry } from '../../src/adapters/directory/ldap/profile.ts';

/*
 * How each LDAP profile reads the password-changed time the break-glass watch compares (the
 * OpenLDAP path runs end to end in openldap.test.ts; Active Directory is read here from entries as
 * a domain controller returns them).
 */

const entry = (attributes: Record<string, string>): LdapEntry => ({
  dn: 'cn=x',
  text: (name) => {
    const value = Object.entries(attributes).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
    return value === undefined ? [] : [value];
  },
  binary: () => [],
});

describe('the password-changed time of an LDAP entry', () => {
  it('OpenLDAP: pwdChangedTime (GeneralizedTime), requested with every account read', () => {
    expect(openLdapProfile.accountAttributes).toContain('pwdChangedTime');
    expect(openLdapProfile.passwordChangedAt?.(entry({ pwdChangedTime: '20261126141530Z' }))?.toISOString()).toBe('2026-11-26T14:15:30.000Z');
    expect(openLdapProfile.passwordChangedAt?.(entry({}))).toBeNull();
  });

  it('Active Directory: pwdLastSet (FILETIME); 0 ("must change at next sign-in") is no time', () => {
    const profile = createActiveDirectoryProfile({ enforceHistoryOnReset: false });
    expect(profile.accountAttributes).toContain('pwdLastSet');
    // 2026-11-26T14:15:30Z in 100-ns intervals since 1601-01-01.
    const ticks = (BigInt(Date.UTC(2026, 10, 26, 14, 15, 30)) * 10_000n + 116_444_736_000_000_000n).toString();
    expect(profile.passwordChangedAt?.(entry({ pwdLastSet: ticks }))?.toISOString()).toBe('2026-11-26T14:15:30.000Z');
    expect(profile.passwordChangedAt?.(entry({ pwdLastSet: '0' }))).toBeNull();
    expect(profile.passwordChangedAt?.(entry({}))).toBeNull();
  });
});
