import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkEvent } from '../../src/core/audit/chain.ts';
import { checkpointEvent, signCheckpoint } from '../../src/core/audit/checkpoint.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { createCheckpointVerifier, loadOrCreateSigningKey, parsePublicKeys } from '../../src/adapters/audit-evidence/signing-key.ts';
import { parseExportedRecord, verifyStoredLog } from '../../src/adapters/audit-evidence/verify-log.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';
import { AuditRetention } from '../../src/server/workers/audit-retention.ts';
import type { Repositories } from '../../src/core/ports/store.ts';
import { ENGINES } from '../support/harness.ts';
import { allRecords, appendEvents, exportLines, failingInside, openSite, syntheticEvent, type Site } from './support.ts';

/*
 * Signed checkpoints and retention against a real database (SQLite, and PostgreSQL when
 * LATCHKEY_TEST_DATABASE_URL is set), through the same CLI an operator and an auditor use.
 */

const DAY_MS = 86_400_000;
const CONFIG = 'audit:\n  checkpoint: { everyEvents: 10, everyHours: 1 }\n  retention: { days: 30, maxEventsPerRun: 1000 }\n';
const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

describe.each(ENGINES)('audit evidence on %s', (engine) => {
  let site: Site;
  let publicKeyFile: string;
  const verifier = () => createCheckpointVerifier(parsePublicKeys([{ name: 'pem', text: site.latchkey.evidence.signingKey.publicKeyPem }]));
  const store = () => site.latchkey.store;
  const headSeq = async (): Promise<number> => (await store().audit.head()).seq;
  /** The events the first start recorded itself (the seeded policy version's `policy.published`). */
  let base: number;

  beforeAll(async () => {
    site = await openSite(engine, CONFIG);
    base = await headSeq();
    publicKeyFile = join(site.dir, 'latchkey-audit.pem');
  });
  afterAll(async () => {
    await site?.close();
  });

  describe('checkpoints', () => {
    it('signs the head once everyEvents new events are in, not before, and records the checkpoint as a row and as an event', async () => {
      const checkpointer = site.latchkey.evidence.checkpointer;
      // The events of the first start are unsigned too and count towards the first checkpoint.
      expect(base).toBeLessThan(9);
      await appendEvents(store(), 9 - base, site.clock.now());
      expect(await headSeq()).toBe(9);
      expect(await checkpointer.writeIfDue()).toBeNull();
      await appendEvents(store(), 1, site.clock.now());
      const head = await store().audit.head();
      expect(head.seq).toBe(10);
      const checkpoint = await checkpointer.writeIfDue();
      expect(checkpoint).toMatchObject({ seq: head.seq, hash: head.hash, keyId: site.latchkey.evidence.signingKey.keyId });
      expect(await store().auditCheckpoints.latest()).toMatchObject({ checkpoint: { seq: head.seq, signature: checkpoint?.signature }, eventSeq: head.seq + 1 });
      const [carrier] = await store().audit.query({ afterSeq: head.seq, limit: 1 });
      expect(carrier).toMatchObject({ type: 'audit.checkpointed', reason: 'cadence', actor: { kind: 'system' }, data: { checkpoint_seq: head.seq, checkpoint_hash: head.hash } });
      // Only the carrier is new: nothing is due.
      expect(await checkpointer.writeIfDue()).toBeNull();
      await appendEvents(store(), 9, site.clock.now());
      expect(await checkpointer.writeIfDue()).toBeNull();
      await appendEvents(store(), 1, site.clock.now());
      expect((await checkpointer.writeIfDue())?.seq).toBe(head.seq + 11);
    });

    it('signs once the oldest unsigned event is everyHours old (injected clock), and not at all while nothing is new', async () => {
      const checkpointer = site.latchkey.evidence.checkpointer;
      await appendEvents(store(), 3, site.clock.now());
      const head = await headSeq();
      expect(await checkpointer.writeIfDue()).toBeNull();
      site.clock.advance(3_599);
      expect(await checkpointer.writeIfDue()).toBeNull();
      site.clock.advance(1);
      expect((await checkpointer.writeIfDue())?.seq).toBe(head);
      site.clock.advance(10 * 3_600);
      expect(await checkpointer.writeIfDue()).toBeNull();
    });

    it('takes one checkpoint per head when several checkpointers race (one per instance)', async () => {
      await appendEvents(store(), 10, site.clock.now());
      const head = await headSeq();
      const results = await Promise.all(Array.from({ length: 4 }, () => site.latchkey.evidence.checkpointer.writeIfDue()));
      expect(results.filter((result) => result !== null)).toHaveLength(1);
      expect((await store().auditCheckpoints.list(head)).map((checkpoint) => checkpoint.seq)).toEqual([head]);
      expect(await verifyStoredLog(store(), verifier())).toMatchObject({ ok: true, unsigned: 0 });
    });
  });

  describe('latchkey audit public-key, export --evidence and verify', () => {
    let exported: string[];
    let exportFile: string;
    const verifyFile = async (text: string, ...extra: string[]) => {
      const file = join(site.dir, `tampered-${randomUUID()}.jsonl`);
      await writeFile(file, text);
      return site.cli('audit', 'verify', '--public-key', publicKeyFile, '--file', file, ...extra);
    };

    beforeAll(async () => {
      const printed = await site.cli('audit', 'public-key');
      expect(printed.code).toBe(0);
      expect(printed.stdout).toBe(site.latchkey.evidence.signingKey.publicKeyPem);
      await writeFile(publicKeyFile, printed.stdout);
      await appendEvents(store(), 4, site.clock.now());
      exportFile = join(site.dir, 'export.jsonl');
      const result = await site.cli('audit', 'export', '--evidence', '--output', exportFile);
      expect(result.code).toBe(0);
      exported = lines(await readFile(exportFile, 'utf8'));
    });

    it('exports a log that ends signed and verifies end to end with the public key alone', async () => {
      const records = exported.map((line, index) => parseExportedRecord(line, `line ${index + 1}`));
      expect(records.at(-1)).toMatchObject({ type: 'audit.checkpointed', reason: 'export' });
      const result = await site.cli('audit', 'verify', '--public-key', publicKeyFile, '--file', exportFile);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^audit log intact: ${records.length} events, head [0-9a-f]{64}\\ncheckpoints: \\d+ verified; the last covers #${records.at(-2)?.seq}, signed \\S+ by \\S+ with key ${site.latchkey.evidence.signingKey.keyId}\\nthe head is covered by a signed checkpoint\\n$`));
    });

    it('verifies the database with its checkpoints, reporting the events no checkpoint covers yet', async () => {
      const result = await site.cli('audit', 'verify', '--public-key', publicKeyFile);
      expect(result.code).toBe(0);
      // The export itself was audited after the file was written: one unsigned event.
      expect(result.stdout).toContain(`1 event after the last checkpoint is not signed (from #${(await headSeq())})`);
      const plain = await site.cli('audit', 'verify');
      expect(plain).toMatchObject({ code: 0 });
      expect(plain.stdout).toMatch(/^audit log intact: \d+ events, head [0-9a-f]{64}\n$/);
    });

    it('detects the tail cut after a checkpoint: the file is no longer signed to its end', async () => {
      const cutAt = exported.findIndex((line) => line.includes('"type":"audit.checkpointed"'));
      const kept = exported.slice(0, cutAt + 4);
      const firstCut = parseExportedRecord(kept[cutAt + 1] ?? '', 'kept').seq;
      const result = await verifyFile(`${kept.join('\n')}\n`);
      expect(result.code).toBe(1);
      expect(result.stdout.split('\n')[0]).toBe(`audit log NOT SIGNED TO THE END at event #${firstCut}: 3 events after the last checkpoint are not signed (from #${firstCut}); they may have been added or the signed tail cut`);
    });

    it('detects an event deleted in the middle, naming the event after the gap', async () => {
      const victim = parseExportedRecord(exported[5] ?? '', 'victim');
      const result = await verifyFile(`${exported.filter((_, index) => index !== 5).join('\n')}\n`);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(`audit log BROKEN at event #${victim.seq + 1}: expected record #${victim.seq}, found #${victim.seq + 1} (a record was deleted or moved) (5 events verified before it)\n`);
    });

    it('detects an edited field, naming the event', async () => {
      const victim = parseExportedRecord(exported[3] ?? '', 'victim');
      const edited = exported.map((line, index) => (index === 3 ? line.replace('"evidence-test"', '"someone-else"') : line));
      const result = await verifyFile(`${edited.join('\n')}\n`);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(`audit log BROKEN at event #${victim.seq}: record #${victim.seq} was changed after it was written (3 events verified before it)\n`);
    });

    it('detects events appended with a checkpoint forged with another key, and unsigned events appended alone', async () => {
      const records = exported.map((line, index) => parseExportedRecord(line, `line ${index + 1}`));
      const last = records.at(-1) as AuditRecord;
      const added = linkEvent(syntheticEvent(site.clock.now(), 0), last, randomUUID());
      const mallory = await loadOrCreateSigningKey({ pem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), dataDir: site.dir, random: createSystemRandom() });
      const forged = signCheckpoint({ seq: added.seq, hash: added.hash, at: site.clock.now(), instance: 'test' }, mallory.signer);
      const carrier = linkEvent(checkpointEvent(forged, 'cadence'), added, randomUUID());

      const withForged = await verifyFile(exportLines([...records, added, carrier]));
      expect(withForged.code).toBe(1);
      expect(withForged.stdout).toBe(`audit log BROKEN at event #${added.seq}: the checkpoint of #${added.seq} is signed by key ${mallory.keyId}, which is not among the public keys given (${records.length} events verified before it)\n`);

      const appended = await verifyFile(exportLines([...records, added]));
      expect(appended.code).toBe(1);
      expect(appended.stdout.split('\n')[0]).toBe(`audit log NOT SIGNED TO THE END at event #${added.seq}: 1 event after the last checkpoint is not signed (from #${added.seq}); they may have been added or the signed tail cut`);
      const live = await verifyFile(exportLines([...records, added]), '--allow-unsigned-tail');
      expect(live.code).toBe(0);
      expect(live.stdout).toContain(`1 event after the last checkpoint is not signed (from #${added.seq})`);
    });

    it('accepts a sink file with redelivered records (at-least-once), but not a repeated seq with other content', async () => {
      const redelivered = [...exported.slice(0, 8), ...exported.slice(5, 8), ...exported.slice(8)];
      expect((await verifyFile(`${redelivered.join('\n')}\n`)).code).toBe(0);
      const victim = parseExportedRecord(exported[6] ?? '', 'victim');
      const altered = [...exported.slice(0, 8), (exported[6] ?? '').replace('"evidence-test"', '"someone-else"'), ...exported.slice(8)];
      const result = await verifyFile(`${altered.join('\n')}\n`);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(`audit log BROKEN at event #${victim.seq}: expected record #${victim.seq + 2}, found #${victim.seq} (a record was deleted or moved) (8 events verified before it)\n`);
    });

    it('fails with the wrong public key, and treats a missing key, a missing file and a malformed line as usage errors', async () => {
      const otherKey = join(site.dir, 'other.pem');
      await writeFile(otherKey, (await loadOrCreateSigningKey({ dataDir: join(site.dir, 'other'), random: createSystemRandom() })).publicKeyPem);
      const wrong = await site.cli('audit', 'verify', '--public-key', otherKey, '--file', exportFile);
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toContain('which is not among the public keys given');
      expect((await site.cli('audit', 'verify', '--file', exportFile)).code).toBe(2);
      expect((await site.cli('audit', 'verify', '--public-key', publicKeyFile, '--file', join(site.dir, 'nope.jsonl'))).code).toBe(2);
      const malformed = await verifyFile('{"seq": "one"}\n');
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toMatch(/tampered-[0-9a-f-]+\.jsonl:1: seq /);
    });
  });

  describe('retention in batches', () => {
    let batchSite: Site;
    beforeAll(async () => {
      batchSite = await openSite(engine, 'audit:\n  retention: { days: 30, maxEventsPerRun: 7 }\n', { firstStartedDaysAgo: 40 });
      // 20 old events in all, #1-#20: those of the first start (as old) and the synthetic ones.
      const base = (await batchSite.latchkey.store.audit.head()).seq;
      expect(base).toBeLessThan(20);
      await appendEvents(batchSite.latchkey.store, 20 - base, new Date(batchSite.clock.now().getTime() - 40 * DAY_MS));
      expect((await batchSite.latchkey.store.audit.head()).seq).toBe(20);
      await appendEvents(batchSite.latchkey.store, 2, batchSite.clock.now());
    });
    afterAll(async () => {
      await batchSite?.close();
    });

    it('purges a backlog in transactions of maxEventsPerRun events, each anchored and recorded', async () => {
      const result = await batchSite.cli('audit', 'purge');
      expect(result.code).toBe(0);
      expect(lines(result.stdout).map((line) => line.replace(/older than \S+?([,)])/, 'older than T$1'))).toEqual([
        'purged #1-#7 (7 events, older than T, held back by batch); the kept log begins after the checkpoint of #7',
        'purged #8-#14 (7 events, older than T, held back by batch); the kept log begins after the checkpoint of #14',
        'purged #15-#20 (6 events, older than T); the kept log begins after the checkpoint of #20',
      ]);
      const store = batchSite.latchkey.store;
      expect((await store.audit.query({ types: ['audit.purged'], limit: 10 })).map((event) => [event.data['from_seq'], event.data['through_seq']])).toEqual([
        [1, 7],
        [8, 14],
        [15, 20],
      ]);
      const pem = batchSite.latchkey.evidence.signingKey.publicKeyPem;
      expect(await verifyStoredLog(store, createCheckpointVerifier(parsePublicKeys([{ name: 'pem', text: pem }])))).toMatchObject({ ok: true, startSeq: 20 });
    });
  });

  describe('retention and the detectors', () => {
    let judgedSite: Site;
    let base: number;
    beforeAll(async () => {
      judgedSite = await openSite(engine, CONFIG, { firstStartedDaysAgo: 40 });
      base = (await judgedSite.latchkey.store.audit.head()).seq;
      await appendEvents(judgedSite.latchkey.store, 12, new Date(judgedSite.clock.now().getTime() - 40 * DAY_MS));
    });
    afterAll(async () => {
      await judgedSite?.close();
    });

    it('purges nothing the detectors have not judged, then purges once they caught up', async () => {
      const retention = judgedSite.latchkey.evidence.retention;
      if (retention === null) throw new Error('retention is configured in CONFIG');
      const store = judgedSite.latchkey.store;
      expect((await store.monitorState.load()).cursor).toBe(0);
      expect(await retention.purge()).toMatchObject({ purged: false, reason: 'the detectors have judged only through #0; the oldest kept event is #1' });

      await judgedSite.latchkey.detectors.runner.run();
      const judged = (await store.monitorState.load()).cursor;
      expect(judged).toBeGreaterThanOrEqual(base + 12);
      expect(await retention.purge()).toMatchObject({ purged: true, fromSeq: 1, throughSeq: base + 12, count: base + 12, limitedBy: 'age' });
    });
  });

  describe('retention with a configured export sink', () => {
    let sinkSite: Site;
    let sinkFile: string;
    let base: number;
    beforeAll(async () => {
      sinkFile = join(site.dir, `sink-${engine}.jsonl`);
      sinkSite = await openSite(engine, `${CONFIG}auditExport:\n  sinks:\n    - { type: jsonl, name: archive, path: ${JSON.stringify(sinkFile)} }\n`, { firstStartedDaysAgo: 40 });
      base = (await sinkSite.latchkey.store.audit.head()).seq;
      await appendEvents(sinkSite.latchkey.store, 12, new Date(sinkSite.clock.now().getTime() - 40 * DAY_MS));
      await appendEvents(sinkSite.latchkey.store, 3, sinkSite.clock.now());
    });
    afterAll(async () => {
      await sinkSite?.close();
    });

    it('waits for the sink, purges once it has the events, and the sink file still verifies end to end', async () => {
      expect(await sinkSite.cli('audit', 'purge')).toMatchObject({ code: 0, stdout: 'nothing to purge: export sinks have acknowledged only through #0; the oldest kept event is #1\n' });
      await sinkSite.latchkey.auditExporter.exportOnce();
      const purged = await sinkSite.cli('audit', 'purge');
      expect(purged.stdout).toMatch(new RegExp(`^purged #1-#${base + 12} \\(${base + 12} events, older than \\S+\\); the kept log begins after the checkpoint of #${base + 12}\\n$`));
      // The sink then receives the purge's checkpoint and event; the checkpointer signs the head.
      await sinkSite.latchkey.evidence.checkpointer.signHead('cadence');
      await sinkSite.latchkey.auditExporter.exportOnce();
      const pemFile = join(sinkSite.dir, 'pub.pem');
      await writeFile(pemFile, sinkSite.latchkey.evidence.signingKey.publicKeyPem);
      const verified = await sinkSite.cli('audit', 'verify', '--public-key', pemFile, '--file', sinkFile);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain('the head is covered by a signed checkpoint');
      expect(lines(await readFile(sinkFile, 'utf8')).map((line) => parseExportedRecord(line, 'sink').type)).toContain('audit.purged');
    });
  });

  describe('retention', () => {
    let purgeSite: Site;
    const sinks = ['siem', 'archive'];
    const retentionOf = (s: Site): AuditRetention =>
      new AuditRetention({ store: s.latchkey.store, signer: s.latchkey.evidence.signingKey.signer, clock: s.clock, instance: 'test-host', settings: { days: 30, maxEventsPerRun: 1000, intervalMinutes: 60 }, sinkNames: sinks, waitForDetectors: false });
    const acknowledge = async (s: Site, sink: string, seq: number): Promise<void> => {
      const cursor = await s.latchkey.store.auditExport.acquire(sink, 'test', s.clock.now(), new Date(s.clock.now().getTime() + 60_000));
      if (cursor === null) throw new Error(`cannot lease ${sink}`);
      expect(await s.latchkey.store.auditExport.advance(sink, 'test', cursor.deliveredSeq, seq, s.clock.now())).toBe(true);
      await s.latchkey.store.auditExport.release(sink, 'test');
    };

    /** The events the first start recorded (as old as the oldest synthetic ones): #1-#base. */
    let base: number;
    beforeAll(async () => {
      purgeSite = await openSite(engine, CONFIG, { firstStartedDaysAgo: 40 });
      base = (await purgeSite.latchkey.store.audit.head()).seq;
      const now = purgeSite.clock.now().getTime();
      await appendEvents(purgeSite.latchkey.store, 30, new Date(now - 40 * DAY_MS));
      await appendEvents(purgeSite.latchkey.store, 10, new Date(now - 35 * DAY_MS));
      await appendEvents(purgeSite.latchkey.store, 5, new Date(now - 1 * DAY_MS));
    });
    afterAll(async () => {
      await purgeSite?.close();
    });

    it('purges nothing a sink has not acknowledged, cuts at a checkpoint it signs, and records the purge in the same transaction', async () => {
      const s = purgeSite.latchkey.store;
      expect(await retentionOf(purgeSite).purge()).toMatchObject({ purged: false, reason: 'export sinks have acknowledged only through #0; the oldest kept event is #1' });
      await acknowledge(purgeSite, 'siem', base + 20);
      await acknowledge(purgeSite, 'archive', base + 35);
      const before = await s.audit.head();

      const result = await retentionOf(purgeSite).purge();

      expect(result).toMatchObject({ purged: true, fromSeq: 1, throughSeq: base + 20, count: base + 20, limitedBy: 'delivery', anchor: { seq: base + 20 } });
      const records = await allRecords(s);
      expect(records[0]?.seq).toBe(base + 21);
      const [checkpointed, purged] = records.slice(-2);
      expect(checkpointed).toMatchObject({ seq: before.seq + 1, type: 'audit.checkpointed', reason: 'purge', data: { checkpoint_seq: base + 20 } });
      expect(purged).toMatchObject({ seq: before.seq + 2, type: 'audit.purged', actor: { kind: 'system', id: 'test-host' }, data: { from_seq: 1, through_seq: base + 20, count: base + 20, anchor_seq: base + 20, retention_days: 30 } });
      expect(await s.auditCheckpoints.get(base + 20)).toMatchObject({ hash: purged?.data['anchor_hash'] });

      const pem = purgeSite.latchkey.evidence.signingKey.publicKeyPem;
      expect(await verifyStoredLog(s, createCheckpointVerifier(parsePublicKeys([{ name: 'pem', text: pem }])))).toMatchObject({ ok: true, startSeq: base + 20, lastSeq: before.seq + 2 });
      const plain = await purgeSite.cli('audit', 'verify');
      expect(plain.code).toBe(0);
      expect(plain.stdout).toContain(`the log begins after #${base + 20}, anchored by a (signature not checked) checkpoint: older events were purged`);
    });

    it('says what a dry run would purge and changes nothing; the CLI purge then cuts at the age limit', async () => {
      const s = purgeSite.latchkey.store;
      // The CLI's retention waits for the detectors, and a dry run changes nothing, so it does not run
      // them (the real purge does): they catch up first, as the detector worker of a running server would.
      await purgeSite.latchkey.detectors.runner.run();
      const head = await s.audit.head();
      const dry = await purgeSite.cli('audit', 'purge', '--dry-run');
      expect(dry).toMatchObject({ code: 0 });
      expect(dry.stdout).toMatch(new RegExp(`^would purge #${base + 21}-#${base + 40} \\(20 events, older than \\S+\\)\\n$`));
      expect(await s.audit.head()).toEqual(head);
      expect((await allRecords(s))[0]?.seq).toBe(base + 21);

      const real = await purgeSite.cli('audit', 'purge');
      expect(real.code).toBe(0);
      expect(real.stdout).toMatch(new RegExp(`^purged #${base + 21}-#${base + 40} \\(20 events, older than \\S+\\); the kept log begins after the checkpoint of #${base + 40}\\n$`));
      expect((await allRecords(s))[0]?.seq).toBe(base + 41);
      const [event] = await s.audit.query({ types: ['audit.purged'], afterSeq: head.seq, limit: 1 });
      expect(event).toMatchObject({ actor: { kind: 'cli' }, data: { from_seq: base + 21, through_seq: base + 40 } });
      expect(await purgeSite.cli('audit', 'purge')).toMatchObject({ code: 0, stdout: 'nothing to purge: no event is older than 30 days\n' });
    });

    it('keeps the chain verifiable across purges: the database and an evidence export, with the public key', async () => {
      const pemFile = join(purgeSite.dir, 'pub.pem');
      await writeFile(pemFile, purgeSite.latchkey.evidence.signingKey.publicKeyPem);
      const db = await purgeSite.cli('audit', 'verify', '--public-key', pemFile);
      expect(db.code).toBe(0);
      expect(db.stdout).toContain(`the log begins after #${base + 40}, anchored by a signed checkpoint: older events were purged`);
      const file = join(purgeSite.dir, 'after-purge.jsonl');
      expect((await purgeSite.cli('audit', 'export', '--evidence', '--output', file)).code).toBe(0);
      const verified = await purgeSite.cli('audit', 'verify', '--public-key', pemFile, '--file', file);
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain(`the log begins after #${base + 40}`);
      expect(verified.stdout).toContain('the head is covered by a signed checkpoint');
      // Without its anchor the kept log is refused: the purge is told apart from a deletion.
      const text = await readFile(file, 'utf8');
      const headless = join(purgeSite.dir, 'headless.jsonl');
      await writeFile(headless, `${lines(text).slice(1).join('\n')}\n`);
      const cut = await purgeSite.cli('audit', 'verify', '--public-key', pemFile, '--file', headless);
      expect(cut.code).toBe(1);
      expect(cut.stdout).toBe(`audit log BROKEN at event #${base + 42}: the log begins at #${base + 42}, but no checkpoint of #${base + 41} anchors it (events before it were deleted) (0 events verified before it)\n`);
    });

    it('leaves everything or nothing when the purge dies inside its transaction, and purges once when several instances race', async () => {
      const s = purgeSite.latchkey.store;
      // Old events again, acknowledged by both sinks: the clock moves 60 days on.
      purgeSite.clock.advance(60 * 86_400);
      const head = await s.audit.head();
      await acknowledge(purgeSite, 'siem', head.seq);
      await acknowledge(purgeSite, 'archive', head.seq);
      const before = await allRecords(s);
      const checkpointsBefore = await s.auditCheckpoints.list();

      const dying = failingInside(s, (tx: Repositories) => ({
        ...tx,
        audit: {
          ...tx.audit,
          append: async (events) => {
            if (events.some((event) => event.type === 'audit.purged')) throw new Error('power cut');
            return tx.audit.append(events);
          },
        },
      }));
      const retention = new AuditRetention({ store: dying, signer: purgeSite.latchkey.evidence.signingKey.signer, clock: purgeSite.clock, instance: 'test-host', settings: { days: 30, maxEventsPerRun: 1000, intervalMinutes: 60 }, sinkNames: sinks, waitForDetectors: false });
      await expect(retention.purge()).rejects.toThrow('power cut');
      expect(await allRecords(s)).toEqual(before);
      expect(await s.auditCheckpoints.list()).toEqual(checkpointsBefore);
      expect(await s.audit.head()).toEqual(head);

      const results = await Promise.all([retentionOf(purgeSite).purge(), retentionOf(purgeSite).purge(), retentionOf(purgeSite).purge()]);
      expect(results.filter((result) => result.purged)).toHaveLength(1);
      const purges = await s.audit.query({ types: ['audit.purged'], afterSeq: head.seq, limit: 10 });
      expect(purges).toHaveLength(1);
      expect(purges[0]?.data).toMatchObject({ from_seq: base + 41, through_seq: head.seq });
      const pem = purgeSite.latchkey.evidence.signingKey.publicKeyPem;
      expect(await verifyStoredLog(s, createCheckpointVerifier(parsePublicKeys([{ name: 'pem', text: pem }])))).toMatchObject({ ok: true, startSeq: head.seq });
    });
  });
});
