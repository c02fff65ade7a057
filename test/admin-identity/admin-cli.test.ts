import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey, withLatchkey, type CliRun } from '../support/cli.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import type { Policy } from '../../src/core/policy/schema.ts';

/*
 * `latchkey admin roles` against the built-in directory of a fresh installation (SQLite: the
 * command reads the directory, not the store, so one engine shows it).
 */

describe('latchkey admin roles', () => {
  let dir: string;
  let env: Record<string, string>;

  const run = (...args: string[]): Promise<CliRun> => runLatchkey(env, args);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-admin-cli-'));
    const policy = parse(await readFile(DEFAULT_POLICY_FILE_URL, 'utf8')) as Policy;
    policy.adminRoles = { security_admin: ['sec-admins'], helpdesk: ['CN=Helpdesk,OU=Groups,DC=corp,DC=test'], auditor: [] };
    await writeFile(join(dir, 'policy.yaml'), stringify(policy));
    env = { LATCHKEY_DATA_DIR: dir, LATCHKEY_POLICY_FILE: join(dir, 'policy.yaml'), LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_CONFIG: join(dir, 'latchkey.yaml') };
    await writeFile(join(dir, 'latchkey.yaml'), '{}\n');
    await withLatchkey(env, async (latchkey) => {
      const add = (username: string, groups: string[]) =>
        latchkey.accounts.create({ username, email: `${username}@corp.test`, displayName: username, groups, department: 'IT', password: `${username} keeps seven quiet lanterns lit` }, { kind: 'cli', id: 'test' });
      await add('zoe.sec', ['Sec-Admins']);
      await add('amy.sec', ['sec-admins', 'staff']);
      await add('hal.desk', ['cn=helpdesk,ou=groups,dc=corp,dc=test']);
      // A group of the same name elsewhere does not match a role configured by its full DN.
      await add('sam.staff', ['staff', 'helpdesk', 'CN=Helpdesk,OU=Contractors,DC=corp,DC=test']);
    });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists each role with its groups, permissions and the accounts that hold it, sorted by username; a DN matches only itself', async () => {
    const { code, stdout } = await run('admin', 'roles');
    expect(code).toBe(0);
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^security_admin: groups sec-admins; permissions accounts:read accounts:write /);
    expect(lines[1]).toMatch(/^ {2}amy\.sec \(builtin:/);
    expect(lines[2]).toMatch(/^ {2}zoe\.sec \(builtin:/);
    expect(lines[3]).toBe('helpdesk: groups CN=Helpdesk,OU=Groups,DC=corp,DC=test; permissions accounts:read accounts:write tap:issue outbox:read alerts:read');
    expect(lines[4]).toMatch(/^ {2}hal\.desk \(builtin:/);
    expect(lines[5]).toMatch(/^auditor: groups \(none\); permissions .*audit:read/);
    expect(lines[6]).toBe('  (no account holds this role)');
    expect(stdout).not.toContain('sam.staff');
  });
});
