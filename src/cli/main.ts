import { Command, CommanderError, Option } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { SingleBar, Presets } from 'cli-progress';
import { stringify as toYaml } from 'yaml';
import { composeLatchkey, loadPolicyFile, PolicyLoadError, type Latchkey } from '../server/compose.ts';
import { buildHttpApp } from '../server/http/app.ts';
import { ConfigError } from '../server/config/config.ts';
import { formatPolicyError, parsePolicy } from '../core/policy/load.ts';
import { canonicalUsername, newAccountSchema } from '../core/account/builtin-admin.ts';
import { describeLogVerdict, evidenceStartSeq, ExportFormatError, verifyExportFile, verifyStoredLog, type LogVerdict } from '../adapters/audit-evidence/verify-log.ts';
import { readCheckpointVerifier, SigningKeyError } from '../adapters/audit-evidence/signing-key.ts';
import { ADMIN_SCOPES } from '../core/ports/store.ts';
import { isAdminScope } from '../server/admin-tokens.ts';
import { cliPrincipal, ROLE_PERMISSIONS } from '../core/admin/principal.ts';
import { adminRoleHolders } from '../core/admin/role-holders.ts';
import { DomainError, isDomainError } from '../core/errors.ts';
import { resolveTier } from '../core/policy/tier.ts';
import { DirectoryConfigError } from '../adapters/directory/ldap/create-directory.ts';
import { canonicalIdentifier, isEmailAddress } from '../core/account/identifier.ts';
import { openStore, migrateStore } from '../adapters/store/open-store.ts';
import { readConfig, UsageError } from './context.ts';
import { registerBreakGlassCommands } from './breakglass.ts';
import { registerTapCommands } from './tap-commands.ts';
import { registerPrivilegedCommands } from './privileged-commands.ts';
import { ALERT_STATUSES, type AlertStatus } from '../core/monitoring/alerts/alert.ts';
import { ALERT_SEVERITIES, type AlertSeverity } from '../core/monitoring/finding.ts';
import { resumeStoppedSink } from '../server/workers/audit-exporter.ts';
import { parseReportPeriod } from '../core/reports/period.ts';
import { usageReportCsv } from '../server/http/routes/reports.ts';
import { registerPolicyGovernanceCommands } from './policy-commands.ts';

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);
const CLI_ACTOR = { kind: 'cli' as const, id: process.env['USER'] ?? null };

async function withLatchkey<T>(work: (latchkey: Latchkey) => Promise<T>): Promise<T> {
  const latchkey = await composeLatchkey(await readConfig(), { notice: err });
  try {
    return await work(latchkey);
  } finally {
    await latchkey.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** What a command found, beyond throwing: set to 1 when it ran but found a failure (a bad row, a broken chain). */
export interface CliOutcome {
  exitCode: 0 | 1;
}

/**
 * Why an account's username or email would be refused, or null: the same checks the directory
 * applies, made before anything is opened so that a mistyped argument is a usage error (exit 2)
 * rather than a failure found (exit 1), which is what a duplicate is.
 */
function accountInputProblem(input: { username: string; email?: string | undefined }): string | null {
  if (canonicalUsername(input.username) === null) return `username '${input.username.slice(0, 64)}' is not valid: use letters, digits, '.', '-' or '_' in one script, without spaces or '@'`;
  if (input.email !== undefined) {
    const email = canonicalIdentifier(input.email);
    if (!email.ok || !isEmailAddress(email.value)) return `email '${input.email.slice(0, 64)}' is not a single valid address`;
  }
  return null;
}

/** The `latchkey` command: a thin shell over the same services the HTTP API uses. */
export function buildCli(outcome: CliOutcome = { exitCode: 0 }): Command {
  const program = new Command('latchkey').description('Self-service password reset and account recovery server.').exitOverride().showHelpAfterError();

  program
    .command('serve')
    .description('Run the server (HTTP API and outbox worker).')
    .action(async () => {
      const latchkey = await composeLatchkey(await readConfig(), { notice: err });
      const app = await buildHttpApp(latchkey);
      const address = await app.listen({ host: latchkey.config.host, port: latchkey.config.port });
      latchkey.worker.start();
      latchkey.sweeper.start();
      latchkey.auditExporter.start();
      latchkey.evidence.checkpointer.start();
      latchkey.evidence.retention?.start((error) => err(`audit retention: ${(error as Error).message}`));
      latchkey.alertWorker.start();
      latchkey.detectors.worker.start();
      latchkey.policyRefresher.start();
      latchkey.breakGlass.watch.start();
      // SIGHUP re-reads changed deny-list and GeoIP files now rather than at the next interval.
      const refreshDetectorFiles = (): void => void latchkey.detectors.worker.refresh();
      process.on('SIGHUP', refreshDetectorFiles);
      const channels = `email via ${latchkey.channels.email.name}, sms via ${latchkey.channels.sms.name}`;
      err(`Latchkey listening on ${address} (${latchkey.store.engine}; ${channels}; policy ${latchkey.policySource})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await app.close();
      await latchkey.close();
    });

  program
    .command('migrate')
    .description('Apply database migrations and exit.')
    .action(async () => {
      const config = await readConfig();
      const store = await openStore({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, migrate: false });
      try {
        const { applied } = await migrateStore(store);
        out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await store.close();
      }
    });

  program
    .command('directory')
    .description('The directory Latchkey fronts (directory.kind in the configuration).')
    .command('check')
    .description('Check that the directory answers and, given an identifier, how Latchkey sees that account (no secrets shown).')
    .argument('[identifier]', 'a username or work email to look up')
    .action(async (identifier: string | undefined) => {
      await withLatchkey(async (latchkey) => {
        const { directory } = latchkey.deps;
        await directory.ping().catch(() => {
          throw new DomainError('directory.unavailable', `the ${directory.name} directory does not answer; check directory.url, TLS (startTls, caFile), bindDn and bindPassword`);
        });
        out(`directory ${directory.name}: reachable, bound as the service account`);
        if (identifier === undefined) return;
        const canonical = canonicalIdentifier(identifier);
        const lookup = canonical.ok ? await directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
        if (lookup.kind !== 'one') {
          out(lookup.kind === 'ambiguous' ? `${identifier}: names more than one account (recovery treats it as unknown)` : `${identifier}: no account`);
          outcome.exitCode = 1;
          return;
        }
        const { account } = lookup;
        const lock = await directory.readLockState(account.id);
        const tier = resolveTier(latchkey.deps.policy(), account.groups, account.directoryPrivileged);
        out(`${identifier}: ${account.username} (${account.id}), tier ${tier}${account.directoryPrivileged ? ' (privileged by the directory)' : ''}, ${account.groups.length} group(s), ${account.enabled ? 'enabled' : 'disabled'}, ${lock.locked ? 'locked' : 'not locked'}`);
      });
    });

  const users = program.command('users').description('Accounts of the built-in directory.');
  users
    .command('add')
    .description('Create an account.')
    .argument('<username>')
    .option('--display-name <name>')
    .option('--email <address>', 'work email (address of record)')
    .option('--department <name>')
    .option('--group <name...>', 'directory groups (repeatable)')
    .option('--password-stdin', 'read the initial password from standard input')
    .action(async (username: string, options: { displayName?: string; email?: string; department?: string; group?: string[]; passwordStdin?: boolean }) => {
      const password = options.passwordStdin ? await readStdin() : undefined;
      const input = newAccountSchema.safeParse({ username, displayName: options.displayName, email: options.email, department: options.department, groups: options.group, password });
      if (!input.success) throw new UsageError(input.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
      const problem = accountInputProblem(input.data);
      if (problem) throw new UsageError(problem);
      await withLatchkey(async (latchkey) => out(await latchkey.accounts.create(input.data, CLI_ACTOR)));
    });
  users
    .command('import')
    .description('Create accounts from a CSV (header row) or JSON (array) file; reports every bad row.')
    .argument('<file>')
    .action(async (file: string) => {
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`cannot read ${file}: ${error.message}`);
      });
      // Each row with where it is: `item N` (0-based) in a JSON array, `row N` (the file's line number) in a CSV.
      let rows: { where: string; row: unknown }[];
      try {
        if (file.endsWith('.json')) {
          const parsed: unknown = JSON.parse(text);
          if (!Array.isArray(parsed)) throw new Error('the JSON file must hold an array of accounts');
          rows = parsed.map((row: unknown, index) => ({ where: `item ${index}`, row }));
        } else {
          const records = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, info: true }) as { record: Record<string, string>; info: { lines: number } }[];
          rows = records.map(({ record, info }) => ({
            // Line numbers, not record counts: blank lines and quoted line breaks do not shift them.
            where: `row ${info.lines}`,
            row: { ...record, ...(typeof record['groups'] === 'string' ? { groups: record['groups'].split(/[;|]/).map((group) => group.trim()).filter(Boolean) } : {}) },
          }));
        }
      } catch (error) {
        throw new UsageError(`${file}: ${(error as Error).message}`);
      }
      const failures: string[] = [];
      let created = 0;
      await withLatchkey(async (latchkey) => {
        const bar = new SingleBar({ format: 'importing [{bar}] {value}/{total} rows', stream: process.stderr, noTTYOutput: false }, Presets.shades_classic);
        bar.start(rows.length, 0);
        for (const { where, row } of rows) {
          try {
            // A JSON item that is not an object (a string, a number, null) is a bad row, not a crash.
            if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error('expected an object with a username');
            const cleaned = Object.fromEntries(Object.entries(row).filter(([, value]) => value !== '' && value !== null && value !== undefined));
            const input = newAccountSchema.safeParse(cleaned);
            if (!input.success) throw new Error(input.error.issues.map((issue) => `${issue.path.join('.') || 'row'}: ${/received undefined$/.test(issue.message) ? 'is required' : issue.message}`).join('; '));
            await latchkey.accounts.create(input.data, CLI_ACTOR);
            created += 1;
          } catch (error) {
            failures.push(`${file}:${where}: ${isDomainError(error) ? error.detail : (error as Error).message}`);
          }
          bar.increment();
        }
        bar.stop();
      });
      for (const failure of failures) err(failure);
      out(`created ${created} of ${rows.length} accounts; ${failures.length} failed`);
      if (failures.length > 0) outcome.exitCode = 1;
    });
  users
    .command('list')
    .description('List accounts.')
    .option('--query <text>')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (options: { query?: string; limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be a whole number from 1 to 10000');
      await withLatchkey(async (latchkey) => {
        for (const account of await latchkey.store.builtinAccounts.list({ limit, ...(options.query ? { query: options.query } : {}) })) {
          out([account.username, account.id, account.workEmail ?? '-', account.department ?? '-', account.groups.join(',') || '-', account.enabled ? 'enabled' : 'disabled', account.lockedAt ? 'locked' : 'unlocked'].join('\t'));
        }
      });
    });

  const policy = program.command('policy').description('The recovery policy.');
  policy
    .command('check')
    .description('Validate a policy file; errors are FILE:LINE:COL message.')
    .argument('<file>')
    .action(async (file: string) => {
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`cannot read ${file}: ${error.message}`);
      });
      const parsed = parsePolicy(text, file);
      if (parsed.ok) {
        out(`${file}: valid`);
        return;
      }
      for (const problem of parsed.errors) out(formatPolicyError(problem));
      outcome.exitCode = 1;
    });
  policy
    .command('show')
    .description('Print the configured policy file (after defaults); the published version in force: policy history --version N --text.')
    .action(async () => {
      const config = await readConfig();
      const { policy: current, source } = await loadPolicyFile(config.policyFile);
      out(`# policy in force, from ${source}`);
      out(toYaml(current).trimEnd());
    });
  registerPolicyGovernanceCommands(policy, { outcome, out, err, withLatchkey, actor: CLI_ACTOR });

  const audit = program.command('audit').description('The audit trail.');
  audit
    .command('verify')
    .description('Check the audit log: the hash chain, and with --public-key every signed checkpoint; exit 1 naming the first bad event.')
    .option('--public-key <file...>', 'PEM public key(s) from `latchkey audit public-key` (several files, or several keys in one, after a rotation)')
    .option('--file <export.jsonl>', 'verify an exported file instead of the database (needs --public-key; no configuration or database is opened)')
    .option('--allow-unsigned-tail', 'with --file: report events after the last checkpoint instead of failing (a live sink file)')
    .action(async (options: { publicKey?: string[]; file?: string; allowUnsignedTail?: boolean }) => {
      if (options.file !== undefined && options.publicKey === undefined) throw new UsageError('--file needs --public-key: an export proves nothing without the signatures');
      if (options.allowUnsignedTail && options.file === undefined) throw new UsageError('--allow-unsigned-tail applies to --file only');
      const verifier = options.publicKey === undefined ? null : await readCheckpointVerifier(options.publicKey);
      const report = (verdict: LogVerdict, requireSignedHead: boolean): void => {
        const { lines, failed } = describeLogVerdict(verdict, { signaturesChecked: verifier !== null, requireSignedHead });
        for (const line of lines) out(line);
        if (failed) outcome.exitCode = 1;
      };
      if (options.file !== undefined) {
        const file = options.file;
        const verdict = await verifyExportFile(file, verifier).catch((error: unknown) => {
          if (error instanceof ExportFormatError || (error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot verify ${file}: ${(error as Error).message}`);
          throw error;
        });
        report(verdict, options.allowUnsignedTail !== true);
        return;
      }
      await withLatchkey(async (latchkey) => report(await verifyStoredLog(latchkey.store, verifier), false));
    });
  audit
    .command('public-key')
    .description('Print the public key (PEM) that verifies this instance’s audit checkpoints; give it to auditors.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        err(`key id ${latchkey.evidence.signingKey.keyId}`);
        process.stdout.write(latchkey.evidence.signingKey.publicKeyPem);
      });
    });
  audit
    .command('purge')
    .description('Delete events older than audit.retention.days that every export sink has and the detectors have judged, up to a signed checkpoint (the retention worker does this on its own).')
    .option('--dry-run', 'say what would be purged, change nothing')
    .action(async (options: { dryRun?: boolean }) => {
      await withLatchkey(async (latchkey) => {
        const retention = latchkey.evidence.retention;
        if (retention === null) throw new UsageError('retention is not configured: set audit.retention.days (LATCHKEY_AUDIT__RETENTION__DAYS)');
        // A purge waits for the detectors: let them judge what they have not seen before asking.
        if (!options.dryRun) await latchkey.detectors.runner.run();
        const { batches, last } = options.dryRun ? { batches: [], last: await retention.purge({ dryRun: true }) } : await retention.purgeAll({ actor: CLI_ACTOR });
        for (const result of [...batches, ...(options.dryRun ? [last] : [])]) {
          if (!('fromSeq' in result)) continue;
          const range = `#${result.fromSeq}-#${result.throughSeq} (${result.count} events, older than ${result.cutoff.toISOString()}${result.limitedBy === 'age' ? '' : `, held back by ${result.limitedBy}`})`;
          out(result.purged ? `purged ${range}; the kept log begins after the checkpoint of #${result.anchor?.seq ?? result.throughSeq}` : `would purge ${range}`);
        }
        if (batches.length === 0 && !('fromSeq' in last)) out(`nothing to purge: ${last.reason}`);
      });
    });
  audit
    .command('export')
    .description('Write audit events as JSON Lines to standard output or a file.')
    .addOption(new Option('--format <format>').choices(['jsonl']).default('jsonl'))
    .option('--since <iso-time>', 'only events at or after this time')
    .option('--output <file>')
    .option('--evidence', 'sign the head first and, with --since, begin at the checkpoint before it, so the file verifies on its own (latchkey audit verify --file)')
    .action(async (options: { format: string; since?: string; output?: string; evidence?: boolean }) => {
      const since = options.since ? new Date(options.since) : null;
      if (since && Number.isNaN(since.getTime())) throw new UsageError(`--since '${options.since}' is not a date and time (use ISO 8601, e.g. 2026-01-31T00:00:00Z)`);
      await withLatchkey(async (latchkey) => {
        const signedHead = options.evidence ? await latchkey.evidence.checkpointer.signHead('export') : null;
        const anchorSeq = options.evidence && since ? await evidenceStartSeq(latchkey.store, since) : null;
        const sink = options.output ? createWriteStream(options.output) : process.stdout;
        let count = 0;
        for await (const record of latchkey.store.audit.iterate(anchorSeq ?? 0)) {
          if (signedHead !== null && record.seq > signedHead.seq + 1) break;
          if (since && anchorSeq === null && record.at < since) continue;
          sink.write(`${JSON.stringify({ ...record, at: record.at.toISOString() })}\n`);
          count += 1;
        }
        if (options.output) await new Promise<void>((resolve) => (sink as NodeJS.WritableStream).end(resolve));
        await latchkey.store.audit.append([{ type: 'audit.exported', at: latchkey.deps.clock.now(), actor: CLI_ACTOR, subject: null, outcome: 'success', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { count, since: since?.toISOString() ?? null } }]);
        err(`exported ${count} events`);
      });
    });

  const exportSinks = audit.command('sinks').description('The configured audit export sinks (auditExport.sinks).');
  exportSinks
    .command('list')
    .description('Each sink: status, last event delivered, events behind, last error.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        for (const sink of await latchkey.auditExporter.lag()) {
          out(`${sink.sink}\t${sink.kind}\t${sink.status}\tdelivered #${sink.deliveredSeq}\t${sink.lag} behind${sink.lastError ? `\t${sink.lastError}` : ''}`);
        }
      });
    });
  exportSinks
    .command('resume')
    .description('Put a sink that refused a batch (status stopped) back to work, after fixing the receiver.')
    .argument('<name>')
    .action(async (name: string) => {
      await withLatchkey(async (latchkey) => {
        const sink = latchkey.auditExporter.sinks.find((candidate) => candidate.name === name);
        if (!sink) throw new UsageError(`no audit export sink named '${name}' is configured`);
        if (!(await resumeStoppedSink(latchkey.store, latchkey.deps.clock, sink, CLI_ACTOR))) {
          out(`${name} is not stopped; nothing to resume`);
          outcome.exitCode = 1;
          return;
        }
        out(`${name} resumed; the running servers retry it at their next poll`);
      });
    });

  program
    .command('outbox')
    .description('The dev outbox.')
    .command('list')
    .description('Messages waiting in or delivered to the dev outbox, newest last, with their text.')
    .option('--limit <n>', 'at most this many', '20')
    .action(async (options: { limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be a whole number from 1 to 1000');
      await withLatchkey(async (latchkey) => {
        const messages = await latchkey.adminQueries.outbox({ principal: cliPrincipal(CLI_ACTOR.id ?? 'cli'), ip: 'local', userAgent: null }, { limit, newest: true });
        if (messages.length === 0) out('the outbox is empty');
        for (const message of messages) {
          out(`--- ${message.createdAt} ${message.channel} to ${message.to ?? message.recipient} [${message.status}] ${message.purpose}`);
          if (message.subject) out(`Subject: ${message.subject}`);
          out(message.text ?? '(text not kept: delivered by a real channel)');
        }
      });
    });

  program
    .command('report')
    .description('Reports over the audit log, the directory and the registered methods.')
    .command('usage')
    .description('Usage and insights over [--from, --to): resets and unlocks per day, success rates, failures, coverage, method strength, stale methods, helpdesk estimate.')
    .requiredOption('--from <date>', 'start, inclusive: YYYY-MM-DD (midnight in --time-zone) or ISO 8601 with offset')
    .requiredOption('--to <date>', 'end, exclusive; at most 366 days after --from')
    .option('--time-zone <zone>', 'IANA time zone the days are counted in', 'UTC')
    .addOption(new Option('--format <format>').choices(['json', 'csv']).default('json'))
    .option('--stale-days <days>', 'days without use after which an active method is stale (default from configuration)')
    .option('--out <file>', 'write the report to this file instead of standard output')
    .action(async (options: { from: string; to: string; timeZone: string; format: 'json' | 'csv'; staleDays?: string; out?: string }) => {
      const period = parseReportPeriod(options);
      if (!period.ok) throw new UsageError(period.problems.map((problem) => `--${problem.replace(/^timeZone/, 'time-zone')}`).join('; '));
      const staleAfterDays = options.staleDays === undefined ? undefined : Number(options.staleDays);
      if (staleAfterDays !== undefined && (!Number.isInteger(staleAfterDays) || staleAfterDays < 1 || staleAfterDays > 3650)) throw new UsageError('--stale-days must be a whole number from 1 to 3650');
      await withLatchkey(async (latchkey) => {
        const report = await latchkey.reports.usage(CLI_ACTOR, period.period, { format: options.format, ...(staleAfterDays === undefined ? {} : { staleAfterDays }) });
        const text = options.format === 'csv' ? usageReportCsv(report) : `${JSON.stringify(report, null, 2)}\n`;
        if (options.out) {
          await writeFile(options.out, text);
          err(`usage report ${report.period.from} – ${report.period.to} written to ${options.out}`);
        } else process.stdout.write(text);
      });
    });

  program
    .command('admin')
    .description('Admin-console identity (docs/admin.md).')
    .command('roles')
    .description('The role mapping of policy adminRoles, and which directory accounts hold each role now.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        const holders = await adminRoleHolders(latchkey.deps.directory, latchkey.deps.policy().adminRoles);
        for (const { role, groups, accounts } of holders) {
          out(`${role}: groups ${groups.length > 0 ? groups.join(', ') : '(none)'}; permissions ${ROLE_PERMISSIONS[role].join(' ')}`);
          for (const account of accounts) out(`  ${account.username} (${account.id})${account.enabled ? '' : ' [disabled]'}`);
          if (accounts.length === 0) out('  (no account holds this role)');
        }
      });
    });

  const tokens = program.command('tokens').description('Admin API tokens.');
  tokens
    .command('create')
    .description('Create a token; it is printed once.')
    .requiredOption('--name <name>')
    // SECURITY: a token made without naming scopes can read, never change: write scopes are asked for by name.
    .option('--scope <scope...>', `scopes: ${ADMIN_SCOPES.join(', ')} (default: every :read scope)`, ADMIN_SCOPES.filter((scope) => scope.endsWith(':read')))
    .option('--ttl-days <days>')
    .action(async (options: { name: string; scope: string[]; ttlDays?: string }) => {
      const bad = options.scope.filter((scope) => !isAdminScope(scope));
      if (bad.length) throw new UsageError(`unknown scope ${bad.join(', ')}; choose from ${ADMIN_SCOPES.join(', ')}`);
      const ttlDays = options.ttlDays === undefined ? undefined : Number(options.ttlDays);
      if (ttlDays !== undefined && (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > 3650)) throw new UsageError('--ttl-days must be a whole number from 1 to 3650');
      await withLatchkey(async (latchkey) => {
        const { token, record } = await latchkey.adminTokens.create({ name: options.name, scopes: options.scope.filter(isAdminScope), ...(ttlDays ? { ttlDays } : {}) }, CLI_ACTOR);
        err(`token ${record.id} (${record.scopes.join(' ')}); it will not be shown again:`);
        out(token);
      });
    });
  tokens
    .command('list')
    .description('List tokens (never their values).')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        for (const token of await latchkey.store.adminTokens.list()) {
          out([token.id, token.name, token.scopes.join(','), token.revokedAt ? 'revoked' : token.expiresAt && token.expiresAt < new Date() ? 'expired' : 'active', token.lastUsedAt?.toISOString() ?? 'never used'].join('\t'));
        }
      });
    });
  tokens
    .command('revoke')
    .argument('<id>')
    .description('Revoke a token.')
    .action(async (id: string) => {
      await withLatchkey(async (latchkey) => {
        if (await latchkey.adminTokens.revoke(id, CLI_ACTOR)) out(`revoked ${id}`);
        else {
          out(`no live token ${id}`);
          outcome.exitCode = 1;
        }
      });
    });

  const alerts = program.command('alerts').description('Alerts raised by the detectors.');
  const alertActor = { kind: 'cli' as const, id: CLI_ACTOR.id, ip: null, userAgent: null };
  alerts
    .command('list')
    .description('List alerts, newest first: id, severity, status, occurrences, last seen, summary.')
    .addOption(new Option('--status <status>').choices([...ALERT_STATUSES]))
    .addOption(new Option('--severity <severity>').choices([...ALERT_SEVERITIES]))
    .option('--limit <n>', 'at most this many (1 to 500)', '50')
    .action(async (options: { status?: AlertStatus; severity?: AlertSeverity; limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
      await withLatchkey(async (latchkey) => {
        const listed = await latchkey.alerts.list(alertActor, { limit, ...(options.status ? { status: options.status } : {}), ...(options.severity ? { severity: options.severity } : {}) }, false);
        for (const alert of listed) out([alert.id, alert.severity, alert.status, String(alert.occurrences), alert.lastSeenAt, alert.summary].join('\t'));
      });
    });
  for (const [command, verb] of [
    ['ack', 'acknowledge'],
    ['resolve', 'resolve'],
  ] as const) {
    alerts
      .command(command)
      .description(`${verb === 'acknowledge' ? 'Acknowledge' : 'Resolve'} an alert; the reason is recorded and audited.`)
      .argument('<id>')
      .requiredOption('--reason <text>', 'why, in a few words')
      .action(async (id: string, options: { reason: string }) => {
        if (options.reason.trim() === '') throw new UsageError('--reason must say why');
        await withLatchkey(async (latchkey) => {
          const alert = verb === 'acknowledge' ? await latchkey.alerts.acknowledge(id, options.reason, alertActor) : await latchkey.alerts.resolve(id, options.reason, alertActor);
          out(`${alert.id} ${alert.status}`);
        });
      });
  }
  registerBreakGlassCommands(program, { withLatchkey, out, err, readStdin, outcome, actorId: CLI_ACTOR.id });
  registerTapCommands(program, { withLatchkey, out, err, outcome, actorId: CLI_ACTOR.id });
  registerPrivilegedCommands(program, { withLatchkey, out, actorId: CLI_ACTOR.id });
  return program;
}

/** Runs the CLI and returns the exit code: 0 ok, 1 failure found, 2 usage error. */
export async function runCli(argv: readonly string[]): Promise<number> {
  // The outcome is this run's own: process.exitCode is global and would leak from one run into the next.
  const outcome: CliOutcome = { exitCode: 0 };
  const program = buildCli(outcome);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof PolicyLoadError || error instanceof SigningKeyError || error instanceof DirectoryConfigError) {
      err(`latchkey: ${error.message}`);
      return 2;
    }
    if (isDomainError(error)) {
      err(`latchkey: ${error.detail}`);
      return 1;
    }
    err(`latchkey: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
