import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { cliPrincipal } from '../core/admin/principal.ts';
import { DAY_ONE_DELIVERIES, type DayOneDelivery } from '../core/dayone/service.ts';
import { isDomainError } from '../core/errors.ts';
import type { Latchkey } from '../server/compose.ts';
import { parseNewHireCsv } from '../server/http/routes/helpdesk.ts';
import { UsageError } from './context.ts';

export interface TapCliContext {
  readonly withLatchkey: <T>(work: (latchkey: Latchkey) => Promise<T>) => Promise<T>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly outcome: { exitCode: 0 | 1 };
  readonly actorId: string | null;
}

/**
 * `latchkey tap issue --csv new-hires.csv`: day-one passes in bulk. All rows or none: every bad row
 * is reported as `FILE:line N: field: problem` (exit 1) and nothing is issued. The passes go by mail
 * only (split between the manager and the personal address by default); the command prints who got
 * what, never a pass.
 */
export function registerTapCommands(program: Command, context: TapCliContext): void {
  const tap = program.command('tap').description('Temporary Access Passes.');
  tap
    .command('issue')
    .description('Issue day-one passes for the new hires in a CSV file (username, start_date, manager_email, personal_email).')
    .requiredOption('--csv <file>', 'the new-hire file')
    .addOption(new Option('--delivery <how>', 'split: half to the manager, half to the personal address; or whole to one of them').choices(DAY_ONE_DELIVERIES).default('split'))
    .action(async (options: { csv: string; delivery: DayOneDelivery }) => {
      let text: string;
      try {
        text = await readFile(options.csv, 'utf8');
      } catch (error) {
        throw new UsageError(`${options.csv}: ${(error as Error).message}`);
      }
      await context.withLatchkey(async (latchkey) => {
        try {
          const rows = parseNewHireCsv(text);
          const result = await latchkey.dayOne.issue(cliPrincipal(context.actorId ?? 'cli'), rows, { delivery: options.delivery }, { ip: 'local', userAgent: null });
          for (const item of result.issued) context.out(`${item.username}\tvalid ${item.validFrom} to ${item.expiresAt}\tsent to ${item.deliveredTo.join(' and ')}`);
          context.err(`issued ${result.issued.length} day-one passes (batch ${result.batchId})`);
        } catch (error) {
          if (!isDomainError(error) || error.code !== 'dayone.invalid_rows') throw error;
          const problems = Array.isArray(error.extra['errors']) ? (error.extra['errors'] as unknown[]).map(String) : [error.detail];
          for (const problem of problems) context.err(`${options.csv}:${problem}`);
          context.err('nothing was issued');
          context.outcome.exitCode = 1;
        }
      });
    });
}
