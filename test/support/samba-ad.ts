import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, cp, lstat, mkdir, mkdtemp, open, readFile, rename, rm, writeFile, unlink, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Attribute, Change, Client, EqualityFilter, InvalidCredentialsError } from 'ldapts';

const execFileAsync = promisify(execFile);

/**
 * A real Samba Active Directory domain controller for the tests, on 127.0.0.1.
 *
 * Samba's AD DC listens on the standard ports (389, 636, 88, …) and cannot be told to use others
 * for LDAP, so only ONE can run on this machine at a time: `startSambaAd` takes an exclusive lock
 * file (`.tmp/samba.lock`) and waits for it, so two Vitest workers never start two. Keep every
 * Samba-dependent test in as few files as possible: each file starts the DC once.
 *
 * Provisioning and seeding take seconds, so they run once into a cached template under the
 * repository's `.tmp/` (keyed by TEMPLATE_VERSION: bump it when the seed changes); each start copies
 * the template into a fresh temp directory and runs `samba -i -M single` in the foreground as a
 * child. In interactive mode Samba exits when its stdin closes, so a test process that dies
 * without calling stop() does not leave it running.
 */

const TEMPLATE_VERSION = 'v4';
export const SAMBA_REALM = 'SSPR.TEST';
export const SAMBA_DOMAIN_DN = 'DC=sspr,DC=test';
export const SAMBA_USERS_DN = `CN=Users,${SAMBA_DOMAIN_DN}`;
export const SAMBA_ADMIN_UPN = `Administrator@${SAMBA_REALM.toLowerCase()}`;
/** Test-only credential of the throwaway domain. */
export const SAMBA_ADMIN_PASSWORD = 'Adm1n-Passw0rd!';
/** Latchkey's own delegated service account (see delegateToServiceAccount). */
export const SAMBA_SERVICE_ACCOUNT = 'svc-latchkey';
export const SAMBA_SERVICE_UPN = `${SAMBA_SERVICE_ACCOUNT}@${SAMBA_REALM.toLowerCase()}`;
export const SAMBA_SERVICE_PASSWORD = 'Svc-Latchkey-Pw-31';
export const SAMBA_LDAPS_URL = 'ldaps://127.0.0.1:636';
/** How long an account stays locked after the threshold is reached (the seeded domain setting). */
export const SAMBA_LOCKOUT_MINUTES = 30;

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE_DIR = join(REPO_ROOT, '.tmp');
const TEMPLATE_DIR = join(CACHE_DIR, `samba-ad-${TEMPLATE_VERSION}`);
const LOCK_FILE = join(CACHE_DIR, 'samba.lock');
const LOCK_WAIT_MS = 180_000;

/** A seeded person: every one has mail, a phone number and a department. */
export interface SambaPerson {
  readonly username: string;
  readonly dn: string;
  readonly password: string;
  readonly email: string;
  readonly phone: string;
  readonly department: string;
  readonly displayName: string;
}

interface SeedPerson extends Omit<SambaPerson, 'dn' | 'email' | 'displayName'> {
  readonly givenName: string;
  readonly sn: string;
  readonly disabled?: boolean;
  readonly adminCount?: boolean;
  readonly groups?: readonly string[];
}

/** Passwords satisfy the domain's complexity rule (three character classes, no account name). */
const SEED: readonly SeedPerson[] = [
  { username: 'alice', givenName: 'Alice', sn: 'Liddell', password: 'Seeded-Pw-4711-a', phone: '+49 30 1234 5601', department: 'Sales', groups: ['Sales'] },
  { username: 'bob', givenName: 'Bob', sn: 'Builder', password: 'Seeded-Pw-4711-b', phone: '+49 30 1234 5602', department: 'Engineering' },
  { username: 'carol', givenName: 'Carol', sn: 'Singer', password: 'Seeded-Pw-4711-c', phone: '+49 30 1234 5603', department: 'Finance' },
  { username: 'erin', givenName: 'Erin', sn: 'Locke', password: 'Seeded-Pw-4711-e', phone: '+49 30 1234 5605', department: 'Support' },
  { username: 'dave', givenName: 'Dave', sn: 'Gone', password: 'Seeded-Pw-4711-d', phone: '+49 30 1234 5604', department: 'Sales', disabled: true },
  { username: 'pg1', givenName: 'Petra', sn: 'Tier', password: 'Seeded-Pw-4711-p', phone: '+49 30 1234 5606', department: 'Operations', groups: ['Tier0 Ops'] },
  { username: 'adm1', givenName: 'Ada', sn: 'Protected', password: 'Seeded-Pw-4711-x', phone: '+49 30 1234 5607', department: 'Operations', adminCount: true },
];

/** Groups created by the seed, each with the groups it is itself a member of. */
const SEED_GROUPS: readonly { readonly name: string; readonly memberOf: readonly string[] }[] = [
  { name: 'Sales', memberOf: [] },
  // The nested chain: pg1 ∈ Tier0 Ops ∈ Domain Admins.
  { name: 'Tier0 Ops', memberOf: ['Domain Admins'] },
];

function personOf(seed: SeedPerson): SambaPerson {
  const displayName = `${seed.givenName} ${seed.sn}`;
  return {
    username: seed.username,
    dn: `CN=${displayName},${SAMBA_USERS_DN}`,
    password: seed.password,
    email: `${seed.username}@sspr.test`,
    phone: seed.phone,
    department: seed.department,
    displayName,
  };
}

export const SAMBA_PEOPLE = Object.fromEntries(SEED.map((seed) => [seed.username, personOf(seed)])) as Record<
  'alice' | 'bob' | 'carol' | 'erin' | 'dave' | 'pg1' | 'adm1',
  SambaPerson
>;

export const groupDn = (name: string): string => `CN=${name},${SAMBA_USERS_DN}`;

export interface NewSambaPerson {
  /** At most 20 characters: AD's limit for sAMAccountName. */
  readonly username: string;
  readonly password: string;
  readonly email?: string;
  readonly displayName?: string;
  readonly department?: string;
  /** Written to telephoneNumber as given. */
  readonly phone?: string;
  readonly groups?: readonly string[];
}

/** What an independent sign-in check saw. `data` is AD's sub-code (52e wrong, 775 locked, 533 disabled). */
export type BindOutcome = { readonly ok: true } | { readonly ok: false; readonly data: string };

export interface SambaAd {
  readonly dir: string;
  /** PEM of the CA that signed the DC's certificate (its subject names 127.0.0.1 and localhost). */
  readonly caCert: string;
  readonly caCertFile: string;
  /** A fresh ldapts client over LDAPS, bound as Administrator; the caller unbinds it. */
  adminClient(): Promise<Client>;
  /**
   * Checks a password with `ldapsearch` from ldap-utils (an independent client: a simple bind on
   * its own connection). Samba answers no WhoAmI extended operation, so `ldapwhoami` cannot be used.
   */
  bindWithCli(username: string, password: string): Promise<BindOutcome>;
  /** Wrong-password binds until the domain locks the account (threshold 3). */
  lockByFailedBinds(username: string): Promise<void>;
  /**
   * Creates an enabled account as Administrator (CN = username, in CN=Users), creating missing
   * groups (by common name), and returns its objectGUID bytes.
   */
  addPerson(person: NewSambaPerson): Promise<Buffer>;
  /** Reads attributes of an account by sAMAccountName, as Administrator. */
  readAccount(username: string, attributes: readonly string[]): Promise<Record<string, string | string[] | Buffer>>;
  /** Stops the DC but keeps its data, to show an outage; startServer() brings the same DC back. */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Stops the DC, removes its folder and releases the lock. */
  stop(): Promise<void>;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The exclusive lock: the file holds the owner's pid, so a lock left by a dead process is taken over.
 * Two waiters taking over the same stale lock at once could both win; the second DC then fails to
 * bind the ports and says so, which is the worst case (and needs a crashed run first).
 */
async function acquireLock(): Promise<() => Promise<void>> {
  await mkdir(CACHE_DIR, { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await open(LOCK_FILE, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await unlink(LOCK_FILE).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(LOCK_FILE, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
      await unlink(LOCK_FILE).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another test process (pid ${owner}) has held ${LOCK_FILE} for over ${LOCK_WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Runs a tool and returns its stdout. A failure names the tool, exit code and stderr, with every
 * `secrets` value masked: passwords on command lines must not reach test logs.
 */
async function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; secrets?: readonly string[] } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, [...args], { env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
    const mask = (text: string): string => (options.secrets ?? []).reduce((masked, secret) => masked.replaceAll(secret, '***'), text);
    throw new Error(mask(`${command} ${args.slice(0, 2).join(' ')} failed (exit ${String(failure.code)}):\n${failure.stdout ?? ''}\n${failure.stderr ?? ''}`));
  }
}

/**
 * A small CA and a server certificate naming 127.0.0.1 and localhost, so clients verify the DC's
 * certificate properly instead of switching verification off (Samba's own self-signed one names only
 * the host's DNS name, and generating its 4096-bit key costs ~10 s).
 */
async function writeCertificates(tlsDir: string): Promise<void> {
  await mkdir(tlsDir, { recursive: true, mode: 0o700 });
  const ca = join(tlsDir, 'ca');
  const server = join(tlsDir, 'server');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', '/CN=Latchkey test CA', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=dc1.sspr.test', '-keyout', `${server}.key`, '-out', `${server}.csr`]);
  await writeFile(`${server}.ext`, 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:dc1.sspr.test\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n');
  await run('openssl', ['x509', '-req', '-in', `${server}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '3650', '-extfile', `${server}.ext`, '-out', `${server}.pem`]);
  await rm(`${ca}.key`);
  // Samba refuses a private key that others can read.
  await chmod(`${server}.key`, 0o600);
}

/** The [global] settings a test DC needs; every path lives in the DC's own directory. */
function testGlobals(dir: string): string {
  return [
    `\tlog file = ${dir}/log.%m`,
    `\tpid directory = ${dir}/run`,
    `\tncalrpc dir = ${dir}/run/ncalrpc`,
    `\twinbindd socket directory = ${dir}/run/winbindd`,
    // LDAP is all the tests talk; Kerberos, RPC, SMB and the rest only slow the start.
    '\tserver services = ldap',
    // Otherwise the OLD password keeps binding for 60 minutes after a reset.
    '\told password allowed period = 0',
    '\ttls enabled = yes',
    `\ttls keyfile = ${dir}/private/tls-test/server.key`,
    `\ttls certfile = ${dir}/private/tls-test/server.pem`,
    `\ttls cafile = ${dir}/private/tls-test/ca.pem`,
  ].join('\n');
}

async function provision(dir: string): Promise<void> {
  await run('samba-tool', [
    'domain', 'provision',
    `--realm=${SAMBA_REALM}`, '--domain=SSPR', '--server-role=dc', '--dns-backend=NONE',
    `--adminpass=${SAMBA_ADMIN_PASSWORD}`, `--targetdir=${dir}`, '--host-name=dc1', '--host-ip=127.0.0.1',
    '--option=interfaces=lo', '--option=bind interfaces only=yes',
  ], { secrets: [SAMBA_ADMIN_PASSWORD] });
  const confFile = join(dir, 'etc', 'smb.conf');
  const conf = (await readFile(confFile, 'utf8'))
    .split('\n')
    .filter((line) => !/^\s*(log file|server services)\s*=/.test(line))
    .join('\n')
    .replace('[global]\n', `[global]\n${testGlobals(dir)}\n`);
  await writeFile(confFile, conf);
  await writeCertificates(join(dir, 'private', 'tls-test'));
}

const utf16Password = (password: string): Buffer => Buffer.from(`"${password}"`, 'utf16le');

/** Domain password settings, groups and people, written over LDAPS as Administrator. */
async function seed(client: Client): Promise<void> {
  // 100-nanosecond intervals, negative as AD stores durations.
  const minutes = (n: number): string => String(-n * 60 * 10_000_000);
  await client.modify(SAMBA_DOMAIN_DN, [
    new Change({ operation: 'replace', modification: new Attribute({ type: 'lockoutThreshold', values: ['3'] }) }),
    new Change({ operation: 'replace', modification: new Attribute({ type: 'lockoutDuration', values: [minutes(SAMBA_LOCKOUT_MINUTES)] }) }),
    new Change({ operation: 'replace', modification: new Attribute({ type: 'lockOutObservationWindow', values: [minutes(SAMBA_LOCKOUT_MINUTES)] }) }),
    // Each history-enforcing reset takes two entries (temporary and chosen password): 6 remembers the person's last 3.
    new Change({ operation: 'replace', modification: new Attribute({ type: 'pwdHistoryLength', values: ['6'] }) }),
    new Change({ operation: 'replace', modification: new Attribute({ type: 'minPwdAge', values: ['0'] }) }),
    // DOMAIN_PASSWORD_COMPLEX
    new Change({ operation: 'replace', modification: new Attribute({ type: 'pwdProperties', values: ['1'] }) }),
  ]);
  for (const group of SEED_GROUPS) {
    await client.add(groupDn(group.name), { objectClass: ['top', 'group'], sAMAccountName: group.name, description: `Latchkey test group ${group.name}` });
    for (const parent of group.memberOf) {
      await client.modify(groupDn(parent), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [groupDn(group.name)] }) }));
    }
  }
  for (const entry of SEED) {
    const person = personOf(entry);
    await client.add(person.dn, {
      objectClass: ['top', 'person', 'organizationalPerson', 'user'],
      sAMAccountName: entry.username,
      userPrincipalName: person.email,
      givenName: entry.givenName,
      sn: entry.sn,
      displayName: person.displayName,
      mail: person.email,
      telephoneNumber: entry.phone,
      department: entry.department,
    });
    await client.modify(person.dn, [
      new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [utf16Password(entry.password)] }) }),
      // NORMAL_ACCOUNT, plus ACCOUNTDISABLE for the disabled one.
      new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: [String(entry.disabled ? 0x202 : 0x200)] }) }),
    ]);
    if (entry.adminCount) {
      await client.modify(person.dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'adminCount', values: ['1'] }) }));
    }
    for (const group of entry.groups ?? []) {
      await client.modify(groupDn(group), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [person.dn] }) }));
    }
  }
}

/** The `user` schema class: the inherited ACEs below apply to user objects only. */
const USER_CLASS_GUID = 'bf967aba-0de6-11d0-a285-00aa003049e2';
const RESET_PASSWORD_RIGHT = '00299570-246d-11d0-a768-00aa006e0529';
const LOCKOUT_TIME_ATTRIBUTE = '28630ebf-41d5-11d1-a9c1-0000f80367c1';
const PWD_LAST_SET_ATTRIBUTE = 'bf967a0a-0de6-11d0-a285-00aa003049e2';

/**
 * Creates Latchkey's service account and grants it what a helpdesk delegation grants (Reset
 * Password, write lockoutTime and pwdLastSet on user objects) and nothing more, offline on the
 * stopped template. It is no administrator: the tests prove the connector needs no more.
 */
async function delegateToServiceAccount(dir: string): Promise<void> {
  const sam = `tdb://${join(dir, 'private', 'sam.ldb')}`;
  const conf = join(dir, 'etc', 'smb.conf');
  await run('samba-tool', ['user', 'create', SAMBA_SERVICE_ACCOUNT, SAMBA_SERVICE_PASSWORD, '-H', sam, '-s', conf], { secrets: [SAMBA_SERVICE_PASSWORD] });
  const shown = await run('samba-tool', ['user', 'show', SAMBA_SERVICE_ACCOUNT, '-H', sam, '-s', conf]);
  const sid = /^objectSid: (S-1-5-21-[\d-]+)$/m.exec(shown)?.[1];
  if (!sid) throw new Error(`no objectSid for ${SAMBA_SERVICE_ACCOUNT}:\n${shown}`);
  const aces = [`CR;${RESET_PASSWORD_RIGHT}`, `WP;${LOCKOUT_TIME_ATTRIBUTE}`, `WP;${PWD_LAST_SET_ATTRIBUTE}`].map((right) => `(OA;CIIO;${right};${USER_CLASS_GUID};${sid})`);
  await run('samba-tool', ['dsacl', 'set', '-H', sam, '-s', conf, `--objectdn=${SAMBA_DOMAIN_DN}`, `--sddl=${aces.join('')}`]);
}

interface RunningSamba {
  readonly child: ChildProcess;
  readonly output: () => string;
}

async function connectAdmin(caCert: string): Promise<Client> {
  const client = new Client({ url: SAMBA_LDAPS_URL, tlsOptions: { ca: [caCert] }, timeout: 10_000, connectTimeout: 2_000 });
  await client.bind(SAMBA_ADMIN_UPN, SAMBA_ADMIN_PASSWORD);
  return client;
}

async function startSamba(dir: string, caCert: string): Promise<RunningSamba> {
  await mkdir(join(dir, 'run'), { recursive: true });
  // stdin stays a pipe: in interactive mode Samba exits when it closes (our process died).
  const child = spawn('samba', ['-s', join(dir, 'etc', 'smb.conf'), '-i', '-M', 'single', '--debug-stdout'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`samba exited during start (ports 389/636 busy? another DC running?):\n${output}`);
    try {
      const client = await connectAdmin(caCert);
      await client.unbind();
      return { child, output: () => output };
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(`samba did not answer LDAPS within 30 s: ${String(error)}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function stopSamba(samba: RunningSamba): Promise<void> {
  const { child } = samba;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Provisions and seeds the template once; later calls find it cached. Runs under the lock. */
async function ensureTemplate(): Promise<void> {
  if (await exists(join(TEMPLATE_DIR, 'READY'))) return;
  const building = join(CACHE_DIR, `samba-ad-${TEMPLATE_VERSION}.build`);
  await rm(building, { recursive: true, force: true });
  await rm(TEMPLATE_DIR, { recursive: true, force: true });
  await provision(building);
  const caCert = await readFile(join(building, 'private', 'tls-test', 'ca.pem'), 'utf8');
  const samba = await startSamba(building, caCert);
  try {
    const client = await connectAdmin(caCert);
    try {
      await seed(client);
    } finally {
      await client.unbind();
    }
  } finally {
    await stopSamba(samba);
  }
  await delegateToServiceAccount(building);
  await rm(join(building, 'run'), { recursive: true, force: true });
  await writeFile(join(building, 'TEMPLATE_DIR'), building);
  await writeFile(join(building, 'READY'), new Date().toISOString());
  await rename(building, TEMPLATE_DIR);
}

const ldapErrorData = (error: unknown): string => /data ([0-9a-f]+)/i.exec(String((error as Error).message ?? error))?.[1]?.toLowerCase() ?? 'unknown';

/**
 * The `directory` section of latchkey.yaml for the DC (harness option `directory`): LDAPS with the
 * test CA, bound as the delegated service account; groups.mode stays unset, so its default (nested
 * for Active Directory) is what the tests exercise.
 */
export function sambaDirectoryConfig(ad: SambaAd, overrides: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return {
    kind: 'active_directory',
    url: SAMBA_LDAPS_URL,
    caFile: ad.caCertFile,
    bindDn: SAMBA_SERVICE_UPN,
    bindPassword: SAMBA_SERVICE_PASSWORD,
    baseDn: SAMBA_DOMAIN_DN,
    connectTimeoutMs: 2_000,
    operationTimeoutMs: 5_000,
    poolSize: 2,
    ...overrides,
  };
}

/** Starts a DC from the cached template in a fresh temp directory (waiting for any other to stop). */
export async function startSambaAd(): Promise<SambaAd> {
  const release = await acquireLock();
  let samba: RunningSamba | null = null;
  let dir: string | null = null;
  try {
    await ensureTemplate();
    dir = await mkdtemp(join(tmpdir(), 'latchkey-samba-'));
    // The template keeps the sockets its DC listened on (ldapi); a new DC makes its own.
    await cp(TEMPLATE_DIR, dir, { recursive: true, preserveTimestamps: true, filter: async (source) => !(await lstat(source)).isSocket() });
    const templatePath = (await readFile(join(dir, 'TEMPLATE_DIR'), 'utf8')).trim();
    const confFile = join(dir, 'etc', 'smb.conf');
    await writeFile(confFile, (await readFile(confFile, 'utf8')).replaceAll(templatePath, dir));
    const caCertFile = join(dir, 'private', 'tls-test', 'ca.pem');
    const caCert = await readFile(caCertFile, 'utf8');
    samba = await startSamba(dir, caCert);
    let running = samba;
    const home = dir;

    const fixture: SambaAd = {
      dir: home,
      caCert,
      caCertFile,
      adminClient: () => connectAdmin(caCert),
      async bindWithCli(username, password) {
        try {
          await run('ldapsearch', ['-x', '-H', SAMBA_LDAPS_URL, '-D', `${username}@${SAMBA_REALM.toLowerCase()}`, '-w', password, '-b', '', '-s', 'base', '-LLL', 'dn'], {
            env: { ...process.env, LDAPTLS_CACERT: caCertFile },
            secrets: [password],
          });
          return { ok: true };
        } catch (error) {
          if (!/Invalid credentials \(49\)/.test(String(error))) throw error;
          return { ok: false, data: ldapErrorData(error) };
        }
      },
      async lockByFailedBinds(username) {
        for (let attempt = 0; attempt < 3; attempt++) {
          const client = new Client({ url: SAMBA_LDAPS_URL, tlsOptions: { ca: [caCert] }, timeout: 10_000 });
          try {
            await client.bind(`${username}@${SAMBA_REALM.toLowerCase()}`, 'Definitely-Wrong-9');
            throw new Error(`a wrong password bound as ${username}`);
          } catch (error) {
            if (!(error instanceof InvalidCredentialsError)) throw error;
          } finally {
            await client.unbind().catch(() => undefined);
          }
        }
      },
      async addPerson(person) {
        const client = await connectAdmin(caCert);
        try {
          const dn = `CN=${person.username},${SAMBA_USERS_DN}`;
          await client.add(dn, {
            objectClass: ['top', 'person', 'organizationalPerson', 'user'],
            sAMAccountName: person.username,
            userPrincipalName: `${person.username}@${SAMBA_REALM.toLowerCase()}`,
            ...(person.email ? { mail: person.email } : {}),
            ...(person.displayName ? { displayName: person.displayName } : {}),
            ...(person.department ? { department: person.department } : {}),
            ...(person.phone ? { telephoneNumber: person.phone } : {}),
          });
          await client.modify(dn, [
            new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [utf16Password(person.password)] }) }),
            new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) }),
          ]);
          for (const group of person.groups ?? []) {
            const { searchEntries } = await client.search(SAMBA_USERS_DN, { scope: 'one', filter: new EqualityFilter({ attribute: 'cn', value: group }), attributes: ['1.1'] });
            if (searchEntries.length === 0) await client.add(groupDn(group), { objectClass: ['top', 'group'], sAMAccountName: group });
            await client.modify(groupDn(group), new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [dn] }) }));
          }
          const { searchEntries } = await client.search(dn, { scope: 'base', attributes: ['objectGUID'], explicitBufferAttributes: ['objectGUID'] });
          const guid = searchEntries[0]?.['objectGUID'];
          if (!Buffer.isBuffer(guid)) throw new Error(`no objectGUID for ${dn}`);
          return guid;
        } finally {
          await client.unbind();
        }
      },
      async readAccount(username, attributes) {
        const client = await connectAdmin(caCert);
        try {
          const { searchEntries } = await client.search(SAMBA_DOMAIN_DN, { scope: 'sub', filter: new EqualityFilter({ attribute: 'sAMAccountName', value: username }), attributes: [...attributes], explicitBufferAttributes: ['objectGUID'] });
          const entry = searchEntries[0];
          if (!entry) throw new Error(`no account ${username}`);
          return Object.fromEntries(attributes.map((name) => [name, entry[name] as string | string[] | Buffer]));
        } finally {
          await client.unbind();
        }
      },
      async stopServer() {
        await stopSamba(running);
      },
      async startServer() {
        running = await startSamba(home, caCert);
      },
      async stop() {
        await stopSamba(running);
        await rm(home, { recursive: true, force: true });
        await release();
      },
    };
    return fixture;
  } catch (error) {
    if (samba) await stopSamba(samba);
    if (dir) await rm(dir, { recursive: true, force: true });
    await release();
    throw error;
  }
}
