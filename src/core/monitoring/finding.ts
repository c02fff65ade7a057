import type { AccountId } from '../account/ids.ts';

export const ALERT_SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * What a detector saw, explained well enough that a person can act on it without reading code:
 * the observation, the baseline it was judged against, and the audit events behind it.
 * Detectors produce findings; the alert service stores, deduplicates, throttles and delivers them.
 */
export interface Finding {
  /** The detector's stable id, e.g. `repeated_failures`. */
  readonly detectorId: string;
  readonly severity: AlertSeverity;
  /**
   * Findings with the same key are one alert: a repeat updates the open alert instead of raising
   * a new one (e.g. `repeated_failures:ip:203.0.113.9`).
   */
  readonly dedupeKey: string;
  /** One sentence for a person, e.g. "12 failed gates for one account within 15 minutes". */
  readonly summary: string;
  /** The account concerned, when there is one. */
  readonly subject: AccountId | null;
  readonly ip: string | null;
  readonly department: string | null;
  /** What was observed against what was expected: scalar facts only, never a secret. */
  readonly observed: Readonly<Record<string, string | number | boolean | null>>;
  /** How the baseline or threshold was judged, in words (e.g. "mean 0.4/h on Mondays 09:00, z=6.1"). */
  readonly baseline: string | null;
  /** Audit event ids (AuditRecord.id) that support the finding, oldest first; at most 50. */
  readonly eventIds: readonly string[];
  readonly at: Date;
}
