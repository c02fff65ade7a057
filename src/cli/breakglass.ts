import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Latchkey } from '../server/compose.ts';
import type { CustodianShare } from '../core/breakglass/custody.ts';
import type { BreakGlassActor } from '../core/breakglass/service.ts';
import { verifyDrillEvidence, type SignedDrillEvidence } from '../core/breakglass/evidence.ts';
import type { SealRecord } from '../core/breakglass/records.ts';
import { readCheckpointVerifier } from '../adapters/audit-evidence/signing-key.ts';
import { UsageError } from './context.ts';

/** What main.ts lends the break-glass commands, so they open and close Latchkey like every other command. */
export interface BreakGlassCliContext {
  readonly withLatchkey: <T>(work: (latchkey: Latchkey) => Promise<T>) => Promise<T>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly outcome: { exitCode: 0 | 1 };
  readonly actorId: string | null;
}

/** The printed form of one share: comment lines naming it, then the code. `open --share-file` reads this back. */
export function shareText(seal: Pick<SealRecord, 'id' | 'username' | 'threshold' | 'custodians'>, share: CustodianShare): string {
  return [
    '# Latchkey break-glass share: keep it secret and offline; it is shown only once.',
    `# account: ${seal.username}`,
    `# custodian: ${share.custodian}`,
    `# seal: ${seal.id}`,
    `# share: ${share.number} of ${seal.custodians.length} (any ${seal.threshold} open the account)`,
    share.code,
    '',
  ].join('\n');
}

/** The share codes in a text: every line that is not blank and not a `#` comment is one share. */
export function sharesIn(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

const safeName = (text: string): string => text.replace(/[^A-Za-z0-9._@-]/g, '_');

/**
 * Gives each custodian their share once: to stdout, or with `--out-dir` one file per custodian
 * (mode 0600, refusing to overwrite), printing only the file names.
 */
async function handOut(context: BreakGlassCliContext, seal: SealRecord, shares: readonly CustodianShare[], outDir: string | undefined): Promise<void> {
  if (outDir === undefined) {
    context.err(`Hand each share below to its custodian now; Latchkey keeps no copy. Any ${seal.threshold} of ${shares.length} open ${seal.username}.`);
    for (const share of shares) context.out(shareText(seal, share));
    return;
  }
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  for (const share of shares) {
    const path = join(outDir, `${safeName(seal.username)}-${seal.id.slice(0, 8)}-${share.number}-${safeName(share.custodian)}.share`);
    await writeFile(path, shareText(seal, share), { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    context.out(`${share.custodian}\t${path}`);
  }
  context.err(`Wrote ${shares.length} share files (mode 0600). Hand each to its custodian and delete it here; Latchkey keeps no copy.`);
}

async function collectShares(context: BreakGlassCliContext, files: readonly string[] | undefined): Promise<string[]> {
  if (files && files.length > 0) {
    const shares: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read the share file ${file}: ${(error as Error).message}`);
      }
      shares.push(sharesIn(text).join(''));
    }
    return shares;
  }
  context.err('Custodians: paste or type your shares, one per line; end with Ctrl-D.');
  return sharesIn(await context.readStdin());
}

const dateText = (date: Date | null): string => (date === null ? '-' : date.toISOString());

/** `latchkey breakglass …`: seal, open, re-seal, drill, evidence, shares, status, watch. */
export function registerBreakGlassCommands(program: Command, context: BreakGlassCliContext): void {
  const { withLatchkey, out, err } = context;
  const actor: BreakGlassActor = { kind: 'cli', id: context.actorId, ip: null, userAgent: null };
  const breakglass = program.command('breakglass').description('Break-glass accounts: sealed custody, emergency access, drills and watch (docs/break-glass.md).');
  const parseCustody = (options: { custodians?: string; threshold?: string }): { custodians: string[]; threshold: number } | undefined => {
    if (options.custodians === undefined && options.threshold === undefined) return undefined;
    if (options.custodians === undefined || options.threshold === undefined) throw new UsageError('give --custodians and --threshold together');
    const threshold = Number(options.threshold);
    if (!Number.isInteger(threshold)) throw new UsageError('--threshold must be a whole number');
    return { custodians: options.custodians.split(',').map((name) => name.trim()).filter((name) => name !== ''), threshold };
  };

  breakglass
    .command('seal')
    .description('Write a random password to a break-glass account and split it among custodians (M of N); keeps no copy.')
    .argument('<account>', 'username or work email')
    .requiredOption('--custodians <names>', 'comma-separated custodian names, one share each')
    .requiredOption('--threshold <m>', 'how many shares open the account (at least 2)')
    .option('--out-dir <dir>', 'write one 0600 file per share instead of printing them')
    .action(async (account: string, options: { custodians: string; threshold: string; outDir?: string }) => {
      const custody = parseCustody(options);
      if (!custody) throw new UsageError('give --custodians and --threshold');
      await withLatchkey(async (latchkey) => {
        const { seal, shares } = await latchkey.breakGlass.service.seal(account, custody.custodians, custody.threshold, actor);
        err(`Sealed ${seal.username}: seal ${seal.id}.`);
        await handOut(context, seal, shares, options.outDir);
      });
    });

  breakglass
    .command('reseal')
    .description('Replace the seal now: new password, new shares (same custodians unless given).')
    .argument('<account>')
    .option('--custodians <names>')
    .option('--threshold <m>')
    .option('--out-dir <dir>')
    .action(async (account: string, options: { custodians?: string; threshold?: string; outDir?: string }) => {
      const custody = parseCustody(options);
      await withLatchkey(async (latchkey) => {
        const { seal, shares } = await latchkey.breakGlass.service.reseal(account, actor, custody);
        err(`Re-sealed ${seal.username}: seal ${seal.id} replaces ${seal.replaces ?? '-'}; shares of the old seal no longer work.`);
        await handOut(context, seal, shares, options.outDir);
      });
    });

  breakglass
    .command('open')
    .description('Emergency access: rebuild the password from M shares and show it once; alerts every security admin.')
    .argument('<account>')
    .requiredOption('--reason <text>', 'why the account is opened (audited and in the alert)')
    .option('--share-file <files...>', 'share files (as written by seal --out-dir); otherwise shares are read from stdin')
    .action(async (account: string, options: { reason: string; shareFile?: string[] }) => {
      if (options.reason.trim().length < 3) throw new UsageError('--reason must say why');
      const shares = await collectShares(context, options.shareFile);
      await withLatchkey(async (latchkey) => {
        const opened = await latchkey.breakGlass.service.open(account, shares, options.reason, actor);
        err(`Opened ${opened.seal.username} with the shares of ${opened.sharesFrom.join(', ')}. Security admins were alerted.`);
        err(`The password below stops working at ${dateText(opened.seal.resealDueAt)}, when the account is re-sealed; the new shares are then released with: latchkey breakglass shares NEW_SEAL_ID`);
        out(opened.password);
      });
    });

  breakglass
    .command('drill')
    .description('Prove the shares still open the account (bind, password never shown), re-seal, and record signed evidence.')
    .argument('<account>')
    .option('--share-file <files...>')
    .option('--out-dir <dir>', 'where the new shares go (otherwise printed)')
    .action(async (account: string, options: { shareFile?: string[]; outDir?: string }) => {
      const shares = await collectShares(context, options.shareFile);
      await withLatchkey(async (latchkey) => {
        const drilled = await latchkey.breakGlass.service.drill(account, shares, actor);
        out(`drill ${drilled.evidence.record.drillId} ${drilled.evidence.record.result}`);
        if (drilled.seal === null) {
          err(`The directory answered '${drilled.evidence.record.bind}' to the sealed password: the drill failed and was recorded. Seal the account anew.`);
          context.outcome.exitCode = 1;
          return;
        }
        err(`Re-sealed as ${drilled.seal.id}; the shares used in the drill no longer work.`);
        await handOut(context, drilled.seal, drilled.shares, options.outDir);
      });
    });

  breakglass
    .command('evidence')
    .description('Print a drill record with its Ed25519 signature (JSON), for auditors.')
    .argument('<drill-id>')
    .action(async (drillId: string) => {
      await withLatchkey(async (latchkey) => out(JSON.stringify(await latchkey.breakGlass.service.drillEvidence(drillId), null, 2)));
    });

  breakglass
    .command('verify-evidence')
    .description('Check a drill record printed by `breakglass evidence` against public keys from `audit public-key`; needs no database.')
    .argument('<file>')
    .requiredOption('--public-key <files...>', 'PEM public key file(s)')
    .action(async (file: string, options: { publicKey: string[] }) => {
      let evidence: SignedDrillEvidence;
      try {
        evidence = JSON.parse(await readFile(file, 'utf8')) as SignedDrillEvidence;
      } catch (error) {
        throw new UsageError(`cannot read drill evidence from ${file}: ${(error as Error).message}`);
      }
      if (typeof evidence !== 'object' || evidence === null || typeof evidence.signature !== 'string' || typeof evidence.keyId !== 'string' || typeof evidence.record !== 'object') {
        throw new UsageError(`${file} is not drill evidence (expected record, keyId and signature)`);
      }
      const verdict = verifyDrillEvidence(evidence, await readCheckpointVerifier(options.publicKey));
      out(`${verdict}: drill ${String(evidence.record.drillId)} of ${String(evidence.record.account?.username)} (${String(evidence.record.result)}) signed by key ${evidence.keyId}`);
      if (verdict !== 'valid') context.outcome.exitCode = 1;
    });

  breakglass
    .command('shares')
    .description('Release, once, the shares a worker made when it re-sealed after an emergency window.')
    .argument('<seal-id>')
    .option('--out-dir <dir>')
    .action(async (sealId: string, options: { outDir?: string }) => {
      await withLatchkey(async (latchkey) => {
        const { seal, shares } = await latchkey.breakGlass.service.releaseShares(sealId, actor);
        await handOut(context, seal, shares, options.outDir);
      });
    });

  breakglass
    .command('status')
    .description('Break-glass accounts: seal, custodians, threshold, last drill, next drill due, watch findings.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        out(['account', 'status', 'seal', 'custodians', 'threshold', 'last_drill', 'next_drill_due', 'flags'].join('\t'));
        for (const row of await latchkey.breakGlass.service.status()) {
          const flags = [...(row.drillOverdue ? ['drill_overdue'] : []), ...(row.sharesPending ? ['shares_pending'] : []), ...row.watch.filter((kind) => kind !== 'drill_overdue')];
          out([row.username, row.status, row.sealId ?? '-', row.custodians.join(',') || '-', row.threshold ?? '-', dateText(row.lastDrillAt), dateText(row.nextDrillDue), flags.join(',') || '-'].join('\t'));
        }
      });
    });

  breakglass
    .command('watch')
    .description('Run one pass of the watch now: due re-seals, overdue drills, directory compared with each seal.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        const outcome = await latchkey.breakGlass.watch.runOnce();
        out(`checked ${outcome.checked}, re-sealed ${outcome.resealed}, mismatches ${outcome.mismatches}, overdue ${outcome.overdue}`);
        if (outcome.mismatches > 0 || outcome.overdue > 0) context.outcome.exitCode = 1;
      });
    });
}
