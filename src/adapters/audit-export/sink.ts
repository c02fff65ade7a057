import type { AuditRecord } from '../../core/audit/events.ts';

export type AuditExportSinkKind = 'syslog' | 'jsonl' | 'http';

/**
 * One destination of the audit export. `deliver` sends records (consecutive, in seq order) and
 * resolves only once the destination acknowledged all of them; the exporter advances the sink's
 * cursor after that, so a failure anywhere means the batch is sent again (at-least-once: receivers
 * deduplicate on each event's id, carried in every format). A sink is driven by one exporter loop
 * at a time, never concurrently with itself.
 */
export interface AuditExportSink {
  readonly name: string;
  readonly kind: AuditExportSinkKind;
  /**
   * Throws BatchRejectedError when the destination refused the batch as such (sending it again
   * cannot help); any other error means "try again later".
   */
  deliver(records: readonly AuditRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** The destination refused this batch for good (e.g. HTTP 400): retrying would loop forever. */
export class BatchRejectedError extends Error {
  override readonly name = 'BatchRejectedError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}
