import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey, withLatchkey, type CliRun } from '../support/cli.ts';
import { sharesIn } from '../../src/cli/breakglass.ts';

/* `latchkey breakglass …` against a real SQLite data directory, as an operator runs it. */

describe('latchkey breakglass', () => {
  let dir: string;
  const env = (): Record<string, string> => ({ LATCHKEY_DATA_DIR: join(dir, 'data'), LATCHKEY_LOG_LEVEL: 'silent' });

  const cli = (args: string[], stdin?: string): Promise<CliRun> => runLatchkey(env(), args, stdin === undefined ? {} : { stdin });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-breakglass-cli-'));
    await withLatchkey(env(), (latchkey) =>
      latchkey.accounts.create({ username: 'bg1', email: 'bg1@corp.test', password: 'bg1 keeps a spare key somewhere safe', displayName: 'Break glass 1', groups: ['break-glass'], department: 'IT' }, { kind: 'cli', id: 'test' }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('seals into 0600 share files, opens with M of them, refuses M−1, drills with signed evidence an auditor verifies', async () => {
    const sharesDir = join(dir, 'shares');
    const sealed = await cli(['breakglass', 'seal', 'bg1', '--custodians', 'alice,bob,carol', '--threshold', '2', '--out-dir', sharesDir]);
    expect(sealed.code, sealed.stderr).toBe(0);
    const files = (await readdir(sharesDir)).sort();
    expect(files).toHaveLength(3);
    for (const file of files) expect((await stat(join(sharesDir, file))).mode & 0o777).toBe(0o600);
    const aliceFile = join(sharesDir, files.find((file) => file.endsWith('-1-alice.share')) ?? '');
    const carolFile = join(sharesDir, files.find((file) => file.endsWith('-3-carol.share')) ?? '');
    const aliceText = await readFile(aliceFile, 'utf8');
    expect(aliceText).toMatch(/^# account: bg1$/m);
    expect(aliceText).toMatch(/^# custodian: alice$/m);
    expect(aliceText).toMatch(/^# share: 1 of 3 \(any 2 open the account\)$/m);
    // Nothing secret on stdout: only who got which file.
    expect(sealed.stdout).not.toContain(sharesIn(aliceText)[0] ?? 'none');

    const short = await cli(['breakglass', 'open', 'bg1', '--reason', 'outage', '--share-file', aliceFile]);
    expect(short).toMatchObject({ code: 1, stdout: '' });
    expect(short.stderr).toContain('1 of the 2 shares this seal needs were given');

    // Custodians may also paste at the terminal: one share per line on stdin.
    const carolShare = sharesIn(await readFile(carolFile, 'utf8'))[0] ?? '';
    const typedAlice = (sharesIn(aliceText)[0] ?? '').toLowerCase().replaceAll('-', ' ');
    const opened = await cli(['breakglass', 'open', 'bg1', '--reason', 'SSO outage'], `${typedAlice}\n${carolShare}\n`);
    expect(opened.code, opened.stderr).toBe(0);
    const password = opened.stdout.trim();
    expect(password).toHaveLength(40);
    expect(opened.stderr).toContain('Security admins were alerted');

    const alerts = await cli(['alerts', 'list', '--severity', 'critical']);
    expect(alerts.stdout).toContain('Break-glass account bg1 was opened');
    expect(alerts.stdout).not.toContain(password);

    const status = await cli(['breakglass', 'status']);
    expect(status.stdout.split('\n')[1]?.split('\t').slice(0, 2)).toEqual(['bg1', 'opened']);

    // Re-seal now rather than wait for the window, then drill with two of the new shares.
    const resealed = await cli(['breakglass', 'reseal', 'bg1']);
    expect(resealed.code, resealed.stderr).toBe(0);
    const newShares = sharesIn(resealed.stdout);
    expect(newShares).toHaveLength(3);
    const drill = await cli(['breakglass', 'drill', 'bg1', '--out-dir', join(dir, 'after-drill')], `${newShares[1]}\n${newShares[2]}\n`);
    expect(drill.code, drill.stderr).toBe(0);
    const drillId = /^drill (\S+) passed$/m.exec(drill.stdout)?.[1] ?? '';
    expect(drillId).not.toBe('');
    expect(drill.stdout).not.toContain(password);

    const evidence = await cli(['breakglass', 'evidence', drillId]);
    const evidenceFile = join(dir, 'drill.json');
    await writeFile(evidenceFile, evidence.stdout);
    const keyFile = join(dir, 'audit.pub');
    await writeFile(keyFile, (await cli(['audit', 'public-key'])).stdout);
    expect(await cli(['breakglass', 'verify-evidence', evidenceFile, '--public-key', keyFile])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^valid: drill .* of bg1 \(passed\)/) });
    const forged = JSON.parse(evidence.stdout) as { record: { sharesFrom: string[] } };
    forged.record.sharesFrom = ['alice', 'bob'];
    await writeFile(evidenceFile, JSON.stringify(forged));
    expect(await cli(['breakglass', 'verify-evidence', evidenceFile, '--public-key', keyFile])).toMatchObject({ code: 1, stdout: expect.stringMatching(/^invalid:/) });

    const finalStatus = (await cli(['breakglass', 'status'])).stdout.split('\n')[1]?.split('\t') ?? [];
    expect(finalStatus.slice(0, 5)).toEqual(['bg1', 'sealed', expect.any(String), 'alice,bob,carol', '2']);
    expect(finalStatus[5]).not.toBe('-');
  });

  it('rejects a bad custody plan as a usage error naming the problem', async () => {
    expect(await cli(['breakglass', 'seal', 'bg1', '--custodians', 'alice', '--threshold', 'two'])).toMatchObject({ code: 2, stderr: 'latchkey: --threshold must be a whole number\n' });
  });
});
