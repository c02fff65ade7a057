import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { signWebhookRequest } from '../../src/adapters/channel/sms-http/sms-webhook-channel.ts';
import { startReceiver, type HttpReceiver, type RecordedRequest, type Reply } from '../channel/http-receiver.ts';
import { allRecords, appendEvents, exportConfig, exporterFor, openTestStore, until, type TestStore } from './support.ts';

const SECRET = 'an-export-hmac-secret-of-some-length';
const exported = (record: AuditRecord | undefined): unknown => JSON.parse(JSON.stringify({ ...record, at: record?.at.toISOString() }));

const caughtUp = async (db: TestStore, sink: string): Promise<boolean> => {
  const [cursor, head] = await Promise.all([db.store.auditExport.get(sink), db.store.audit.head()]);
  return cursor?.deliveredSeq === head.seq;
};

describe('HTTP sink', () => {
  let db: TestStore;
  let receiver: HttpReceiver | null = null;
  beforeEach(async () => {
    db = await openTestStore('sqlite');
  });
  afterEach(async () => {
    await receiver?.stop();
    receiver = null;
    await db.close();
  });

  it('generic: POSTs signed JSON batches of {idempotencyKey, seq, event}, in order', async () => {
    receiver = await startReceiver(() => ({ status: 204 }));
    await appendEvents(db.store, 25);
    const exporter = exporterFor(db.store, exportConfig([{ name: 'hook', type: 'http', url: `${receiver.url}/audit`, hmacSecret: SECRET }], { batchSize: 10 }));
    exporter.start();
    await until(() => caughtUp(db, 'hook'), 10_000, 'the webhook sink');
    await exporter.stop();
    const records = await allRecords(db.store);
    expect(receiver.requests.map((request) => request.path)).toEqual(['/audit', '/audit', '/audit']);
    const batches = receiver.requests.map((request: RecordedRequest) => {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      const timestamp = String(request.headers['x-latchkey-timestamp']);
      expect(request.headers['x-latchkey-signature']).toBe(signWebhookRequest(SECRET, timestamp, request.body.toString('utf8')));
      return JSON.parse(request.body.toString('utf8')) as unknown[];
    });
    expect(batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(records.map((record) => ({ idempotencyKey: record.id, seq: record.seq, event: exported(record) })));
  });

  it('splunk_hec: newline-separated HEC events with the token, channel and idempotency fields', async () => {
    receiver = await startReceiver(() => ({ status: 200, json: { text: 'Success', code: 0 } }));
    await appendEvents(db.store, 3);
    const records = await allRecords(db.store);
    const channel = '0f9b7c1e-3b8a-4d2e-9a51-6c1f2e3d4a5b';
    const exporter = exporterFor(
      db.store,
      exportConfig([{ name: 'splunk', type: 'http', api: 'splunk_hec', url: `${receiver.url}/services/collector/event`, token: 'hec-token-1', channel, index: 'security', hostname: 'idp-1' }]),
    );
    exporter.start();
    await until(() => caughtUp(db, 'splunk'), 10_000, 'the HEC sink');
    await exporter.stop();
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request?.path).toBe('/services/collector/event');
    expect(request?.headers['authorization']).toBe('Splunk hec-token-1');
    expect(request?.headers['x-splunk-request-channel']).toBe(channel);
    expect(request?.body.toString('utf8')).toBe(
      records
        .map((record) =>
          JSON.stringify({
            time: record.at.getTime() / 1000,
            host: 'idp-1',
            source: 'latchkey',
            sourcetype: 'latchkey:audit',
            index: 'security',
            event: exported(record),
            fields: { event_id: record.id, seq: record.seq },
          }),
        )
        .join('\n'),
    );
  });

  it('retries 5xx with backoff, records the outage once, and delivers everything in order when the receiver recovers', async () => {
    let failing = true;
    receiver = await startReceiver((): Reply => (failing ? { status: 503 } : { status: 200 }));
    await appendEvents(db.store, 12);
    const exporter = exporterFor(db.store, exportConfig([{ name: 'hook', type: 'http', url: receiver.url }], { batchSize: 5 }));
    exporter.start();
    await until(async () => (await db.store.auditExport.get('hook'))?.status === 'stalled', 5_000, 'the sink to stall');
    await until(() => (receiver?.requests.length ?? 0) >= 3, 5_000, 'a few retries');
    failing = false;
    await until(async () => (await db.store.auditExport.get('hook'))?.status === 'active' && (await caughtUp(db, 'hook')), 10_000, 'recovery');
    await exporter.stop();
    const delivered = receiver.requests.slice(-5).flatMap((request) => JSON.parse(request.body.toString('utf8')) as { idempotencyKey: string; seq: number }[]);
    const records = await allRecords(db.store);
    // The accepted requests carry every event once, in order (stalled and resumed included).
    const accepted = delivered.filter((item, index, all) => all.findIndex((other) => other.idempotencyKey === item.idempotencyKey) === index);
    expect(accepted.map((item) => item.seq)).toEqual(records.map((record) => record.seq).slice(-accepted.length));
    expect(accepted.at(-1)?.seq).toBe(records.length);
    const outage = records.filter((record) => record.type.startsWith('audit_export.'));
    expect(outage.map((record) => record.type)).toEqual(['audit_export.stalled', 'audit_export.resumed']);
    expect(outage[0]?.data).toMatchObject({ sink: 'hook', kind: 'http', delivered_seq: 0, error: 'http sink hook: HTTP 503' });
  });

  it('stops a sink whose receiver refuses a batch (4xx), records audit_export.failed once, and keeps other sinks going', async () => {
    receiver = await startReceiver(() => ({ status: 400, json: { error: 'bad batch' } }));
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-http-'));
    await appendEvents(db.store, 8);
    const exporter = exporterFor(
      db.store,
      exportConfig([
        { name: 'hook', type: 'http', url: receiver.url },
        { name: 'file', type: 'jsonl', path: join(dir, 'audit.jsonl') },
      ]),
    );
    try {
      exporter.start();
      await until(async () => (await db.store.auditExport.get('hook'))?.status === 'stopped', 5_000, 'the sink to stop');
      await until(() => caughtUp(db, 'file'), 5_000, 'the file sink to include the failure event');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.requests).toHaveLength(1);
      expect(await db.store.auditExport.get('hook')).toMatchObject({ deliveredSeq: 0, status: 'stopped', lastError: 'http sink hook: HTTP 400' });
      const failed = await db.store.audit.query({ types: ['audit_export.failed'], limit: 10 });
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ outcome: 'failure', reason: 'export.rejected', data: { sink: 'hook', kind: 'http', first_seq: 1, last_seq: 8, status: 400 } });
      const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n');
      expect(lines.map((line) => (JSON.parse(line) as { type: string }).type).at(-1)).toBe('audit_export.failed');
      expect(await exporter.lag()).toEqual([
        { sink: 'hook', kind: 'http', deliveredSeq: 0, lag: 9, status: 'stopped', lastError: 'http sink hook: HTTP 400' },
        { sink: 'file', kind: 'jsonl', deliveredSeq: 9, lag: 0, status: 'active', lastError: null },
      ]);
    } finally {
      await exporter.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a receiver that never answers delays no other sink', async () => {
    receiver = await startReceiver(() => 'hang');
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-http-'));
    const exporter = exporterFor(
      db.store,
      exportConfig([
        { name: 'hung', type: 'http', url: receiver.url, timeoutMs: 5_000 },
        { name: 'file', type: 'jsonl', path: join(dir, 'audit.jsonl') },
      ]),
    );
    try {
      exporter.start();
      for (let round = 0; round < 5; round += 1) {
        await appendEvents(db.store, 10, round * 10);
        await until(() => caughtUp(db, 'file'), 2_000, `the file sink, round ${round}`);
      }
      expect((await db.store.auditExport.get('hung'))?.deliveredSeq).toBe(0);
    } finally {
      await receiver.stop();
      receiver = null;
      await exporter.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
