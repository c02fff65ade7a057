import { Option, type Command } from 'commander';
import { cliPrincipal } from '../core/admin/principal.ts';
import type { Latchkey } from '../server/compose.ts';
import { UsageError } from './context.ts';

export interface PrivilegedCliContext {
  readonly withLatchkey: <T>(work: (latchkey: Latchkey) => Promise<T>) => Promise<T>;
  readonly out: (line: string) => void;
  readonly actorId: string | null;
}

const LOCAL = { ip: 'local', userAgent: null };

/**
 * `latchkey privileged holds [--status S]` and `latchkey privileged confirm HOLD_ID --reason R`:
 * the held privileged recoveries of policy `privileged.holdForConfirmation`, as the admin API
 * serves them. Confirming from the command line is audited with the CLI user as the actor.
 */
export function registerPrivilegedCommands(program: Command, context: PrivilegedCliContext): void {
  const privileged = program.command('privileged').description('Privileged recoveries held for a second admin (docs/privileged-accounts.md).');
  const principal = cliPrincipal(context.actorId ?? 'cli');
  privileged
    .command('holds')
    .description('List holds, newest first: id, status, purpose, account, deadline.')
    .addOption(new Option('--status <status>', 'only holds with this status').choices(['held', 'confirmed', 'unconfirmed']))
    .option('--limit <n>', 'at most this many (1 to 500)', '100')
    .action(async (options: { status?: 'held' | 'confirmed' | 'unconfirmed'; limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('--limit must be a whole number from 1 to 500');
      await context.withLatchkey(async (latchkey) => {
        const holds = await latchkey.privileged.list(principal, { limit, ...(options.status ? { status: options.status } : {}) }, LOCAL);
        for (const hold of holds) context.out([hold.id, hold.status, hold.purpose, hold.accountId, hold.deadlineAt].join('\t'));
      });
    });
  privileged
    .command('confirm')
    .description('Confirm a held privileged recovery as a second admin; the account may self-serve again.')
    .argument('<hold-id>')
    .requiredOption('--reason <text>', 'why the recovery is genuine (e.g. how the owner was reached)')
    .action(async (holdId: string, options: { reason: string }) => {
      if (options.reason.trim() === '') throw new UsageError('--reason must say why');
      await context.withLatchkey(async (latchkey) => {
        const hold = await latchkey.privileged.confirm(principal, holdId, options.reason.trim().slice(0, 500), LOCAL);
        context.out(`${hold.id} ${hold.status}`);
      });
    });
}
