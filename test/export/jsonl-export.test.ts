import { appendFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createJsonlSink } from '../../src/adapters/audit-export/jsonl-sink.ts';
import { jsonlSinkConfigSchema } from '../../src/adapters/audit-export/config.ts';
import { allRecords, appendEvents, exportConfig, exporterFor, openTestStore, until, type TestStore } from './support.ts';

/** Every line of the sink's files, oldest file first. */
async function readAll(path: string, keep: number): Promise<string[]> {
  const lines: string[] = [];
  for (let index = keep; index >= 0; index -= 1) {
    const file = index === 0 ? path : `${path}.${index}`;
    const text = await readFile(file, 'utf8').catch(() => '');
    lines.push(...text.split('\n').filter((line) => line !== ''));
  }
  return lines;
}

describe('JSON Lines sink', () => {
  let dir: string;
  let db: TestStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-jsonl-'));
    db = await openTestStore('sqlite');
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every event as one JSON line in order, rotating by size and keeping N files', async () => {
    const path = join(dir, 'audit.jsonl');
    const exporter = exporterFor(db.store, exportConfig([{ name: 'file', type: 'jsonl', path, maxBytes: 8 * 1024, keep: 3 }], { batchSize: 10 }));
    try {
      await appendEvents(db.store, 60);
      exporter.start();
      await until(async () => (await db.store.auditExport.get('file'))?.deliveredSeq === 60, 10_000, 'the file sink');
    } finally {
      await exporter.stop();
    }
    const files = (await readdir(dir)).sort();
    expect(files).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2', 'audit.jsonl.3']);
    for (const file of files) expect((await stat(join(dir, file))).size).toBeLessThanOrEqual(8 * 1024);
    const lines = await readAll(path, 3);
    const records = await allRecords(db.store);
    // The oldest rotated-out files were deleted: what is kept is the newest events, contiguous, in order.
    const kept = lines.map((line) => JSON.parse(line) as { id: string; seq: number; at: string });
    const lastSeq = records.length;
    expect(kept.at(-1)?.seq).toBe(lastSeq);
    expect(kept.map((event) => event.seq)).toEqual(Array.from({ length: kept.length }, (_, index) => lastSeq - kept.length + 1 + index));
    expect(kept.length).toBeLessThan(60);
    const byId = new Map(records.map((record) => [record.id, record]));
    for (const event of kept) expect(event).toEqual(JSON.parse(JSON.stringify({ ...byId.get(event.id), at: byId.get(event.id)?.at.toISOString() })));
  });

  it('cuts a partial last line left by a crash before writing again, so no half event stays in the file', async () => {
    const path = join(dir, 'audit.jsonl');
    const config = jsonlSinkConfigSchema.parse({ name: 'file', type: 'jsonl', path });
    const records = await appendEvents(db.store, 3);
    const sink = createJsonlSink(config, 'test');
    await sink.deliver(records.slice(0, 2));
    await sink.close();
    // A crash mid-write: the third line only half written, and never acknowledged.
    await appendFile(path, '{"seq":3,"id":"trunc');
    const restarted = createJsonlSink(config, 'test');
    await restarted.deliver(records.slice(2));
    await restarted.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([1, 2, 3]);
  });

  it('writes OCSF bodies when asked, keyed by metadata.uid', async () => {
    const path = join(dir, 'ocsf.jsonl');
    const records = await appendEvents(db.store, 6);
    const sink = createJsonlSink(jsonlSinkConfigSchema.parse({ name: 'file', type: 'jsonl', path, format: 'ocsf' }), '9.9.9');
    await sink.deliver(records);
    await sink.close();
    const events = (await readFile(path, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { class_uid: number; metadata: { uid: string; sequence: number } });
    expect(events.map((event) => [event.metadata.uid, event.metadata.sequence])).toEqual(records.map((record) => [record.id, record.seq]));
    expect(events.map((event) => event.class_uid)).toEqual([0, 3002, 3002, 3002, 3001, 3002]);
  });
});
