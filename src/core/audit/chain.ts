import { createHash } from 'node:crypto';
import type { AuditEventInput, AuditRecord } from './events.ts';

/** The hash every chain starts from. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The exact bytes an event's hash covers: every field but the hash itself, in a fixed order, with
 * data keys sorted. Changing this function breaks every existing chain, so it never changes.
 */
export function canonicalEventBytes(record: Omit<AuditRecord, 'hash'>): string {
  const data = Object.keys(record.data)
    .sort()
    .map((key) => [key, record.data[key] ?? null]);
  return JSON.stringify([
    record.seq,
    record.id,
    record.at.toISOString(),
    record.type,
    record.actor.kind,
    record.actor.id,
    record.subject,
    record.outcome,
    record.reason,
    record.ip,
    record.userAgent,
    record.department,
    record.tier,
    record.flowId,
    data,
    record.prevHash,
  ]);
}

export function hashEvent(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(canonicalEventBytes(record)).digest('hex');
}

/** Links a new event to the chain head. Callers must hold the head exclusively while they append. */
export function linkEvent(
  event: AuditEventInput,
  head: { readonly seq: number; readonly hash: string },
  id: string,
): AuditRecord {
  const unhashed = { ...event, seq: head.seq + 1, id, prevHash: head.hash };
  return { ...unhashed, hash: hashEvent(unhashed) };
}

export type ChainVerdict =
  | { readonly ok: true; readonly count: number; readonly headHash: string }
  | { readonly ok: false; readonly count: number; readonly firstBadSeq: number; readonly problem: string };

/**
 * Walks records in stored order and reports the first one that breaks the chain: an edited record
 * (hash mismatch), a deleted one (gap in seq or prevHash mismatch) or a reordering.
 */
export async function verifyChain(
  records: AsyncIterable<AuditRecord> | Iterable<AuditRecord>,
  start: { readonly seq: number; readonly hash: string } = { seq: 0, hash: GENESIS_HASH },
): Promise<ChainVerdict> {
  let expectedSeq = start.seq + 1;
  let prevHash = start.hash;
  let count = 0;
  for await (const record of records) {
    if (record.seq !== expectedSeq) {
      return { ok: false, count, firstBadSeq: record.seq, problem: `expected record #${expectedSeq}, found #${record.seq} (a record was deleted or moved)` };
    }
    if (record.prevHash !== prevHash) {
      return { ok: false, count, firstBadSeq: record.seq, problem: `record #${record.seq} does not link to the record before it` };
    }
    const { hash, ...unhashed } = record;
    if (hashEvent(unhashed) !== hash) {
      return { ok: false, count, firstBadSeq: record.seq, problem: `record #${record.seq} was changed after it was written` };
    }
    prevHash = hash;
    expectedSeq += 1;
    count += 1;
  }
  return { ok: true, count, headHash: prevHash };
}
