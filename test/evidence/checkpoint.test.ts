import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, hashEvent, linkEvent } from '../../src/core/audit/chain.ts';
import { checkpointEvent, signCheckpoint, verifyEvidence, type Checkpoint, type CheckpointSigner } from '../../src/core/audit/checkpoint.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { createCheckpointVerifier, loadOrCreateSigningKey, parsePublicKeys } from '../../src/adapters/audit-evidence/signing-key.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';
import { syntheticEvent } from './support.ts';

/*
 * The pure verification of a log segment from its checkpoints: every kind of tampering an auditor
 * must catch in an exported log, each on its own, with real Ed25519 keys.
 */

const random = createSystemRandom();
const T0 = new Date('2026-03-01T08:00:00Z');

async function newKey(): Promise<{ signer: CheckpointSigner; publicKeyPem: string }> {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return loadOrCreateSigningKey({ pem, dataDir: '/nonexistent', random });
}

/** A log whose head is signed after every `every` events, the checkpoint carried by the next event, as the checkpointer writes it. */
function buildLog(events: number, every: number, signer: CheckpointSigner): { records: AuditRecord[]; checkpoints: Checkpoint[] } {
  const records: AuditRecord[] = [];
  const checkpoints: Checkpoint[] = [];
  let head = { seq: 0, hash: GENESIS_HASH };
  const push = (record: AuditRecord): void => {
    records.push(record);
    head = record;
  };
  for (let n = 1; n <= events; n += 1) {
    push(linkEvent(syntheticEvent(new Date(T0.getTime() + n * 1000), n), head, randomUUID()));
    if (n % every === 0) {
      const checkpoint = signCheckpoint({ seq: head.seq, hash: head.hash, at: new Date(T0.getTime() + n * 1000), instance: 'test-host' }, signer);
      checkpoints.push(checkpoint);
      push(linkEvent(checkpointEvent(checkpoint, 'cadence'), head, randomUUID()));
    }
  }
  return { records, checkpoints };
}

/** Re-hashes records from `from` on, as an attacker with write access to an unkeyed chain would. */
function rechain(records: AuditRecord[], from: number): AuditRecord[] {
  const out = records.slice(0, from);
  for (const record of records.slice(from)) {
    const prev = out.at(-1);
    const unhashed = { ...record, prevHash: prev?.hash ?? GENESIS_HASH, seq: (prev?.seq ?? 0) + 1 };
    const { hash: _old, ...rest } = unhashed;
    out.push({ ...rest, hash: hashEvent(rest) });
  }
  return out;
}

describe('verifyEvidence', async () => {
  const key = await newKey();
  const verifier = createCheckpointVerifier(parsePublicKeys([{ name: 'auditor.pem', text: key.publicKeyPem }]));
  // 25 events signed after every 10: checkpoints of #10 and #21, carried by #11 and #22; #23-#27 unsigned.
  const log = buildLog(25, 10, key.signer);

  it('accepts an intact log, checks every checkpoint, and counts the unsigned tail', async () => {
    const verdict = await verifyEvidence(log.records, { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: true, count: 27, startSeq: 0, lastSeq: 27, checkpoints: 2, unsigned: 5, firstUnsignedSeq: 23 });
    if (verdict.ok) expect(verdict.lastCheckpoint?.seq).toBe(21);
  });

  it('reports a head covered by a checkpoint as fully signed, its carrier event included', async () => {
    const signed = buildLog(20, 10, key.signer);
    const verdict = await verifyEvidence(signed.records, { checkpoints: signed.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: true, lastSeq: 22, unsigned: 0, firstUnsignedSeq: null });
  });

  it('detects a tail cut after a checkpoint whose evidence survives', async () => {
    const verdict = await verifyEvidence(log.records.slice(0, 15), { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 16 });
    if (!verdict.ok) expect(verdict.problem).toBe('the log ends at #15 but a checkpoint covers #21 (events were cut from the end)');
  });

  it('detects a record deleted in the middle, naming the record after the gap', async () => {
    const records = log.records.filter((record) => record.seq !== 5);
    const verdict = await verifyEvidence(records, { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 6 });
  });

  it('detects an edited field', async () => {
    const records = log.records.map((record) => (record.seq === 7 ? { ...record, actor: { kind: 'cli' as const, id: 'someone-else' } } : record));
    const verdict = await verifyEvidence(records, { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 7 });
    if (!verdict.ok) expect(verdict.problem).toBe('record #7 was changed after it was written');
  });

  it('detects an edit whose attacker re-hashed the whole chain after it: the signed hash no longer matches', async () => {
    const edited = log.records.map((record) => (record.seq === 3 ? { ...record, data: { count: 999 } } : record));
    const records = rechain(edited, 2);
    const verdict = await verifyEvidence(records, { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 10 });
    if (!verdict.ok) expect(verdict.problem).toContain('does not match the hash its checkpoint signed');
  });

  it('detects a forged checkpoint signed by another key, and names it as an unknown key', async () => {
    const mallory = await newKey();
    const records = rechain(log.records.slice(0, 25), 0);
    const forged = signCheckpoint({ seq: 25, hash: records[24]?.hash ?? '', at: T0, instance: 'test-host' }, mallory.signer);
    const withForged = [...records, linkEvent(checkpointEvent(forged, 'cadence'), records[24] ?? { seq: 0, hash: GENESIS_HASH }, randomUUID())];
    const verdict = await verifyEvidence(withForged, { checkpoints: [...log.checkpoints, forged], verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 25 });
    if (!verdict.ok) expect(verdict.problem).toBe(`the checkpoint of #25 is signed by key ${mallory.signer.keyId}, which is not among the public keys given`);
  });

  it('detects a checkpoint that claims the real key id but carries a signature it did not make', async () => {
    const first = log.checkpoints[0];
    if (!first) throw new Error('no checkpoint');
    const tampered = { ...first, at: new Date(first.at.getTime() + 1000) };
    const verdict = await verifyEvidence(log.records, { checkpoints: [tampered, ...log.checkpoints.slice(1)], verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 10 });
    if (!verdict.ok) expect(verdict.problem).toContain('has a signature that does not verify');
  });

  it('starts a purged log at its anchor checkpoint, and refuses one that begins without an anchor', async () => {
    const kept = log.records.filter((record) => record.seq > 10);
    expect(await verifyEvidence(kept, { checkpoints: log.checkpoints, verifier })).toMatchObject({ ok: true, startSeq: 10, lastSeq: 27 });

    const unanchored = log.records.filter((record) => record.seq > 12);
    const verdict = await verifyEvidence(unanchored, { checkpoints: log.checkpoints, verifier });
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 13 });
    if (!verdict.ok) expect(verdict.problem).toBe('the log begins at #13, but no checkpoint of #12 anchors it (events before it were deleted)');
  });

  it('accepts checkpoints of a rotated key when both public keys are given, and only then', async () => {
    const next = await newKey();
    const before = buildLog(10, 10, key.signer);
    const carrier = before.records.at(-1);
    if (!carrier) throw new Error('empty log');
    const later = linkEvent(syntheticEvent(T0, 0), carrier, randomUUID());
    const rotated = signCheckpoint({ seq: later.seq, hash: later.hash, at: T0, instance: 'test-host' }, next.signer);
    const records = [...before.records, later, linkEvent(checkpointEvent(rotated, 'cadence'), later, randomUUID())];
    const checkpoints = [...before.checkpoints, rotated];
    const both = createCheckpointVerifier(parsePublicKeys([{ name: 'keys.pem', text: key.publicKeyPem + next.publicKeyPem }]));
    expect(await verifyEvidence(records, { checkpoints, verifier: both })).toMatchObject({ ok: true, checkpoints: 2, unsigned: 0 });
    expect(await verifyEvidence(records, { checkpoints, verifier })).toMatchObject({ ok: false, firstBadSeq: later.seq });
  });
});
