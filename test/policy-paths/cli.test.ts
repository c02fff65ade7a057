import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessCliEnv, runLatchkey, type CliRun } from '../support/cli.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { auditEvents, createPerson, startHarness, type Harness } from '../support/harness.ts';
import { enrol, policyText, weakEdit } from './fixtures.ts';

const DEFAULT_POLICY = join(resolve(fileURLToPath(new URL('../..', import.meta.url))), 'policy', 'default.yaml');

/*
 * The CLI runs in this process against the harness's SQLite database (same data directory, key file
 * and policy file), as an operator's shell would next to a running server. The PostgreSQL side of
 * publishing is proven over the API in governance.test.ts.
 */
describe('latchkey policy paths | simulate | publish | history', () => {
  let h: Harness;
  let env: Record<string, string>;
  let threeGates: string;

  const cli = (...args: string[]): Promise<CliRun> => runLatchkey(env, args);

  beforeAll(async () => {
    h = await startHarness({ engine: 'sqlite' });
    const policyFile = join(h.dataDir, 'policy.yaml');
    env = { ...harnessCliEnv(h), LATCHKEY_CONFIG: join(h.dataDir, 'no-config.yaml') };
    await writeFile(env['LATCHKEY_CONFIG'] ?? '', '{}\n');
    const data = parse(await readFile(policyFile, 'utf8')) as Policy;
    data.tiers.standard.gatesRequired = 3;
    data.tiers.standard.minEnrolledMethods = 3;
    threeGates = join(h.dataDir, 'three-gates.yaml');
    await writeFile(threeGates, stringify(data));
    const alice = await createPerson(h, 'alice', { department: 'Sales' });
    const bob = await createPerson(h, 'bob', { department: 'Finance' });
    // No clock moves here: the CLI runs on the system clock, and a method verified in its future would still be cooling off.
    await enrol(h, alice, { email: 'alice.home@example.org', totp: true });
    await enrol(h, bob, { email: 'bob.home@example.org', totp: true, recoveryCodes: true });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('prints the paths of a policy file without a database, exit 0 when nothing is high', async () => {
    const run = await cli('policy', 'paths', '--policy', DEFAULT_POLICY);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n').slice(0, 12)).toEqual([
      'standard (2 gates, one of phishing_resistant/possession; allowed webauthn, totp, recovery_code, email_code, sms_code): 9 paths',
      '  webauthn + totp  [weakest possession, strongest phishing_resistant]',
      '  webauthn + recovery_code  [weakest possession, strongest phishing_resistant]',
      '  webauthn + email_code  [weakest possession_weak, strongest phishing_resistant]',
      '  webauthn + sms_code  [weakest possession_weak, strongest phishing_resistant]',
      '  totp + recovery_code  [weakest possession, strongest possession]',
      '  totp + email_code  [weakest possession_weak, strongest possession]',
      '  totp + sms_code  [weakest possession_weak, strongest possession]',
      '    ! warning path.same_device: totp and sms_code may reach the same phone: one stolen or cloned handset could pass both gates',
      '  recovery_code + email_code  [weakest possession_weak, strongest possession]',
      '  recovery_code + sms_code  [weakest possession_weak, strongest possession]',
      '  helpdesk: helpdesk verifies by method_code or manager_approval or out_of_band, issues a temporary access pass (a portal sign-in to register new methods)',
    ]);
    expect(run.stdout.trimEnd().endsWith('4 findings')).toBe(true);
  });

  it('exits 1 on a deliberately weak policy and prints JSON on request', async () => {
    const weak = join(h.dataDir, 'weak.yaml');
    await writeFile(weak, policyText(weakEdit));
    const run = await cli('policy', 'paths', '--policy', weak, '--format', 'json');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { findingCount: number; tiers: { tier: string; paths: { methods: string[] }[] }[] };
    expect(report.findingCount).toBe(16);
    expect(report.tiers[0]?.paths.map((path) => path.methods.join('+'))).toContain('email_code+sms_code');
  });

  it('reports an invalid file as FILE:LINE:COL, exit 1', async () => {
    const broken = join(h.dataDir, 'broken.yaml');
    await writeFile(broken, (await readFile(DEFAULT_POLICY, 'utf8')).replace('gatesRequired: 2', 'gatesRequired: 1'));
    const run = await cli('policy', 'paths', '--policy', broken);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^${broken.replace(/[.]/g, '\\.')}:\\d+:\\d+ tiers\\.standard\\.gatesRequired: a reset or unlock needs at least two gates`, 'm'));
  });

  it('simulates two gates becoming three: alice is stranded, exit 1', async () => {
    const run = await cli('policy', 'simulate', threeGates);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('accounts: 2; could recover now: 2; under the proposed policy: 1\n');
    expect(run.stdout).toContain('stranded by this change: 1\n  alice\tstandard\tSales\tactive email_code, totp; standard needs 3 gates over independent channels\n');
    expect(run.stdout).toContain('  Finance: 1 of 1 could recover (now 1)\n');
  });

  it('refuses to publish a change that strands alice, then publishes it with --force, audited with the CLI user', async () => {
    const refused = await cli('policy', 'publish', threeGates, '--reason', 'three gates');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('1 account would have no way to recover under this policy. Help them register methods first, or publish with --force.');
    expect(await h.latchkey.store.policyVersions.latestNumber()).toBe(1);

    const forced = await cli('policy', 'publish', threeGates, '--reason', 'three gates', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/published policy version 2 \(\+2 -2 lines, sha256 [0-9a-f]{16}…\)/);
    const events = (await auditEvents(h, { types: ['policy.published'] })).filter((event) => event.data['version'] === 2);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: { kind: 'cli' }, data: { source: 'cli', forced: true, stranded: 1, reason: 'three gates' } });

    // The harness's server instance picks it up on its next poll (its refresher is not running in tests: refresh by hand).
    expect(await h.latchkey.policies.refresh()).toBe(true);
    expect(h.latchkey.deps.policy().tiers.standard.gatesRequired).toBe(3);
  });

  it('lists the history and prints one version’s diff', async () => {
    const history = await cli('policy', 'history');
    expect(history.code).toBe(0);
    const rows = history.stdout.trimEnd().split('\n').map((line) => line.split('\t'));
    expect(rows.map((row) => [row[0], row[3], row[4], row[5]])).toEqual([
      ['2', 'cli', '+2 -2', 'three gates'],
      ['1', 'file', '+0 -0', `seeded from ${env['LATCHKEY_POLICY_FILE']}`],
    ]);
    const two = await cli('policy', 'history', '--version', '2');
    expect(two.stdout).toContain('-    gatesRequired: 2\n+    gatesRequired: 3\n');
    const text = await cli('policy', 'history', '--version', '2', '--text');
    expect(text.stdout).toBe(await readFile(threeGates, 'utf8'));
    expect(text.stderr).toMatch(/^# policy version 2, .* \(cli\): three gates\n# sha256 [0-9a-f]{64}\n/m);
    const missing = await cli('policy', 'history', '--version', '7');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('There is no policy version 7.');
  });
});
