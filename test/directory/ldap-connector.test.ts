import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { Attribute, Change } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryConfigSchema } from '../../src/adapters/directory/ldap/config.ts';
import { createDirectoryFromConfig } from '../../src/adapters/directory/ldap/create-directory.ts';
import { createLdapDirectory, type LdapDirectoryOptions } from '../../src/adapters/directory/ldap/ldap-directory.ts';
import { openLdapProfile, parseGeneralizedTime } from '../../src/adapters/directory/ldap/openldap-profile.ts';
import { withUnavailabilityAudit } from '../../src/adapters/directory/ldap/unavailability-audit.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { AuditEventInput } from '../../src/core/audit/events.ts';
import { isDomainError } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import { freePort, startSlapd, type Slapd } from '../support/slapd.ts';

let slapd: Slapd;
let ca: Buffer;
beforeAll(async () => {
  slapd = await startSlapd({ tls: true });
  ca = await readFile(slapd.caFile ?? '');
});
afterAll(async () => {
  await slapd?.close();
});

const options = (overrides: Partial<LdapDirectoryOptions> = {}): LdapDirectoryOptions => ({
  url: slapd.url,
  startTls: false,
  ca: [],
  connectTimeoutMs: 1_000,
  operationTimeoutMs: 1_000,
  bindDn: slapd.bindDn,
  bindPassword: slapd.bindPassword,
  baseDn: slapd.baseDn,
  groups: { mode: 'member_of' },
  mustChangeAtNextSignIn: false,
  privilegedGroups: [],
  poolSize: 2,
  ...overrides,
});

const expectUnavailable = async (promise: Promise<unknown>): Promise<void> => {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(isDomainError(error) && error.code === 'directory.unavailable', String(error)).toBe(true);
};

const seeded = async (uid: string, password = `${uid} keeps a lantern by the door`): Promise<{ id: ReturnType<typeof asAccountId>; password: string }> => {
  await slapd.addUser({ uid, password, mail: `${uid}@corp.test` });
  const entry = await slapd.readEntry(uid, ['entryUUID']);
  return { id: asAccountId(`openldap:${entry['entryUUID']?.[0] ?? ''}`), password };
};

describe('TLS to the directory', () => {
  it('verifies the server certificate with the configured CA over StartTLS, and checks passwords over it', async () => {
    const person = await seeded('tlsalice');
    const directory = createLdapDirectory(options({ startTls: true, ca: [ca] }), openLdapProfile);
    try {
      await directory.ping();
      expect((await directory.findByIdentifier('tlsalice')).kind).toBe('one');
      expect(await directory.verifyPassword(person.id, person.password)).toBe('valid');
    } finally {
      await directory.close();
    }
  });

  it('refuses a StartTLS server whose certificate the trusted CAs do not sign', async () => {
    const directory = createLdapDirectory(options({ startTls: true }), openLdapProfile);
    try {
      await expectUnavailable(directory.ping());
    } finally {
      await directory.close();
    }
  });

  it('verifies ldaps:// with the configured CA and refuses it without', async () => {
    const trusted = createLdapDirectory(options({ url: slapd.ldapsUrl ?? '', ca: [ca] }), openLdapProfile);
    const untrusted = createLdapDirectory(options({ url: slapd.ldapsUrl ?? '' }), openLdapProfile);
    try {
      await trusted.ping();
      await expectUnavailable(untrusted.ping());
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });

  it('reads caFile from configuration, and a missing caFile is a start-up error naming the key', async () => {
    const config = directoryConfigSchema.parse({ kind: 'ldap', url: slapd.url, startTls: true, caFile: slapd.caFile, bindDn: slapd.bindDn, bindPassword: slapd.bindPassword, baseDn: slapd.baseDn });
    const events: AuditEventInput[] = [];
    const store = { audit: { append: async (batch: AuditEventInput[]) => void events.push(...batch) } } as unknown as Parameters<typeof createDirectoryFromConfig>[1]['store'];
    const built = await createDirectoryFromConfig({ ...config, kind: 'ldap' }, { store, clock: { now: () => new Date() } });
    try {
      await built.directory.ping();
    } finally {
      await built.close();
    }
    await expect(createDirectoryFromConfig({ ...config, kind: 'ldap', caFile: '/nonexistent/ca.pem' }, { store, clock: { now: () => new Date() } })).rejects.toThrow(/^directory\.caFile: cannot read/);
  });
});

describe('failures and recovery', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: a hung directory.
    silentPort = await freePort();
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('gives up on a directory that accepts connections but never answers, within the configured timeouts', async () => {
    const directory = createLdapDirectory(options({ url: `ldap://127.0.0.1:${silentPort}`, operationTimeoutMs: 300, connectTimeoutMs: 300 }), openLdapProfile);
    try {
      const startedAt = Date.now();
      await expectUnavailable(directory.findByIdentifier('anyone'));
      await expectUnavailable(directory.ping());
      expect(Date.now() - startedAt).toBeLessThan(2_000);
    } finally {
      await directory.close();
    }
  });

  it('reports a refused port as unavailable', async () => {
    const directory = createLdapDirectory(options({ url: `ldap://127.0.0.1:${await freePort()}` }), openLdapProfile);
    try {
      await expectUnavailable(directory.getAccount(asAccountId('openldap:6c60bb88-7de9-1041-9f6f-d9a87db30a99')));
    } finally {
      await directory.close();
    }
  });

  it('reports a wrong service password as unavailable, never as "no such account"', async () => {
    const directory = createLdapDirectory(options({ bindPassword: 'not the service password' }), openLdapProfile);
    try {
      await expectUnavailable(directory.findByIdentifier('anyone'));
    } finally {
      await directory.close();
    }
  });

  it('heals its pool by itself after slapd restarts, and audits each failed call without account data', async () => {
    const person = await seeded('restartbob');
    const events: AuditEventInput[] = [];
    const ldap = createLdapDirectory(options({ poolSize: 2 }), openLdapProfile);
    const directory = withUnavailabilityAudit(ldap, { store: { audit: { append: async (batch: AuditEventInput[]) => void events.push(...batch) } } as never, clock: { now: () => new Date() } });
    try {
      // Fill the pool with bound clients, then take the server away under them.
      await Promise.all([directory.getAccount(person.id), directory.getAccount(person.id)]);
      await slapd.stop();
      await expectUnavailable(directory.getAccount(person.id));
      await expectUnavailable(directory.ping());
      expect(events.map((event) => [event.type, event.data['operation'], event.subject])).toEqual([['directory.unavailable', 'get_account', null]]);
      await slapd.start();
      // Every pooled client died with the old server: each call must get a fresh, bound one.
      for (let round = 0; round < 3; round += 1) expect((await directory.getAccount(person.id))?.username).toBe('restartbob');
      expect(await directory.verifyPassword(person.id, person.password)).toBe('valid');
    } finally {
      await ldap.close();
    }
  });

  it('replaces pooled connections that a restart closed before using them, so the first call after it succeeds', async () => {
    const person = await seeded('restartcarl');
    const directory = createLdapDirectory(options({ poolSize: 2 }), openLdapProfile);
    try {
      await Promise.all([directory.getAccount(person.id), directory.getAccount(person.id)]);
      await slapd.restart();
      expect((await directory.getAccount(person.id))?.username).toBe('restartcarl');
      expect(await directory.findByIdentifier('restartcarl')).toMatchObject({ kind: 'one' });
    } finally {
      await directory.close();
    }
  });

  it('serves more concurrent calls than it has connections', async () => {
    const person = await seeded('poolcarol');
    const directory = createLdapDirectory(options({ poolSize: 2 }), openLdapProfile);
    try {
      const results = await Promise.all(Array.from({ length: 20 }, () => directory.getAccount(person.id)));
      expect(results.every((account) => account?.username === 'poolcarol')).toBe(true);
    } finally {
      await directory.close();
    }
  });
});

describe('directory behaviour beyond the contract', () => {
  it('lists accounts across many pages of a paged search', async () => {
    for (let index = 0; index < 12; index += 1) await slapd.addUser({ uid: `paged${index}`, password: `paged ${index} walks the long corridor` });
    const directory = createLdapDirectory(options({ pageSize: 5 }), openLdapProfile);
    try {
      const names: string[] = [];
      for await (const account of directory.listAccounts()) names.push(account.username);
      for (let index = 0; index < 12; index += 1) expect(names).toContain(`paged${index}`);
      expect(new Set(names).size).toBe(names.length);
    } finally {
      await directory.close();
    }
  });

  it('reads the phone from the configured attribute, a national-format number only with the configured region, and a bad value as null', async () => {
    const person = await seeded('phonemia');
    await slapd.asRoot((client) =>
      client.modify(slapd.dnOf('phonemia'), [
        new Change({ operation: 'add', modification: new Attribute({ type: 'mobile', values: ['07700 900789'] }) }),
        new Change({ operation: 'add', modification: new Attribute({ type: 'telephoneNumber', values: ['+44 20 7946 0001 ext. 12'] }) }),
      ]),
    );
    const mobileGb = createLdapDirectory(options({ attributes: { phone: 'mobile' }, phoneRegion: 'GB' }), openLdapProfile);
    const mobileNoRegion = createLdapDirectory(options({ attributes: { phone: 'mobile' } }), openLdapProfile);
    const telephone = createLdapDirectory(options({ phoneRegion: 'GB' }), openLdapProfile);
    try {
      expect((await mobileGb.getAccount(person.id))?.phone).toBe('+447700900789');
      expect((await mobileNoRegion.getAccount(person.id))?.phone).toBeNull();
      // An extension is not a number a text can go to: dropped, not an error for the person.
      expect((await telephone.getAccount(person.id))?.phone).toBeNull();
      expect(await telephone.verifyPassword(person.id, person.password)).toBe('valid');
    } finally {
      await Promise.all([mobileGb.close(), mobileNoRegion.close(), telephone.close()]);
    }
    expect(directoryConfigSchema.parse({ kind: 'ldap', url: 'ldap://127.0.0.1', bindDn: 'cn=x', bindPassword: 'y', baseDn: 'dc=x', attributes: { phone: 'mobile' } }).attributes).toEqual({ phone: 'mobile' });
  });

  it('searches more matches than one page of the result, ordered by username, and pages on after a username', async () => {
    for (const suffix of ['c', 'a', 'b']) await slapd.addUser({ uid: `orderly${suffix}`, password: `orderly ${suffix} walks the long corridor` });
    const directory = createLdapDirectory(options(), openLdapProfile);
    try {
      expect((await directory.searchAccounts('ORDERLY', 10)).map((account) => account.username)).toEqual(['orderlya', 'orderlyb', 'orderlyc']);
      expect((await directory.searchAccounts('orderly', 1, { afterUsername: 'orderlya' })).map((account) => account.username)).toEqual(['orderlyb']);
      // A limit beyond the port's bound is clamped, never passed through.
      expect((await directory.searchAccounts('orderly', 10_000)).length).toBe(3);
      expect((await directory.searchAccounts('orderly', 0)).length).toBe(1);
    } finally {
      await directory.close();
    }
  });

  it('marks the password for change at next sign-in (pwdReset) when configured', async () => {
    const person = await seeded('mustdave');
    const directory = createLdapDirectory(options({ mustChangeAtNextSignIn: true }), openLdapProfile);
    try {
      expect(await directory.setPassword(person.id, 'glass foxes wander home at dusk')).toEqual({ ok: true });
      expect((await slapd.readEntry('mustdave', ['pwdReset']))['pwdReset']).toEqual(['TRUE']);
    } finally {
      await directory.close();
    }
  });

  it('keeps `$&` and other replacement patterns in an identifier literal', async () => {
    await seeded('dollar');
    const directory = createLdapDirectory(options(), openLdapProfile);
    try {
      for (const identifier of ['$&', "$'", '$`', 'dollar$&']) expect(await directory.findByIdentifier(identifier)).toEqual({ kind: 'none' });
      expect(await directory.findByIdentifier('\u0000')).toEqual({ kind: 'none' });
    } finally {
      await directory.close();
    }
  });

  it('reads GeneralizedTime the way slapd writes it', () => {
    expect(parseGeneralizedTime('20261126133126Z')?.toISOString()).toBe('2026-11-26T13:31:26.000Z');
    expect(parseGeneralizedTime('20261126133126.059016Z')?.toISOString()).toBe('2026-11-26T13:31:26.059Z');
    expect(parseGeneralizedTime('yesterday')).toBeNull();
  });
});

describe('directory configuration', () => {
  const base = { LATCHKEY_DIRECTORY__KIND: 'ldap', LATCHKEY_DIRECTORY__URL: 'ldap://127.0.0.1:389', LATCHKEY_DIRECTORY__BIND_DN: 'cn=svc,dc=x', LATCHKEY_DIRECTORY__BIND_PASSWORD: '12345678', LATCHKEY_DIRECTORY__BASE_DN: 'dc=x' };

  it('defaults to the built-in directory', () => {
    expect(loadConfig(null, 'test', {}).directory.kind).toBe('builtin');
  });

  it('reads an LDAP section from the environment, a digits-only bind password staying text', () => {
    const config = loadConfig(null, 'test', base);
    expect(config.directory).toMatchObject({ kind: 'ldap', bindPassword: '12345678', poolSize: 4, connectTimeoutMs: 5_000, operationTimeoutMs: 10_000, groups: {} });
  });

  it.each([
    [{ LATCHKEY_DIRECTORY__BASE_DN: undefined }, 'directory.baseDn (LATCHKEY_DIRECTORY__BASE_DN): is required when kind is ldap'],
    [{ LATCHKEY_DIRECTORY__URL: 'http://dc.corp' }, 'directory.url (LATCHKEY_DIRECTORY__URL): must be ldap://host[:port] or ldaps://host[:port]'],
    [{ LATCHKEY_DIRECTORY__URL: 'ldap://dc.corp.example' }, 'directory.startTls (LATCHKEY_DIRECTORY__START_TLS): must be true for an ldap:// URL to another host'],
    [{ LATCHKEY_DIRECTORY__URL: 'ldaps://dc.corp.example', LATCHKEY_DIRECTORY__START_TLS: 'true' }, 'directory.startTls (LATCHKEY_DIRECTORY__START_TLS): is for ldap:// URLs'],
    [{ LATCHKEY_DIRECTORY__FIND_FILTER: '(uid=alice)' }, 'directory.findFilter (LATCHKEY_DIRECTORY__FIND_FILTER): must contain {identifier}'],
    [{ LATCHKEY_DIRECTORY__FIND_FILTER: '(&(uid={identifier})' }, 'directory.findFilter (LATCHKEY_DIRECTORY__FIND_FILTER): is not a valid LDAP filter'],
    [{ LATCHKEY_DIRECTORY__POOL_SIZE: '0' }, 'directory.poolSize (LATCHKEY_DIRECTORY__POOL_SIZE):'],
    [{ LATCHKEY_DIRECTORY__OPERATION_TIMEOUT_MS: '0' }, 'directory.operationTimeoutMs (LATCHKEY_DIRECTORY__OPERATION_TIMEOUT_MS):'],
    [{ LATCHKEY_DIRECTORY__GROUPS__MODE: 'nested' }, 'directory.groups.mode (LATCHKEY_DIRECTORY__GROUPS__MODE): nested is only available with kind active_directory'],
    [{ LATCHKEY_DIRECTORY__PASSWORD_WRITE: 'magic' }, 'directory.passwordWrite (LATCHKEY_DIRECTORY__PASSWORD_WRITE):'],
    [{ LATCHKEY_DIRECTORY__KIND: 'novell' }, 'directory.kind (LATCHKEY_DIRECTORY__KIND):'],
    [{ LATCHKEY_DIRECTORY__BIND_USER: 'x' }, 'directory.bindUser (LATCHKEY_DIRECTORY__BIND_USER): unknown key'],
  ] as const)('refuses %o naming the key', (change, message) => {
    const env: Record<string, string> = { ...base };
    for (const [key, value] of Object.entries(change)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    expect(() => loadConfig(null, 'test', env)).toThrow(message);
  });
});
