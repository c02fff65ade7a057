import { Command, CommanderError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { parse as parseCsv } from 'csv-parse/sync';
import { SingleBar, Presets } from 'cli-progress';
import { stringify as toYaml } from 'yaml';
import { composeLatchkey, loadPolicyFile, PolicyLoadError, type Latchkey } from '../server/compose.ts';
import { buildHttpApp } from '../server/http/app.ts';
import { ConfigError } from '../server/config/config.ts';
import { formatPolicyError, parsePolicy } from '../core/policy/load.ts';
import { canonicalUsername, newAccountSchema } from '../core/account/builtin-admin.ts';
import { verifyChain } from '../core/audit/chain.ts';
import { ADMIN_SCOPES } from '../core/ports/store.ts';
import { isAdminScope } from '../server/admin-tokens.ts';
import { isDomainError } from '../core/errors.ts';
import { canonicalIdentifier, isEmailAddress } from '../core/account/identifier.ts';
import { openStore, migrateStore } from '../adapters/store/open-store.ts';
import { readConfig, UsageError } from './context.ts';

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
    .description('Print the policy in force (after defaults).')
    .action(async () => {
      const config = await readConfig();
      const { policy: current, source } = await loadPolicyFile(config.policyFile);
      out(`# policy in force, from ${source}`);
      out(toYaml(current).trimEnd());
    });

  const audit = program.command('audit').description('The audit trail.');
  audit
    .command('verify')
    .description('Check the hash chain of the whole audit log; exit 1 on any edit, deletion or reordering.')
    .action(async () => {
      await withLatchkey(async (latchkey) => {
        // SECURITY: the chain alone cannot show events cut from its end, so it must also reach the
        // head the store recorded (read first: a server may append while we verify) (LOG-5).
        const head = await latchkey.store.audit.head();
        let hashAtHead: string | null = null;
        const records = latchkey.store.audit.iterate();
        const verdict = await verifyChain(
          (async function* () {
            for await (const record of records) {
              if (record.seq === head.seq) hashAtHead = record.hash;
              yield record;
            }
          })(),
        );
        if (verdict.ok && verdict.count < head.seq) {
          out(`audit log BROKEN at event #${verdict.count + 1}: the log ends at #${verdict.count} but its recorded head is #${head.seq} (events were deleted from the end)`);
          outcome.exitCode = 1;
          return;
        }
        if (verdict.ok && head.seq > 0 && hashAtHead !== head.hash) {
          out(`audit log BROKEN at event #${head.seq}: it does not match the recorded head (the log was rewritten)`);
          outcome.exitCode = 1;
          return;
        }
        if (verdict.ok) {
          out(`audit log intact: ${verdict.count} events, head ${verdict.headHash}`);
          return;
        }
        out(`audit log BROKEN at event #${verdict.firstBadSeq}: ${verdict.problem} (${verdict.count} events verified before it)`);
        outcome.exitCode = 1;
      });
    });
  audit
    .command('export')
    .description('Write audit events as JSON Lines to standard output or a file.')
    .addOption(new Option('--format <format>').choices(['jsonl']).default('jsonl'))
    .option('--since <iso-time>', 'only events at or after this time')
    .option('--output <file>')
    .action(async (options: { format: string; since?: string; output?: string }) => {
      const since = options.since ? new Date(options.since) : null;
      if (since && Number.isNaN(since.getTime())) throw new UsageError(`--since '${options.since}' is not a date and time (use ISO 8601, e.g. 2026-01-31T00:00:00Z)`);
      await withLatchkey(async (latchkey) => {
        const sink = options.output ? createWriteStream(options.output) : process.stdout;
        let count = 0;
        for await (const record of latchkey.store.audit.iterate()) {
          if (since && record.at < since) continue;
          sink.write(`${JSON.stringify({ ...record, at: record.at.toISOString() })}\n`);
          count += 1;
        }
        if (options.output) await new Promise<void>((resolve) => (sink as NodeJS.WritableStream).end(resolve));
        await latchkey.store.audit.append([{ type: 'audit.exported', at: latchkey.deps.clock.now(), actor: CLI_ACTOR, subject: null, outcome: 'success', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { count, since: since?.toISOString() ?? null } }]);
        err(`exported ${count} events`);
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
        const messages = await latchkey.adminQueries.outbox({ tokenId: 'cli', ip: 'local', userAgent: null }, { limit, newest: true });
        if (messages.length === 0) out('the outbox is empty');
        for (const message of messages) {
          out(`--- ${message.createdAt} ${message.channel} to ${message.to ?? message.recipient} [${message.status}] ${message.purpose}`);
          if (message.subject) out(`Subject: ${message.subject}`);
          out(message.text ?? '(text not kept: delivered by a real channel)');
        }
      });
    });

  const tokens = program.command('tokens').description('Admin API tokens.');
  tokens
    .command('create')
    .description('Create a token; it is printed once.')
    .requiredOption('--name <name>')
    .option('--scope <scope...>', `scopes: ${ADMIN_SCOPES.join(', ')}`, [...ADMIN_SCOPES])
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
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof PolicyLoadError) {
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
