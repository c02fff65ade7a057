import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { isDomainError } from '../core/errors.ts';
import { formatPolicyError, parsePolicy } from '../core/policy/load.ts';
import type { AccountFinding } from '../core/policy/paths/account-findings.ts';
import type { PolicyActor } from '../core/policy/paths/policy-service.ts';
import { allPathFindings, formatPolicyPaths, recoveryPaths, type PolicyPaths } from '../core/policy/paths/recovery-paths.ts';
import { formatSimulation, type PolicySimulation } from '../core/policy/paths/simulate.ts';
import type { Latchkey } from '../server/compose.ts';
import { UsageError } from './context.ts';

/** What the policy commands borrow from the CLI shell, so there is one way to open Latchkey and to write output. */
export interface PolicyCommandContext {
  readonly outcome: { exitCode: 0 | 1 };
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly withLatchkey: <T>(work: (latchkey: Latchkey) => Promise<T>) => Promise<T>;
  readonly actor: PolicyActor;
}

const formatOption = (): Option => new Option('--format <format>', 'text for people, json for scripts').choices(['text', 'json']).default('text');

async function readPolicyText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: Error) => {
    throw new UsageError(`cannot read ${file}: ${error.message}`);
  });
}

const hasHigh = (report: PolicyPaths): boolean => allPathFindings(report).some((finding) => finding.severity === 'high');

function formatFindings(findings: readonly AccountFinding[]): string {
  const lines = findings.map((finding) => `${finding.severity} ${finding.code}: ${finding.message}`);
  lines.push(`${findings.length} ${findings.length === 1 ? 'finding' : 'findings'}`);
  return lines.join('\n');
}

/**
 * `policy paths`, `findings`, `simulate`, `publish` and `history`. Exit 1 means something was found
 * that needs a person: a high-severity finding, an account a change would strand, a refused publish.
 */
export function registerPolicyGovernanceCommands(policy: Command, context: PolicyCommandContext): void {
  const { outcome, out, err, withLatchkey } = context;
  const print = (format: string, value: unknown, text: () => string): void => out(format === 'json' ? JSON.stringify(value, null, 2) : text());
  const printSimulation = (format: string, simulation: PolicySimulation): void => print(format, simulation, () => formatSimulation(simulation));

  policy
    .command('paths')
    .description('Every combination of methods that completes a reset or unlock, per tier, with strength and findings; exit 1 on a high-severity finding.')
    .option('--policy <file>', 'analyse this file instead of the version in force (no database is opened)')
    .addOption(formatOption())
    .action(async (options: { policy?: string; format: string }) => {
      let report: PolicyPaths;
      if (options.policy !== undefined) {
        const parsed = parsePolicy(await readPolicyText(options.policy), options.policy);
        if (!parsed.ok) {
          for (const problem of parsed.errors) out(formatPolicyError(problem));
          outcome.exitCode = 1;
          return;
        }
        report = recoveryPaths(parsed.policy);
      } else {
        report = await withLatchkey(async (latchkey) => {
          err(`policy version ${latchkey.policies.currentVersion().version}`);
          return latchkey.policies.paths();
        });
      }
      print(options.format, report, () => formatPolicyPaths(report));
      if (hasHigh(report)) outcome.exitCode = 1;
    });

  policy
    .command('findings')
    .description('Findings about registered methods under the policy in force; exit 1 on a high-severity finding.')
    .addOption(formatOption())
    .action(async (options: { format: string }) => {
      const findings = await withLatchkey((latchkey) => latchkey.policies.accountFindings());
      print(options.format, findings, () => formatFindings(findings));
      if (findings.some((finding) => finding.severity === 'high')) outcome.exitCode = 1;
    });

  policy
    .command('simulate')
    .description('What a proposed policy would do to today’s accounts before it is applied; exit 1 when it would strand any.')
    .argument('<file>', 'the proposed policy')
    .addOption(formatOption())
    .action(async (file: string, options: { format: string }) => {
      const text = await readPolicyText(file);
      await withLatchkey(async (latchkey) => {
        const validation = latchkey.policies.validate(text, file);
        if (!validation.ok) {
          for (const problem of validation.errors) out(problem);
          outcome.exitCode = 1;
          return;
        }
        err(`against policy version ${latchkey.policies.currentVersion().version}`);
        const simulation = await latchkey.policies.simulate(text, file);
        printSimulation(options.format, simulation);
        if (simulation.stranded.length > 0) outcome.exitCode = 1;
      });
    });

  policy
    .command('publish')
    .description('Validate, simulate and publish a policy file as the next version; every instance applies it within seconds. Refused when it would strand accounts, unless --force.')
    .argument('<file>')
    .requiredOption('--reason <text>', 'why, for the history and the audit trail')
    .option('--force', 'publish even when the simulation finds accounts with no way left to recover')
    .action(async (file: string, options: { reason: string; force?: boolean }) => {
      const reason = options.reason.trim();
      if (reason === '' || reason.length > 500) throw new UsageError('--reason must say why in 1 to 500 characters');
      const text = await readPolicyText(file);
      await withLatchkey(async (latchkey) => {
        try {
          const result = await latchkey.policies.publish({ text, name: file, reason, actor: context.actor, source: 'cli', force: options.force === true });
          printSimulation('text', result.simulation);
          out(`published policy version ${result.version.version} (+${result.version.linesAdded} -${result.version.linesRemoved} lines, sha256 ${result.version.hash.slice(0, 16)}…)`);
        } catch (error) {
          if (!isDomainError(error)) throw error;
          if (error.code === 'policy.invalid') for (const problem of (error.extra['errors'] as readonly string[] | undefined) ?? []) out(problem);
          const simulation = error.extra['simulation'] as PolicySimulation | undefined;
          if (simulation !== undefined) printSimulation('text', simulation);
          err(`latchkey: ${error.detail}${error.code === 'policy.would_strand' ? ' Help them register methods first, or publish with --force.' : ''}`);
          outcome.exitCode = 1;
        }
      });
    });

  policy
    .command('history')
    .description('Published policy versions, newest first; with --version N, that version’s diff (and with --text its whole text).')
    .option('--version <n>', 'show one version')
    .option('--text', 'with --version: print the whole text instead of the diff')
    .option('--limit <n>', 'how many versions to list', '50')
    .action(async (options: { version?: string; text?: boolean; limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      const version = options.version === undefined ? undefined : Number(options.version);
      if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new UsageError('--version must be a version number (1, 2, …)');
      await withLatchkey(async (latchkey) => {
        if (version === undefined) {
          for (const entry of await latchkey.policies.history({ limit })) {
            out(`${entry.version}\t${entry.createdAt.toISOString()}\t${entry.actorKind}:${entry.actorId ?? '-'}\t${entry.source}\t+${entry.linesAdded} -${entry.linesRemoved}\t${entry.reason}`);
          }
          return;
        }
        const record = await latchkey.policies.version(version);
        // With --text, stdout is exactly the stored text (so it can be written back to the policy file); the header goes to stderr.
        const header = options.text === true ? err : out;
        header(`# policy version ${record.version}, ${record.createdAt.toISOString()}, ${record.actorKind}:${record.actorId ?? '-'} (${record.source}): ${record.reason}`);
        header(`# sha256 ${record.hash}`);
        process.stdout.write(options.text === true ? record.text : record.diff === '' ? '# (the first version: no diff)\n' : record.diff);
      });
    });
}
