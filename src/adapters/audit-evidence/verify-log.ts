import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { checkpointFromEvent, verifyEvidence, type Checkpoint, type CheckpointVerifier, type EvidenceVerdict } from '../../core/audit/checkpoint.ts';
import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditRecord } from '../../core/audit/events.ts';
import type { AccountId, FlowId } from '../../core/account/ids.ts';
import type { Tier } from '../../core/account/account.ts';
import type { Store } from '../../core/ports/store.ts';

/*
 * End-to-end verification of the audit log, from the database or from an exported JSON Lines file
 * (the format `latchkey audit export` writes: one record per line, `at` in ISO 8601). The checks
 * themselves are core/audit/checkpoint.ts verifyEvidence; this module feeds it.
 */

/** A file that is not a Latchkey export; the message names the line. */
export class ExportFormatError extends Error {
  override readonly name = 'ExportFormatError';
}

const nullableText = z.string().nullable();
const exportedRecordSchema = z
  .object({
    seq: z.int().min(1),
    id: z.string(),
    at: z.iso.datetime({ offset: true }),
    type: z.string().refine((type) => Object.hasOwn(AUDIT_EVENT_TYPES, type), 'is not a known audit event type'),
    actor: z.object({ kind: z.enum(['person', 'anonymous', 'admin', 'admin_token', 'cli', 'system']), id: nullableText }).strict(),
    subject: nullableText,
    outcome: z.enum(['success', 'failure', 'info']),
    reason: nullableText,
    ip: nullableText,
    userAgent: nullableText,
    department: nullableText,
    tier: nullableText,
    flowId: nullableText,
    data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
    prevHash: z.string(),
    hash: z.string(),
  })
  .strict();

/** Parses one exported line back into the record it was made from (the inverse of the export's JSON.stringify). */
export function parseExportedRecord(line: string, where: string): AuditRecord {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ExportFormatError(`${where}: not JSON`);
  }
  const parsed = exportedRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ExportFormatError(`${where}: ${issue ? `${issue.path.join('.') || 'record'} ${issue.message}` : 'not an audit record'}`);
  }
  const record = parsed.data;
  return {
    ...record,
    type: record.type as AuditEventType,
    at: new Date(record.at),
    subject: record.subject as AccountId | null,
    tier: record.tier as Tier | null,
    flowId: record.flowId as FlowId | null,
  };
}

async function* exportedRecords(path: string): AsyncGenerator<AuditRecord> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  let lastSeq = 0;
  const recent = new Map<number, string>();
  for await (const line of lines) {
    number += 1;
    if (line.trim() === '') continue;
    const record = parseExportedRecord(line, `${path}:${number}`);
    // A sink delivers at least once: a line repeating one already read, byte for byte, is a
    // redelivery, not tampering. A repeat that differs in any byte is passed on, and the chain check rejects it.
    const digest = createHash('sha256').update(line).digest('base64');
    if (record.seq <= lastSeq && recent.get(record.seq) === digest) continue;
    lastSeq = Math.max(lastSeq, record.seq);
    recent.set(record.seq, digest);
    if (recent.size > REDELIVERY_WINDOW) recent.delete(recent.keys().next().value as number);
    yield record;
  }
}

/** How many recent records a redelivered duplicate is recognised among (sinks resend at most a batch or two). */
const REDELIVERY_WINDOW = 20_000;

/** The outcome of a verification, with the head the log should reach when it is known (database). */
export type LogVerdict = EvidenceVerdict;

/**
 * Verifies an exported file: a first pass gathers the checkpoints its `audit.checkpointed` events
 * carry (a purge anchor's event comes after the events it anchors), the second walks the chain.
 */
export async function verifyExportFile(path: string, verifier: CheckpointVerifier | null): Promise<LogVerdict> {
  const checkpoints: Checkpoint[] = [];
  for await (const record of exportedRecords(path)) {
    const checkpoint = checkpointFromEvent(record);
    if (checkpoint !== null) checkpoints.push(checkpoint);
  }
  return verifyEvidence(exportedRecords(path), { checkpoints, verifier });
}

/**
 * Verifies the log in the database against its checkpoint table and the recorded chain head. The
 * head is read first: a server may append while this runs, and the walk must at least reach it.
 */
export async function verifyStoredLog(store: Store, verifier: CheckpointVerifier | null): Promise<LogVerdict> {
  const head = await store.audit.head();
  let hashAtHead: string | null = null;
  const records = store.audit.iterate();
  const verdict = await verifyEvidence(
    (async function* () {
      for await (const record of records) {
        if (record.seq === head.seq) hashAtHead = record.hash;
        yield record;
      }
    })(),
    { checkpoints: await store.auditCheckpoints.list(), verifier },
  );
  if (!verdict.ok) return verdict;
  // SECURITY: the chain alone cannot show events cut from its end, so it must also reach the head the store recorded (LOG-5).
  if (verdict.lastSeq < head.seq) {
    return { ok: false, count: verdict.count, firstBadSeq: verdict.lastSeq + 1, problem: `the log ends at #${verdict.lastSeq} but its recorded head is #${head.seq} (events were deleted from the end)` };
  }
  if (head.seq > 0 && hashAtHead !== head.hash) {
    return { ok: false, count: verdict.count, firstBadSeq: head.seq, problem: 'it does not match the recorded head (the log was rewritten)' };
  }
  return verdict;
}

/**
 * The report `latchkey audit verify` prints for a verdict, and whether it is a failure. The first
 * line keeps the form scripts already parse: `audit log intact: N events, head H` or
 * `audit log BROKEN at event #S: problem (N events verified before it)`.
 *
 * `requireSignedHead`: events after the last checkpoint count as a failure (an export handed to
 * an auditor must be signed to its end: anyone can append well-formed events to an unkeyed chain).
 */
export function describeLogVerdict(verdict: LogVerdict, options: { readonly signaturesChecked: boolean; readonly requireSignedHead: boolean }): { lines: string[]; failed: boolean } {
  if (!verdict.ok) return { lines: [`audit log BROKEN at event #${verdict.firstBadSeq}: ${verdict.problem} (${verdict.count} events verified before it)`], failed: true };
  const lines = [`audit log intact: ${verdict.count} events, head ${verdict.headHash}`];
  if (verdict.startSeq > 0) lines.push(`the log begins after #${verdict.startSeq}, anchored by ${options.signaturesChecked ? 'a signed' : 'a (signature not checked)'} checkpoint: older events were purged`);
  const last = verdict.lastCheckpoint;
  if (options.signaturesChecked) {
    lines.push(
      last === null
        ? 'checkpoints: none covers this log'
        : `checkpoints: ${verdict.checkpoints} verified; the last covers #${last.seq}, signed ${last.at.toISOString()} by ${last.instance} with key ${last.keyId}`,
    );
  }
  if (verdict.unsigned > 0) {
    const tail = `${verdict.unsigned} event${verdict.unsigned === 1 ? '' : 's'} after the last checkpoint ${verdict.unsigned === 1 ? 'is' : 'are'} not signed (from #${verdict.firstUnsignedSeq ?? '?'})`;
    if (options.requireSignedHead) return { lines: [`audit log NOT SIGNED TO THE END at event #${verdict.firstUnsignedSeq ?? '?'}: ${tail}; they may have been added or the signed tail cut`, ...lines.slice(1)], failed: true };
    if (options.signaturesChecked) lines.push(tail);
  } else if (options.signaturesChecked && last !== null) {
    lines.push('the head is covered by a signed checkpoint');
  }
  return { lines, failed: false };
}

/**
 * Where an evidence export of the events since `since` begins: right after the newest checkpoint
 * before the first such event, so the file opens at a signed anchor and verifies on its own. 0
 * (the start of the kept log) when no checkpoint precedes it.
 */
export async function evidenceStartSeq(store: Store, since: Date): Promise<number> {
  const [first] = await store.audit.query({ since, limit: 1 });
  const checkpoints = await store.auditCheckpoints.list();
  const before = first === undefined ? checkpoints : checkpoints.filter((checkpoint) => checkpoint.seq < first.seq);
  const [kept] = await store.audit.query({ limit: 1 });
  const anchor = before.at(-1);
  // A checkpoint older than the kept log (its events purged) cannot anchor anything.
  return anchor !== undefined && kept !== undefined && anchor.seq >= kept.seq - 1 ? anchor.seq : 0;
}
