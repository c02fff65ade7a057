import type { AuditEventType, AuditRecord } from '../events.ts';

/** OCSF severity_id values: 1 Informational, 2 Low, 3 Medium, 4 High. */
export type ExportSeverity = 1 | 2 | 3 | 4;

/** Events a security team wants to see before the rest of their kind. */
const RAISED: Partial<Record<AuditEventType, ExportSeverity>> = {
  'challenge.exhausted': 3,
  'account.locked': 3,
  'recovery.interrupted': 3,
  'recovery.refused': 3,
  'audit_export.stalled': 3,
  'audit_export.failed': 4,
};

/**
 * One severity per event for every export format, so OCSF and CEF agree: raised types first, then
 * failures Low and everything else Informational.
 */
export function exportSeverity(record: Pick<AuditRecord, 'type' | 'outcome'>): ExportSeverity {
  return RAISED[record.type] ?? (record.outcome === 'failure' ? 2 : 1);
}
