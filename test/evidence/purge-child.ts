import { readConfig } from '../../src/cli/context.ts';
import { composeLatchkey } from '../../src/server/compose.ts';
import { AuditRetention } from '../../src/server/workers/audit-retention.ts';
import { failingInside } from './support.ts';

/*
 * Run by purge.crash.test.ts as its own process: purges with the configuration from the
 * environment, says PURGING once the events are deleted and the checkpoint written (only the
 * `audit.purged` event is left to append), then hangs until the parent kills it with SIGKILL.
 */
const latchkey = await composeLatchkey(await readConfig(), { notice: () => undefined });
const hanging = failingInside(latchkey.store, (tx) => ({
  ...tx,
  audit: {
    ...tx.audit,
    append: async (events) => {
      if (events.some((event) => event.type === 'audit.purged')) {
        process.stdout.write('PURGING\n');
        await new Promise(() => undefined);
      }
      return tx.audit.append(events);
    },
  },
}));
const settings = latchkey.config.audit.retention;
if (settings === undefined) throw new Error('audit.retention is not configured');
await new AuditRetention({ store: hanging, signer: latchkey.evidence.signingKey.signer, clock: latchkey.deps.clock, instance: 'doomed', settings, sinkNames: [], waitForDetectors: false }).purge();
