import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey, type CliRun } from '../support/cli.ts';
import { startSlapd, type Slapd } from '../support/slapd.ts';

let slapd: Slapd;
let dataDir: string;
beforeAll(async () => {
  slapd = await startSlapd();
  dataDir = await mkdtemp(join(tmpdir(), 'latchkey-dircli-'));
  // An empty configuration file, so a latchkey.yaml in the working directory cannot leak in.
  await writeFile(join(dataDir, 'latchkey.yaml'), '');
  await slapd.addUser({ uid: 'clialice', password: 'clialice follows the canal path', mail: 'clialice@corp.test', groups: ['admins'] });
});
afterAll(async () => {
  await slapd?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** `latchkey ARGS` in this process with exactly these LATCHKEY_* variables, capturing its output. */
const cli = (env: Readonly<Record<string, string>>, ...args: string[]): Promise<CliRun> =>
  runLatchkey({ LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_CONFIG: join(dataDir, 'latchkey.yaml'), ...env }, args);

const ldapEnv = (): Record<string, string> => ({
  LATCHKEY_DIRECTORY__KIND: 'ldap',
  LATCHKEY_DIRECTORY__URL: slapd.url,
  LATCHKEY_DIRECTORY__BIND_DN: slapd.bindDn,
  LATCHKEY_DIRECTORY__BIND_PASSWORD: slapd.bindPassword,
  LATCHKEY_DIRECTORY__BASE_DN: slapd.baseDn,
  LATCHKEY_DIRECTORY__CONNECT_TIMEOUT_MS: '500',
  LATCHKEY_DIRECTORY__OPERATION_TIMEOUT_MS: '1000',
});

describe('latchkey directory check', () => {
  it('reports a reachable directory and how it sees an account, with no secrets', async () => {
    const run = await cli(ldapEnv(), 'directory', 'check', 'clialice@corp.test');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('directory openldap: reachable');
    expect(run.stdout).toMatch(/clialice@corp\.test: clialice \(openldap:[0-9a-f-]{36}\), tier privileged, 1 group\(s\), enabled, not locked/);
    expect(run.stdout + run.stderr).not.toContain(slapd.bindPassword);
  });

  it('exits 1 for an identifier that names no account', async () => {
    const run = await cli(ldapEnv(), 'directory', 'check', '*)(uid=*');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('*)(uid=*: no account');
  });

  it('exits 1 naming what to check when the directory does not answer', async () => {
    await slapd.stop();
    try {
      const run = await cli(ldapEnv(), 'directory', 'check');
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('the openldap directory does not answer; check directory.url');
    } finally {
      await slapd.start();
    }
  });

  it('exits 2 for a configuration mistake, naming the key', async () => {
    const remote = await cli({ ...ldapEnv(), LATCHKEY_DIRECTORY__URL: 'ldap://ldap.corp.example' }, 'directory', 'check');
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/directory\.startTls \(.*LATCHKEY_DIRECTORY__START_TLS\): must be true/);
    const noCa = await cli({ ...ldapEnv(), LATCHKEY_DIRECTORY__CA_FILE: join(dataDir, 'missing-ca.pem') }, 'directory', 'check');
    expect(noCa.code).toBe(2);
    expect(noCa.stderr).toContain('directory.caFile: cannot read');
  });
});
