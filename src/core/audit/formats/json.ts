import type { AuditRecord } from '../events.ts';

/**
 * An audit record as exported: every stored field, `at` as ISO 8601 UTC. The same shape `latchkey
 * audit export` writes, so an exported stream can be checked with the same chain logic; `id` is the
 * idempotency key a receiver deduplicates on, `seq` its position.
 */
export type ExportedAuditRecord = Omit<AuditRecord, 'at'> & { readonly at: string };

export function toExportedRecord(record: AuditRecord): ExportedAuditRecord {
  return {
    seq: record.seq,
    id: record.id,
    at: record.at.toISOString(),
    type: record.type,
    actor: record.actor,
    subject: record.subject,
    outcome: record.outcome,
    reason: record.reason,
    ip: record.ip,
    userAgent: record.userAgent,
    department: record.department,
    tier: record.tier,
    flowId: record.flowId,
    data: record.data,
    prevHash: record.prevHash,
    hash: record.hash,
  };
}
