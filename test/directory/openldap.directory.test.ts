import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe } from 'vitest';
import { createLdapDirectory, type LdapDirectoryOptions } from '../../src/adapters/directory/ldap/ldap-directory.ts';
import { openLdapProfile } from '../../src/adapters/directory/ldap/openldap-profile.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { SLAPD_GROUPS_DN, startSlapd, type Slapd } from '../support/slapd.ts';
import { describeDirectoryContract, type DirectoryFixture } from './directory.contract.ts';

let slapd: Slapd;
beforeAll(async () => {
  slapd = await startSlapd();
});
afterAll(async () => {
  await slapd?.close();
});

/** The connector options for the shared slapd; each variant below changes one dialect choice. */
export function slapdOptions(server: Slapd, overrides: Partial<LdapDirectoryOptions> = {}): LdapDirectoryOptions {
  return {
    url: server.url,
    startTls: false,
    ca: [],
    connectTimeoutMs: 2_000,
    operationTimeoutMs: 2_000,
    bindDn: server.bindDn,
    bindPassword: server.bindPassword,
    baseDn: server.baseDn,
    groups: { mode: 'member_of' },
    mustChangeAtNextSignIn: false,
    privilegedGroups: [],
    poolSize: 3,
    pageSize: 2,
    ...overrides,
  };
}

const variants: readonly { label: string; overrides: Partial<LdapDirectoryOptions> }[] = [
  { label: 'memberOf, Password Modify extended operation', overrides: { passwordWrite: 'extended' } },
  { label: 'group search, userPassword modify', overrides: { passwordWrite: 'modify', groups: { mode: 'group_search', baseDn: SLAPD_GROUPS_DN } } },
];

describe.each(variants)('OpenLDAP slapd with ppolicy ($label)', ({ label, overrides }) => {
  describeDirectoryContract(`OpenLDAP (${label})`, async (): Promise<DirectoryFixture> => {
    const directory = createLdapDirectory(slapdOptions(slapd, overrides), openLdapProfile);
    return {
      directory,
      async createPerson(person) {
        await slapd.addUser({
          uid: person.username,
          password: person.password,
          ...(person.email ? { mail: person.email } : {}),
          ...(person.displayName ? { displayName: person.displayName } : {}),
          ...(person.department ? { department: person.department } : {}),
          ...(person.phone ? { phone: person.phone } : {}),
          ...(person.groups ? { groups: person.groups } : {}),
        });
        const entry = await slapd.readEntry(person.username, ['entryUUID']);
        return { username: person.username, email: person.email ?? '', password: person.password, accountId: asAccountId(`openldap:${entry['entryUUID']?.[0] ?? ''}`) };
      },
      lockByFailedSignIns: (person) => slapd.lockByFailedBinds(person.username),
      checkPassword: (person, password) => slapd.checkPassword(person.username, password),
      directoryPolicy: { tooShort: 'abc', refusesRecentPassword: true },
      storesPhone: true,
      freshPassword: () => `${randomBytes(6).toString('hex')} purple otters juggle lanterns`,
      close: () => directory.close(),
    };
  });
});
