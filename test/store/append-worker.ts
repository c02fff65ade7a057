/*
 * Run as a separate process by sqlite.store.test.ts: appends audit events to a shared SQLite file
 * in many small transactions, to show that processes sharing one file never fork the chain.
 * Usage: append-worker.ts <file> <transactions> <label>
 */
import { createSqliteStore } from '../../src/adapters/store/sqlite.ts';

const [filename, count, label] = process.argv.slice(2);
if (filename === undefined || count === undefined || label === undefined) throw new Error('usage: append-worker.ts <file> <transactions> <label>');

const store = await createSqliteStore({ filename });
try {
  for (let index = 0; index < Number(count); index += 1) {
    await store.transaction(async (tx) => {
      const event = {
        type: 'recovery.started',
        at: new Date(),
        actor: { kind: 'system', id: label },
        subject: null,
        outcome: 'info',
        reason: null,
        ip: null,
        userAgent: null,
        department: null,
        tier: null,
        flowId: null,
        data: { label, index },
      } as const;
      await tx.audit.append([event, event]);
    });
  }
} finally {
  await store.close();
}
