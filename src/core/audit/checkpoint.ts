import { GENESIS_HASH, verifyChain } from './chain.ts';
import type { AuditData, AuditEventInput, AuditRecord } from './events.ts';

/**
 * A signed checkpoint: a statement by one Latchkey instance, signed with its Ed25519 key, that the
 * audit chain's record `seq` had hash `hash` at time `at`. The hash chain alone is not keyed (anyone
 * who can write the database can rewrite an event and every event after it); a checkpoint is
 * evidence an outsider can check with the public key, and it is where a log whose older events were
 * purged begins (its anchor).
 */
export interface Checkpoint {
  readonly seq: number;
  readonly hash: string;
  readonly at: Date;
  /** Which instance signed (host name by default): several instances may share a database. */
  readonly instance: string;
  /** The signing key's id ({@link CheckpointSigner.keyId}), so that verification can pick its public key after a rotation. */
  readonly keyId: string;
  /** Ed25519 signature over {@link checkpointSigningBytes}, base64url. */
  readonly signature: string;
}

export type UnsignedCheckpoint = Omit<Checkpoint, 'signature'>;

/** Signs checkpoints; implemented with a private key outside the core. */
export interface CheckpointSigner {
  readonly keyId: string;
  sign(bytes: string): string;
}

/** What a signature check found. `unknown_key`: none of the public keys given has this id. */
export type SignatureVerdict = 'valid' | 'invalid' | 'unknown_key';

/** Checks checkpoint signatures against the public keys an auditor holds (several, for rotation). */
export interface CheckpointVerifier {
  verify(keyId: string, bytes: string, signature: string): SignatureVerdict;
}

const SIGNING_DOMAIN = 'latchkey.audit-checkpoint.v1';

/**
 * The exact text a checkpoint signature covers. The domain tag keeps a checkpoint signature from
 * being valid for any other message the key might sign. Never changes: old signatures must verify.
 */
export function checkpointSigningBytes(checkpoint: UnsignedCheckpoint): string {
  return JSON.stringify([SIGNING_DOMAIN, checkpoint.seq, checkpoint.hash, checkpoint.at.toISOString(), checkpoint.instance, checkpoint.keyId]);
}

export function signCheckpoint(unsigned: Omit<UnsignedCheckpoint, 'keyId'>, signer: CheckpointSigner): Checkpoint {
  const withKey = { ...unsigned, keyId: signer.keyId };
  return { ...withKey, signature: signer.sign(checkpointSigningBytes(withKey)) };
}

/**
 * The `audit.checkpointed` event that carries a checkpoint inside the chain itself, so every export
 * and every sink receives the evidence along with the events it covers.
 */
export function checkpointEvent(checkpoint: Checkpoint, reason: 'cadence' | 'export' | 'purge'): AuditEventInput {
  return {
    type: 'audit.checkpointed',
    at: checkpoint.at,
    actor: { kind: 'system', id: checkpoint.instance },
    subject: null,
    outcome: 'success',
    reason,
    ip: null,
    userAgent: null,
    department: null,
    tier: null,
    flowId: null,
    data: {
      checkpoint_seq: checkpoint.seq,
      checkpoint_hash: checkpoint.hash,
      checkpoint_at: checkpoint.at.toISOString(),
      instance: checkpoint.instance,
      key_id: checkpoint.keyId,
      signature: checkpoint.signature,
    },
  };
}

/** The checkpoint an `audit.checkpointed` event carries, or null when the event is of another type or malformed. */
export function checkpointFromEvent(record: Pick<AuditRecord, 'type' | 'data'>): Checkpoint | null {
  if (record.type !== 'audit.checkpointed') return null;
  const data: AuditData = record.data;
  const { checkpoint_seq: seq, checkpoint_hash: hash, checkpoint_at: at, instance, key_id: keyId, signature } = data;
  if (typeof seq !== 'number' || typeof hash !== 'string' || typeof at !== 'string' || typeof instance !== 'string' || typeof keyId !== 'string' || typeof signature !== 'string') return null;
  const time = new Date(at);
  if (Number.isNaN(time.getTime())) return null;
  return { seq, hash, at: time, instance, keyId, signature };
}

export type EvidenceVerdict =
  | {
      readonly ok: true;
      /** Events verified. */
      readonly count: number;
      /** The seq the kept log starts after: 0 from genesis, else the anchor checkpoint's seq. */
      readonly startSeq: number;
      readonly lastSeq: number;
      readonly headHash: string;
      /** Checkpoints whose signature and hash were checked against the log. */
      readonly checkpoints: number;
      /** The newest checked checkpoint, or null when none covers any part of the log. */
      readonly lastCheckpoint: Checkpoint | null;
      /** Events after the last checkpoint that no signature covers (checkpoint events themselves excepted). */
      readonly unsigned: number;
      /** The first of those, or null. */
      readonly firstUnsignedSeq: number | null;
    }
  | { readonly ok: false; readonly count: number; readonly firstBadSeq: number; readonly problem: string };

export interface EvidenceOptions {
  /**
   * Every checkpoint known for this log (from the checkpoint table, or gathered from the
   * `audit.checkpointed` events of an export in a first pass). Order does not matter.
   */
  readonly checkpoints: Iterable<Checkpoint>;
  /** Signature checks; null verifies the chain and the checkpoints' hashes but no signature (no public key given). */
  readonly verifier: CheckpointVerifier | null;
}

const describeVerdict = (verdict: SignatureVerdict, checkpoint: Checkpoint): string =>
  verdict === 'unknown_key'
    ? `the checkpoint of #${checkpoint.seq} is signed by key ${checkpoint.keyId}, which is not among the public keys given`
    : `the checkpoint of #${checkpoint.seq} has a signature that does not verify (forged, or altered after signing)`;

/**
 * Verifies a log segment end to end: the hash chain, every checkpoint's signature, that each
 * checkpoint's (seq, hash) matches the log, and how much of the tail no checkpoint covers.
 *
 * A segment may begin after purged events: then its first record's predecessor (seq − 1 and the
 * first record's prevHash) must be a signed checkpoint, the anchor, and verification starts there.
 * A checkpoint beyond the last record shows events cut from the end. Records must come in seq order.
 */
export async function verifyEvidence(records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>, options: EvidenceOptions): Promise<EvidenceVerdict> {
  const bySeq = new Map<number, Checkpoint>();
  for (const checkpoint of options.checkpoints) {
    const known = bySeq.get(checkpoint.seq);
    if (known !== undefined && known.hash !== checkpoint.hash) {
      return { ok: false, count: 0, firstBadSeq: checkpoint.seq, problem: `two checkpoints of #${checkpoint.seq} disagree on its hash` };
    }
    if (known === undefined || options.verifier === null || checkSignature(options.verifier, known) !== 'valid') bySeq.set(checkpoint.seq, checkpoint);
  }

  const verifier = options.verifier;
  const state = {
    failure: null as { firstBadSeq: number; problem: string } | null,
    last: null as AuditRecord | null,
    checked: 0,
    lastCheckpoint: null as Checkpoint | null,
    unsigned: 0,
    firstUnsignedSeq: null as number | null,
  };
  const accept = (checkpoint: Checkpoint, seq: number): boolean => {
    if (verifier !== null) {
      const verdict = checkSignature(verifier, checkpoint);
      if (verdict !== 'valid') {
        state.failure = { firstBadSeq: seq, problem: describeVerdict(verdict, checkpoint) };
        return false;
      }
    }
    state.checked += 1;
    state.lastCheckpoint = checkpoint;
    state.unsigned = 0;
    state.firstUnsignedSeq = null;
    return true;
  };

  const iterator = Symbol.asyncIterator in records ? records[Symbol.asyncIterator]() : toAsync(records[Symbol.iterator]());
  const first = await iterator.next();
  if (first.done === true) {
    const beyond = newest(bySeq.values());
    if (beyond !== undefined) return { ok: false, count: 0, firstBadSeq: 1, problem: `the log is empty but a checkpoint covers #${beyond.seq} (events were deleted)` };
    return { ok: true, count: 0, startSeq: 0, lastSeq: 0, headHash: GENESIS_HASH, checkpoints: 0, lastCheckpoint: null, unsigned: 0, firstUnsignedSeq: null };
  }
  const head = first.value;
  let start = { seq: 0, hash: GENESIS_HASH };
  if (head.seq !== 1) {
    const anchor = bySeq.get(head.seq - 1);
    if (anchor === undefined) {
      return { ok: false, count: 0, firstBadSeq: head.seq, problem: `the log begins at #${head.seq}, but no checkpoint of #${head.seq - 1} anchors it (events before it were deleted)` };
    }
    if (anchor.hash !== head.prevHash) {
      return { ok: false, count: 0, firstBadSeq: head.seq, problem: `record #${head.seq} does not link to the anchor checkpoint of #${anchor.seq}` };
    }
    if (!accept(anchor, head.seq) && state.failure !== null) return { ok: false, count: 0, ...state.failure };
    start = { seq: anchor.seq, hash: anchor.hash };
  }

  async function* inspected(): AsyncGenerator<AuditRecord> {
    let next: IteratorResult<AuditRecord> = first;
    while (next.done !== true) {
      const record = next.value;
      yield record;
      // verifyChain asks for the next record only once it accepted this one; a rejected record ends the walk here.
      state.last = record;
      const covering = bySeq.get(record.seq);
      const own = checkpointFromEvent(record);
      if (covering !== undefined) {
        if (covering.hash !== record.hash) {
          state.failure = { firstBadSeq: record.seq, problem: `record #${record.seq} does not match the hash its checkpoint signed (it was changed after signing)` };
          return;
        }
        if (!accept(covering, record.seq)) return;
      } else if (own === null || bySeq.get(own.seq)?.signature !== own.signature || (verifier !== null && checkSignature(verifier, own) !== 'valid')) {
        // A checkpoint event whose checkpoint is known and valid adds no unsigned claim: its content is the signed checkpoint itself.
        state.unsigned += 1;
        state.firstUnsignedSeq ??= record.seq;
      }
      next = await iterator.next();
    }
  }

  const chain = await verifyChain(inspected(), start);
  // The failing record passed the chain check before its checkpoint was looked at: it is not counted as verified.
  if (state.failure !== null) return { ok: false, count: Math.max(0, chain.count - 1), ...state.failure };
  if (!chain.ok) return chain;
  const lastSeq = state.last?.seq ?? start.seq;
  const beyond = newest([...bySeq.values()].filter((checkpoint) => checkpoint.seq > lastSeq));
  if (beyond !== undefined) {
    return { ok: false, count: chain.count, firstBadSeq: lastSeq + 1, problem: `the log ends at #${lastSeq} but a checkpoint covers #${beyond.seq} (events were cut from the end)` };
  }
  return {
    ok: true,
    count: chain.count,
    startSeq: start.seq,
    lastSeq,
    headHash: chain.headHash,
    checkpoints: state.checked,
    lastCheckpoint: state.lastCheckpoint,
    unsigned: state.unsigned,
    firstUnsignedSeq: state.firstUnsignedSeq,
  };
}

function newest(checkpoints: Iterable<Checkpoint>): Checkpoint | undefined {
  let found: Checkpoint | undefined;
  for (const checkpoint of checkpoints) if (found === undefined || checkpoint.seq > found.seq) found = checkpoint;
  return found;
}

function checkSignature(verifier: CheckpointVerifier, checkpoint: Checkpoint): SignatureVerdict {
  return verifier.verify(checkpoint.keyId, checkpointSigningBytes(checkpoint), checkpoint.signature);
}

function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return { next: () => Promise.resolve(iterator.next()) };
}
