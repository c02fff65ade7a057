import type { AccountId } from '../../account/ids.ts';
import { ALERT_SEVERITIES, type AlertSeverity, type Finding } from '../finding.ts';

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

/** Evidence kept per alert: repeats append their event ids up to this many, newest last. */
export const MAX_ALERT_EVENT_IDS = 200;

/** Who changed an alert's status, when and why (`by` is the admin token id, or `cli:<user>`). */
export interface AlertTransition {
  readonly at: Date;
  readonly by: string;
  readonly reason: string;
}

/**
 * One alert: the stored form of one or more findings with the same dedupe key. At most one alert
 * per key is active (open or acknowledged) at a time; the store enforces it.
 */
export interface AlertRecord {
  readonly id: string;
  readonly dedupeKey: string;
  readonly detectorId: string;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly summary: string;
  readonly subject: AccountId | null;
  readonly ip: string | null;
  readonly department: string | null;
  /** The latest finding's observed facts (the newest picture of what is happening). */
  readonly observed: Readonly<Record<string, string | number | boolean | null>>;
  readonly baseline: string | null;
  /** Supporting audit event ids across every occurrence, oldest first, at most MAX_ALERT_EVENT_IDS. */
  readonly eventIds: readonly string[];
  readonly occurrences: number;
  readonly firstSeenAt: Date;
  readonly lastSeenAt: Date;
  readonly acknowledged: AlertTransition | null;
  readonly resolved: AlertTransition | null;
  /** The resolved alert of the same key this one is a recurrence of, if any. */
  readonly recurrenceOf: string | null;
  /** When a notification about this alert last went out, and at which severity (throttle state). */
  readonly lastNotifiedAt: Date | null;
  readonly notifiedSeverity: AlertSeverity | null;
  /** Optimistic-concurrency counter: every update names the version it read. */
  readonly version: number;
}

export const severityRank = (severity: AlertSeverity): number => ALERT_SEVERITIES.indexOf(severity);
const higher = (a: AlertSeverity, b: AlertSeverity): AlertSeverity => (severityRank(a) >= severityRank(b) ? a : b);

/** What a finding did to the alert of its key. */
export type FindingEffect =
  /** No active alert of the key: a new one (possibly a recurrence of a resolved one). */
  | 'raised'
  /** A repeat of an active alert at a severity no higher than it already has. */
  | 'repeated'
  /** A repeat of an active alert at a higher severity. */
  | 'escalated';

/**
 * Folds a finding into the active alert of its key (or none): the pure dedupe step.
 *
 * A repeat updates the count, last-seen time, the newest observed facts and baseline, appends its
 * evidence (bounded, duplicates dropped) and keeps the highest severity seen. The status does not
 * change: an acknowledged alert stays acknowledged while it recurs. A finding whose key has no
 * active alert raises a new one; `previous` names a resolved alert of the same key, so a recurrence
 * after resolve is a new alert linked to the old one, and the old one keeps who resolved it and why.
 */
export function applyFinding(
  active: AlertRecord | null,
  finding: Finding,
  now: Date,
  newId: () => string,
  previous: { readonly id: string } | null = null,
): { alert: AlertRecord; effect: FindingEffect } {
  const seenAt = finding.at.getTime() > now.getTime() ? now : finding.at;
  if (active === null) {
    return {
      effect: 'raised',
      alert: {
        id: newId(),
        dedupeKey: finding.dedupeKey,
        detectorId: finding.detectorId,
        severity: finding.severity,
        status: 'open',
        summary: finding.summary,
        subject: finding.subject,
        ip: finding.ip,
        department: finding.department,
        observed: finding.observed,
        baseline: finding.baseline,
        eventIds: boundEvidence([], finding.eventIds),
        occurrences: 1,
        firstSeenAt: seenAt,
        lastSeenAt: seenAt,
        acknowledged: null,
        resolved: null,
        recurrenceOf: previous?.id ?? null,
        lastNotifiedAt: null,
        notifiedSeverity: null,
        version: 0,
      },
    };
  }
  const severity = higher(active.severity, finding.severity);
  return {
    effect: severityRank(severity) > severityRank(active.severity) ? 'escalated' : 'repeated',
    alert: {
      ...active,
      severity,
      summary: finding.summary,
      observed: finding.observed,
      baseline: finding.baseline,
      ip: active.ip ?? finding.ip,
      department: active.department ?? finding.department,
      eventIds: boundEvidence(active.eventIds, finding.eventIds),
      occurrences: active.occurrences + 1,
      lastSeenAt: seenAt.getTime() > active.lastSeenAt.getTime() ? seenAt : active.lastSeenAt,
    },
  };
}

/** Appends new ids, dropping ones already kept; when over the bound the oldest go first. */
function boundEvidence(kept: readonly string[], added: readonly string[]): string[] {
  const seen = new Set(kept);
  const merged = [...kept];
  for (const id of added) {
    if (seen.has(id)) continue;
    seen.add(id);
    merged.push(id);
  }
  return merged.slice(-MAX_ALERT_EVENT_IDS);
}

/** An admin's command on an alert. */
export type AlertCommand = { readonly kind: 'acknowledge' | 'resolve' } & AlertTransition;

/**
 * The status machine: open → acknowledged → resolved, and open → resolved directly. Acknowledging
 * twice, or touching a resolved alert, is refused with the reason; resolved is terminal (a
 * recurrence raises a new alert, see applyFinding).
 */
export function transitionAlert(alert: AlertRecord, command: AlertCommand): { ok: true; alert: AlertRecord } | { ok: false; reason: string } {
  const transition: AlertTransition = { at: command.at, by: command.by, reason: command.reason };
  if (alert.status === 'resolved') return { ok: false, reason: `The alert is already resolved; a recurrence raises a new alert.` };
  if (command.kind === 'acknowledge') {
    if (alert.status === 'acknowledged') return { ok: false, reason: 'The alert is already acknowledged.' };
    return { ok: true, alert: { ...alert, status: 'acknowledged', acknowledged: transition } };
  }
  return { ok: true, alert: { ...alert, status: 'resolved', resolved: transition } };
}
