import { Attribute, Change } from 'ldapts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { parseGeneralizedTime } from '../../src/adapters/directory/ldap/openldap-profile.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';
import { slapdDirectoryConfig, startSlapd, type Slapd } from '../support/slapd.ts';
import { breakGlassLifecycle, SECURITY_ADMIN_ENV } from './scenario.ts';

/*
 * Break-glass custody against a real OpenLDAP slapd (ppolicy, memberOf) on loopback, on SQLite and
 * PostgreSQL: passwords are checked with ldapwhoami, and the out-of-band change is the rootdn
 * replacing userPassword, as a directory administrator would.
 */

for (const engine of ENGINES) {
  let slapd: Slapd;
  let h: Harness;
  const uid = (name: string): string => `${name}${engine}`;
  breakGlassLifecycle({
    name: `OpenLDAP (${engine})`,
    async start() {
      slapd = await startSlapd();
      h = await startHarness({ engine, directory: slapdDirectoryConfig(slapd), env: SECURITY_ADMIN_ENV });
      return h;
    },
    async addBreakGlassAccount(name) {
      const username = uid(name);
      const password = `${username} keeps the spare key in a sealed envelope`;
      await slapd.addUser({ uid: username, password, mail: `${username}@corp.test`, department: 'IT', groups: ['break-glass'] });
      const entry = await slapd.readEntry(username, ['entryUUID']);
      return { username, accountId: asAccountId(`openldap:${entry['entryUUID']?.[0] ?? ''}`), password };
    },
    async addOrdinaryAccount(name) {
      const username = uid(name);
      await slapd.addUser({ uid: username, password: `${username} is nobody special at all`, mail: `${username}@corp.test` });
      return { username };
    },
    checkPassword: (username, password) => slapd.checkPassword(username, password),
    async changePasswordOutOfBand(username, _accountId, password) {
      // pwdChangedTime has whole seconds: a change within the second of the seal's own write would
      // carry the same time, so the administrator's change is made once that second has passed.
      const sealedAt = parseGeneralizedTime((await slapd.readEntry(username, ['pwdChangedTime']))['pwdChangedTime']?.[0] ?? '')?.getTime() ?? 0;
      while (Date.now() < sealedAt + 1_000) await new Promise((resolve) => setTimeout(resolve, 50));
      await slapd.asRoot((client) => client.modify(slapd.dnOf(username), new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [password] }) })));
    },
    addToGroupOutOfBand: (username, group) => slapd.addToGroup(username, group),
    async stop() {
      await slapd?.close();
    },
  });
}
