import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/core/ports/store.ts';
import { ENGINES } from '../support/harness.ts';
import { startRsyslog, type Rsyslog } from '../support/rsyslog.ts';
import { allRecords, appendEvents, exportConfig, exporterFor, openTestStore, until } from './support.ts';

/** The idempotency key and position a syslog message carries in its structured data. */
function keyOf(message: string): { id: string; seq: number } {
  const match = /\[latchkey@32473 id="([^"]+)" seq="(\d+)"\]/.exec(message);
  if (!match?.[1] || !match[2]) throw new Error(`no latchkey structured data in: ${message.slice(0, 120)}`);
  return { id: match[1], seq: Number(match[2]) };
}

/** Delivered keys with duplicates removed (first occurrence kept), and how many duplicates there were. */
function dedupe(messages: readonly string[]): { keys: { id: string; seq: number }[]; duplicates: number } {
  const seen = new Set<string>();
  const keys: { id: string; seq: number }[] = [];
  for (const key of messages.map(keyOf)) {
    if (seen.has(key.id)) continue;
    seen.add(key.id);
    keys.push(key);
  }
  return { keys, duplicates: messages.length - keys.length };
}

const expectAllInOrder = async (store: Store, messages: readonly string[]): Promise<number> => {
  const { keys, duplicates } = dedupe(messages);
  const records = await allRecords(store);
  expect(keys).toEqual(records.map((record) => ({ id: record.id, seq: record.seq })));
  return duplicates;
};

describe.each([{ tls: false }, { tls: true }])('syslog sink against a real rsyslogd (tls: $tls)', ({ tls }) => {
  let rsyslog: Rsyslog;
  beforeAll(async () => {
    rsyslog = await startRsyslog({ tls });
  });
  afterAll(async () => {
    await rsyslog.stop();
  });

  it('delivers the whole audit stream in order, one RFC 5424 message per event with its id and seq', async () => {
    const db = await openTestStore('sqlite');
    const config = exportConfig([{ name: 'siem', type: 'syslog', host: rsyslog.host, port: rsyslog.port, format: 'json', hostname: 'idp-1', ...(tls ? { tls: { caFile: rsyslog.caFile } } : {}) }]);
    const exporter = exporterFor(db.store, config);
    try {
      const before = (await rsyslog.messages()).length;
      await appendEvents(db.store, 120);
      exporter.start();
      const received = (await rsyslog.waitFor((lines) => lines.length >= before + 120, 10_000)).slice(before);
      expect(await expectAllInOrder(db.store, received)).toBe(0);
      const first = (await allRecords(db.store))[0];
      expect(received[0]).toBe(
        `<86>1 2030-01-01T09:00:00.000Z idp-1 latchkey - recovery.started [latchkey@32473 id="${first?.id}" seq="1"] ${JSON.stringify({ ...first, at: first?.at.toISOString() })}`,
      );
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 120, 5_000, 'the cursor to reach 120');
    } finally {
      await exporter.stop();
      await db.close();
    }
  });
});

describe('syslog export across outages', () => {
  let rsyslog: Rsyslog;
  beforeAll(async () => {
    rsyslog = await startRsyslog();
  });
  afterAll(async () => {
    await rsyslog.stop();
  });

  it('delivers events produced while the collector was down once it returns, in order, recording the outage once', async () => {
    const db = await openTestStore('sqlite');
    const batchSize = 25;
    const exporter = exporterFor(db.store, exportConfig([{ name: 'siem', type: 'syslog', host: rsyslog.host, port: rsyslog.port, format: 'cef', timeoutMs: 2_000 }], { batchSize }));
    const before = (await rsyslog.messages()).length;
    try {
      await appendEvents(db.store, 30);
      exporter.start();
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 30, 10_000, 'the first 30 events');

      await rsyslog.pause();
      await appendEvents(db.store, 40, 30);
      await until(async () => (await db.store.auditExport.get('siem'))?.status === 'stalled', 10_000, 'the sink to stall');
      // Retries while down add nothing to the log: one stalled event, however many attempts.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await db.store.audit.query({ types: ['audit_export.stalled'], limit: 10 })).length).toBe(1);

      await rsyslog.resume();
      await appendEvents(db.store, 10, 70);
      await until(
        async () => {
          const [cursor, head] = await Promise.all([db.store.auditExport.get('siem'), db.store.audit.head()]);
          return cursor?.status === 'active' && cursor.deliveredSeq === head.seq;
        },
        15_000,
        'the sink to catch up after the outage',
      );
      const received = (await rsyslog.waitFor((lines) => lines.length - before >= 82, 5_000)).slice(before);
      const duplicates = await expectAllInOrder(db.store, received);
      // At-least-once: a batch cut off mid-send is sent again whole, so at most one batch per outage repeats.
      expect(duplicates).toBeLessThanOrEqual(batchSize);
      const events = await db.store.audit.query({ types: ['audit_export.stalled', 'audit_export.resumed'], limit: 10 });
      expect(events.map((event) => [event.type, event.data['sink']])).toEqual([
        ['audit_export.stalled', 'siem'],
        ['audit_export.resumed', 'siem'],
      ]);
      expect(events[0]).toMatchObject({ outcome: 'failure', reason: 'export.unreachable', data: { delivered_seq: 30, kind: 'syslog' } });
    } finally {
      await exporter.stop();
      await db.close();
    }
  });

  it('loses nothing when the collector restarts in the middle of a stream', async () => {
    const db = await openTestStore('sqlite');
    const batchSize = 20;
    const exporter = exporterFor(db.store, exportConfig([{ name: 'siem', type: 'syslog', host: rsyslog.host, port: rsyslog.port, timeoutMs: 2_000 }], { batchSize, pollIntervalMs: 10 }));
    const before = (await rsyslog.messages()).length;
    try {
      exporter.start();
      for (let round = 0; round < 10; round += 1) {
        await appendEvents(db.store, 15, round * 15);
        if (round === 4) await rsyslog.restart();
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      await until(
        async () => {
          const [cursor, head] = await Promise.all([db.store.auditExport.get('siem'), db.store.audit.head()]);
          return cursor?.deliveredSeq === head.seq;
        },
        15_000,
        'the sink to catch up',
      );
      const head = await db.store.audit.head();
      const received = (await rsyslog.waitFor((lines) => lines.length - before >= head.seq, 5_000)).slice(before);
      const duplicates = await expectAllInOrder(db.store, received);
      expect(duplicates).toBeLessThanOrEqual(batchSize);
    } finally {
      await exporter.stop();
      await db.close();
    }
  });
});

describe.each(ENGINES)('restarting the exporter on %s', (engine) => {
  let rsyslog: Rsyslog;
  beforeAll(async () => {
    rsyslog = await startRsyslog();
  });
  afterAll(async () => {
    await rsyslog.stop();
  });

  it('a new exporter continues from the stored cursor: nothing lost, nothing sent twice', async () => {
    const db = await openTestStore(engine);
    const config = exportConfig([{ name: 'siem', type: 'syslog', host: rsyslog.host, port: rsyslog.port }]);
    try {
      await appendEvents(db.store, 60);
      const first = exporterFor(db.store, config, { owner: 'instance-1' });
      first.start();
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 60, 10_000, 'the first exporter');
      await first.stop();
      expect((await db.store.auditExport.get('siem'))?.leaseOwner).toBeNull();

      await appendEvents(db.store, 45, 60);
      const second = exporterFor(db.store, config, { owner: 'instance-2' });
      expect(await second.lag()).toEqual([{ sink: 'siem', kind: 'syslog', deliveredSeq: 60, lag: 45, status: 'active', lastError: null }]);
      second.start();
      await until(async () => (await db.store.auditExport.get('siem'))?.deliveredSeq === 105, 10_000, 'the second exporter');
      await second.stop();
      const received = await rsyslog.waitFor((lines) => lines.length >= 105, 5_000);
      expect(await expectAllInOrder(db.store, received)).toBe(0);
    } finally {
      await db.close();
    }
  });
});
