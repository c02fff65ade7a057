import { describe, expect, it } from 'vitest';
import { POSTGRES_URL } from '../support/harness.ts';
import { startReceiver } from '../channel/http-receiver.ts';
import { allRecords, appendEvents, exportConfig, exporterFor, openTestStore, until } from './support.ts';

describe.skipIf(POSTGRES_URL === null)('two Latchkey instances on one PostgreSQL database', () => {
  it('export a sink from one instance at a time: every event delivered once, in order, and the other takes over on stop', async () => {
    const receiver = await startReceiver(() => ({ status: 200 }));
    const db = await openTestStore('postgres');
    const sibling = await db.openSibling();
    const config = exportConfig([{ name: 'siem', type: 'http', url: receiver.url }], { batchSize: 7, pollIntervalMs: 10 });
    const one = exporterFor(db.store, config, { owner: 'instance-1' });
    const two = exporterFor(sibling, config, { owner: 'instance-2' });
    try {
      one.start();
      two.start();
      for (let round = 0; round < 8; round += 1) {
        await appendEvents(round % 2 === 0 ? db.store : sibling, 9, round * 9);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 72, 10_000, 'both exporters to settle');
      const holder = (await db.store.auditExport.get('siem'))?.leaseOwner;
      expect(['instance-1', 'instance-2']).toContain(holder);

      // The holder stops cleanly and lets the lease go; the other instance carries on from the cursor.
      await (holder === 'instance-1' ? one : two).stop();
      await appendEvents(sibling, 20, 72);
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 92, 10_000, 'the other exporter to take over');
      expect((await db.store.auditExport.get('siem'))?.leaseOwner).toBe(holder === 'instance-1' ? 'instance-2' : 'instance-1');

      // Both instances polled all along; had both delivered, batches (and so event ids) would repeat.
      const delivered = receiver.requests.flatMap((request) => JSON.parse(request.body.toString('utf8')) as { idempotencyKey: string; seq: number }[]);
      const records = await allRecords(db.store);
      expect(delivered.map((item) => item.seq)).toEqual(records.map((record) => record.seq));
      expect(new Set(delivered.map((item) => item.idempotencyKey)).size).toBe(records.length);
    } finally {
      await one.stop();
      await two.stop();
      await receiver.stop();
      await db.close();
    }
  });
});
