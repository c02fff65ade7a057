import type { AccountId } from '../../account/ids.ts';
import type { AuditRecord } from '../../audit/events.ts';
import type { GeoIpLookup, NetworkDenyList } from '../../ports/geoip.ts';
import type { AlertSeverity, Finding } from '../finding.ts';

/** Stable detector ids: they name policy entries, findings and stored state, and never change. */
export const DETECTOR_IDS = [
  'repeated_failures',
  'reset_spray',
  'department_spike',
  'new_country',
  'impossible_travel',
  'unusual_network',
  'recent_method_change',
  'privileged_recovery',
  'break_glass_touch',
  'privileged_hold',
  'honeytoken_touch',
] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];

/**
 * Declared travel of an account (src/core/travel): inside a window, impossible_travel stays quiet
 * for that account, and new_country treats the declared countries as expected and any other as a
 * finding.
 */
export interface TravelWindows {
  isTravelling(account: AccountId, at: Date): boolean;
  /** `expected`/`elsewhere` when a trip is in force and `country` is / is not among its countries (see travelVerdict); absent judges as `no_trip`. */
  verdict?(account: AccountId, at: Date, country: string | null): 'no_trip' | 'expected' | 'elsewhere' | 'unplaced';
}

/** What a detector may consult besides its own state. Everything is in memory; nothing does I/O. */
export interface DetectorContext {
  readonly geo: GeoIpLookup | null;
  readonly denyList: NetworkDenyList | null;
  readonly travelWindows: TravelWindows | null;
}

/**
 * A request to treat an address (or a whole network, `192.0.2.0/24`) as risky at the start of a
 * recovery until `untilMs`. Raised again on every event that keeps it over its threshold, so the
 * flag lasts as long as the behaviour does.
 */
export interface RiskFlag {
  readonly scope: 'ip' | 'network';
  readonly value: string;
  readonly untilMs: number;
  readonly detectorId: DetectorId;
}

export interface Observation {
  readonly findings: readonly Finding[];
  readonly flags: readonly RiskFlag[];
}

export const NOTHING: Observation = { findings: [], flags: [] };

/**
 * A rule over the audit stream. Pure: `observe` looks only at the record, the state and the
 * context, and judges time by the record's own `at`, so replaying the same records from the same
 * state gives the same findings (which is what makes a restart neither lose nor repeat one).
 *
 * The state is explicit, plain JSON (objects, arrays, numbers, strings), owned by the caller and
 * mutated in place by `observe`; the runner stores it. Every detector bounds its state: windows
 * are pruned as time passes and per-account memories are capped.
 */
export interface Detector<S = unknown> {
  readonly id: DetectorId;
  initialState(): S;
  observe(state: S, record: AuditRecord, context: DetectorContext): Observation;
}

/** At most this many supporting event ids travel with a finding (see Finding.eventIds). */
export const MAX_EVIDENCE = 50;

/** Keeps the newest `MAX_EVIDENCE` ids, oldest first. */
export const evidence = (ids: readonly string[]): string[] => ids.slice(-MAX_EVIDENCE);

/** Builds a finding from the record that triggered it; unset facts default to the record's own. */
export function findingFrom(
  record: AuditRecord,
  detectorId: DetectorId,
  severity: AlertSeverity,
  parts: Pick<Finding, 'dedupeKey' | 'summary' | 'observed' | 'baseline' | 'eventIds'> & Partial<Pick<Finding, 'subject' | 'ip' | 'department'>>,
): Finding {
  return {
    detectorId,
    severity,
    subject: record.subject,
    ip: record.ip,
    department: record.department,
    ...parts,
    at: record.at,
  };
}

/** Recovery starts: resets and unlocks, not the gate of a sign-in. */
export function isRecoveryStart(record: AuditRecord): boolean {
  return record.type === 'recovery.started' && (record.data['purpose'] === 'reset' || record.data['purpose'] === 'unlock');
}

/**
 * Events that prove the account's owner was at this address: a completed sign-in (password plus a
 * gate) or a completed recovery (every gate). They teach the detectors which countries and networks
 * are normal for the account. A start, a failure or a single passed gate never teaches, so an
 * attacker cannot make their own network look familiar by trying, nor with one stolen factor.
 */
export function isOwnerProof(record: AuditRecord): boolean {
  return record.subject !== null && record.ip !== null && record.outcome === 'success' && (record.type === 'sign_in.succeeded' || record.type === 'recovery.completed');
}

/** Any successful step of the account's owner from an address: an owner proof, or a passed gate. */
export function isSuccessfulStep(record: AuditRecord): boolean {
  return isOwnerProof(record) || (record.subject !== null && record.ip !== null && record.outcome === 'success' && record.type === 'challenge.passed');
}

/** Appends to a bounded most-recent-last list, moving a repeat to the end. */
export function remember(list: string[], value: string, max: number): void {
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1);
  list.push(value);
  while (list.length > max) list.shift();
}
