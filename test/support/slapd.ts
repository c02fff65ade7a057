import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Attribute, Change, Client, InvalidCredentialsError } from 'ldapts';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { Person } from './harness.ts';

const run = promisify(execFile);

/*
 * A real OpenLDAP slapd with the ppolicy and memberof overlays, provisioned into a temp folder and
 * listening on free loopback ports; tests start one per file and stop it. Nothing outside the temp
 * folder is touched (no debconf database, no /etc/ldap/slapd.d).
 */

export const SLAPD_BASE_DN = 'dc=latchkey,dc=test';
export const SLAPD_ROOT_DN = `cn=admin,${SLAPD_BASE_DN}`;
/** The service account Latchkey binds as: not the rootdn, which bypasses ppolicy altogether. */
export const SLAPD_SERVICE_DN = `cn=latchkey,ou=services,${SLAPD_BASE_DN}`;
export const SLAPD_PEOPLE_DN = `ou=people,${SLAPD_BASE_DN}`;
export const SLAPD_GROUPS_DN = `ou=groups,${SLAPD_BASE_DN}`;
/** The ppolicy's lock-out threshold: this many failed binds lock an entry until an admin unlocks it. */
export const SLAPD_MAX_FAILURES = 3;

export interface SlapdPerson {
  readonly uid: string;
  readonly password: string;
  readonly mail?: string;
  readonly displayName?: string;
  readonly phone?: string;
  readonly department?: string;
  readonly groups?: readonly string[];
}

export interface Slapd {
  /** `ldap://127.0.0.1:PORT` (StartTLS-capable when started with tls). */
  readonly url: string;
  /** `ldaps://127.0.0.1:PORT` when started with tls, else null. */
  readonly ldapsUrl: string | null;
  /** The throwaway CA that signed the server certificate, when started with tls. */
  readonly caFile: string | null;
  readonly baseDn: string;
  readonly bindDn: string;
  readonly bindPassword: string;
  readonly dir: string;
  dnOf(uid: string): string;
  groupDn(group: string): string;
  addUser(person: SlapdPerson): Promise<string>;
  addToGroup(uid: string, group: string): Promise<void>;
  /** Binds with a wrong password until ppolicy locks the entry. */
  lockByFailedBinds(uid: string): Promise<void>;
  /** Checks a password with `ldapwhoami`, a client independent of the code under test. */
  checkPassword(uid: string, password: string): Promise<boolean>;
  /** Reads an entry's attributes (operational ones by name) as the rootdn. */
  readEntry(uid: string, attributes: string[]): Promise<Record<string, string[]>>;
  /** Runs a function with a client bound as the rootdn. */
  asRoot<T>(action: (client: Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
  /** Starts a stopped slapd again on the same ports with the same data. */
  start(): Promise<void>;
  /** Stops and starts slapd again on the same ports with the same data. */
  restart(): Promise<void>;
  /** Stops slapd and removes its folder. */
  close(): Promise<void>;
}

const ROOT_PASSWORD = 'root-secret-for-tests';
const SERVICE_PASSWORD = 'service-secret-for-tests';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function slapdConf(dir: string, tls: boolean): string {
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
${tls ? `TLSCACertificateFile ${dir}/ca.crt\nTLSCertificateFile ${dir}/server.crt\nTLSCertificateKeyFile ${dir}/server.key\n` : ''}
database mdb
maxsize 67108864
suffix "${SLAPD_BASE_DN}"
rootdn "${SLAPD_ROOT_DN}"
rootpw ${ROOT_PASSWORD}
directory ${dir}/data
index objectClass eq
index uid eq
index mail eq
index entryUUID eq
index member eq

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

overlay ppolicy
ppolicy_default "cn=default,ou=policies,${SLAPD_BASE_DN}"
ppolicy_hash_cleartext
ppolicy_use_lockout

access to attrs=userPassword
  by dn.exact="${SLAPD_SERVICE_DN}" write
  by self write
  by anonymous auth
  by * none
access to attrs=pwdAccountLockedTime,pwdFailureTime,pwdReset
  by dn.exact="${SLAPD_SERVICE_DN}" manage
  by * read
access to *
  by dn.exact="${SLAPD_SERVICE_DN}" write
  by self read
  by users read
  by anonymous auth
`;
}

const baseLdif = `dn: ${SLAPD_BASE_DN}
objectClass: dcObject
objectClass: organization
o: Latchkey Test
dc: latchkey

dn: ${SLAPD_PEOPLE_DN}
objectClass: organizationalUnit
ou: people

dn: ${SLAPD_GROUPS_DN}
objectClass: organizationalUnit
ou: groups

dn: ou=services,${SLAPD_BASE_DN}
objectClass: organizationalUnit
ou: services

dn: ou=policies,${SLAPD_BASE_DN}
objectClass: organizationalUnit
ou: policies

dn: ${SLAPD_SERVICE_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: latchkey
userPassword: ${SERVICE_PASSWORD}

dn: cn=default,ou=policies,${SLAPD_BASE_DN}
objectClass: organizationalRole
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxFailure: ${SLAPD_MAX_FAILURES}
pwdLockout: TRUE
pwdLockoutDuration: 0
pwdFailureCountInterval: 0
pwdMinLength: 8
pwdCheckQuality: 2
pwdInHistory: 3
pwdAllowUserChange: TRUE
pwdSafeModify: FALSE
`;

async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=Latchkey Test CA']);
  await run('openssl', ['req', ...ec, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'server.crt'), '-days', '2', '-extfile', join(dir, 'server.ext')]);
}

/** Provisions and starts slapd; `tls` adds a throwaway CA, StartTLS on the ldap port and an ldaps port. */
export async function startSlapd(options: { tls?: boolean } = {}): Promise<Slapd> {
  const tls = options.tls ?? false;
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-slapd-'));
  await run('mkdir', ['-p', join(dir, 'data')]);
  if (tls) await makeCertificates(dir);
  const conf = join(dir, 'slapd.conf');
  await writeFile(conf, slapdConf(dir, tls));
  await writeFile(join(dir, 'base.ldif'), baseLdif);
  await run('slapadd', ['-f', conf, '-l', join(dir, 'base.ldif')]);
  const port = await freePort();
  const ldapsPort = tls ? await freePort() : null;
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = ldapsPort ? `ldaps://127.0.0.1:${ldapsPort}` : null;
  const listen = [url, ...(ldapsUrl ? [ldapsUrl] : [])].map((item) => `${item}/`).join(' ');

  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    // -d 0 keeps slapd in the foreground, so the child is slapd itself and stops with one signal.
    const started = spawn('slapd', ['-d', '0', '-h', listen, '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child = started;
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (started.exitCode !== null) throw new Error(`slapd exited: ${stderr}`);
      if (await portAnswers(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`slapd did not answer on ${url}: ${stderr}`);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await exited;
  };
  await start();

  const dnOf = (uid: string): string => `uid=${uid},${SLAPD_PEOPLE_DN}`;
  const groupDn = (group: string): string => `cn=${group},${SLAPD_GROUPS_DN}`;
  const asRoot = async <T>(action: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url, timeout: 5_000, connectTimeout: 5_000 });
    try {
      await client.bind(SLAPD_ROOT_DN, ROOT_PASSWORD);
      return await action(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  };
  const addToGroup = async (uid: string, group: string): Promise<void> => {
    await asRoot(async (client) => {
      const { searchEntries } = await client.search(SLAPD_GROUPS_DN, { scope: 'one', filter: `(cn=${group})`, attributes: ['cn'] });
      if (searchEntries.length === 0) {
        await client.add(groupDn(group), { objectClass: ['groupOfNames'], cn: group, member: dnOf(uid) });
      } else {
        await client.modify(groupDn(group), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dnOf(uid)] }) }));
      }
    });
  };

  return {
    url,
    ldapsUrl,
    caFile: tls ? join(dir, 'ca.crt') : null,
    baseDn: SLAPD_BASE_DN,
    bindDn: SLAPD_SERVICE_DN,
    bindPassword: SERVICE_PASSWORD,
    dir,
    dnOf,
    groupDn,
    async addUser(person) {
      const dn = dnOf(person.uid);
      await asRoot((client) =>
        client.add(dn, {
          objectClass: ['inetOrgPerson'],
          uid: person.uid,
          cn: person.displayName ?? person.uid,
          sn: person.uid,
          userPassword: person.password,
          ...(person.displayName ? { displayName: person.displayName } : {}),
          ...(person.mail ? { mail: person.mail } : {}),
          ...(person.phone ? { telephoneNumber: person.phone } : {}),
          ...(person.department ? { departmentNumber: person.department } : {}),
        }),
      );
      for (const group of person.groups ?? []) await addToGroup(person.uid, group);
      return dn;
    },
    addToGroup,
    async lockByFailedBinds(uid) {
      for (let attempt = 0; attempt < SLAPD_MAX_FAILURES; attempt += 1) {
        const client = new Client({ url, timeout: 5_000, connectTimeout: 5_000 });
        try {
          await client.bind(dnOf(uid), `not the password ${attempt}`);
          throw new Error('a wrong password was accepted');
        } catch (error) {
          if (!(error instanceof InvalidCredentialsError)) throw error;
        } finally {
          await client.unbind().catch(() => undefined);
        }
      }
    },
    async checkPassword(uid, password) {
      try {
        await run('ldapwhoami', ['-x', '-H', url, '-D', dnOf(uid), '-w', password]);
        return true;
      } catch (error) {
        // ldapwhoami exits with the LDAP result code: 49 is invalidCredentials (also when locked).
        if ((error as { code?: number }).code === 49) return false;
        throw error;
      }
    },
    async readEntry(uid, attributes) {
      return asRoot(async (client) => {
        const { searchEntries } = await client.search(dnOf(uid), { scope: 'base', attributes });
        const entry = searchEntries[0];
        const out: Record<string, string[]> = {};
        for (const [key, value] of Object.entries(entry ?? {})) {
          const values = (Array.isArray(value) ? value : [value]).map(String);
          // ldapts lists every requested attribute; absent ones come back empty.
          if (key !== 'dn' && values.length > 0) out[key] = values;
        }
        return out;
      });
    },
    asRoot,
    stop,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Adds a person to slapd (mail `USERNAME@corp.test`, a fixed password pattern, department Finance
 * unless given) and returns it as the harness helpers expect one, with the account id Latchkey gives it.
 */
export async function seedSlapdPerson(server: Slapd, username: string, extra: Omit<SlapdPerson, 'uid' | 'password' | 'mail'> = {}): Promise<Person> {
  const password = `${username} crosses the quiet river at dawn`;
  const email = `${username}@corp.test`;
  await server.addUser({ department: 'Finance', ...extra, uid: username, password, mail: email });
  const entry = await server.readEntry(username, ['entryUUID']);
  return { username, password, email, accountId: asAccountId(`openldap:${entry['entryUUID']?.[0] ?? ''}`) };
}

/**
 * The `directory` section of latchkey.yaml for a slapd (harness option `directory`): plain
 * ldap:// on loopback, short timeouts so outage tests finish quickly.
 */
export function slapdDirectoryConfig(server: Slapd, overrides: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    kind: 'ldap',
    url: server.url,
    bindDn: server.bindDn,
    bindPassword: server.bindPassword,
    baseDn: server.baseDn,
    connectTimeoutMs: 1_000,
    operationTimeoutMs: 2_000,
    poolSize: 2,
    ...overrides,
  };
}
