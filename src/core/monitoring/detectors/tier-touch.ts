import type { AuditRecord } from '../../audit/events.ts';
import { findingFrom, isRecoveryStart, NOTHING, type Detector, type Observation } from './detector.ts';

/** Stateless detectors keep an empty object, so the runner treats every detector alike. */
export type NoState = Record<string, never>;

const purposeOf = (record: AuditRecord): string => (typeof record.data['purpose'] === 'string' ? record.data['purpose'] : 'recovery');

/**
 * `privileged_recovery`: every reset or unlock of a privileged account is raised, at its start and
 * again (same alert) when it completes. Not a threshold: administrators recover rarely, and each
 * one is worth a look.
 */
export function privilegedRecovery(): Detector<NoState> {
  return {
    id: 'privileged_recovery',
    initialState: () => ({}),
    observe(_state, record): Observation {
      if (record.tier !== 'privileged' || record.subject === null) return NOTHING;
      const completed = record.type === 'recovery.completed' && record.data['purpose'] !== 'sign_in';
      if (!isRecoveryStart(record) && !completed) return NOTHING;
      const purpose = purposeOf(record);
      return {
        findings: [
          findingFrom(record, 'privileged_recovery', 'high', {
            dedupeKey: `privileged_recovery:${record.flowId ?? record.id}`,
            summary: `A ${purpose} of a privileged account ${completed ? 'completed' : 'was started'}`,
            observed: { tier: 'privileged', purpose, stage: completed ? 'completed' : 'started' },
            baseline: 'every privileged recovery is raised',
            eventIds: [record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}

/**
 * `break_glass_touch`: any event that names the break-glass tier — a self-service attempt on a
 * break-glass account is refused (and runs on as a decoy), and is raised here at critical severity,
 * because nobody but an attacker or a confused owner should ever try.
 */
export function breakGlassTouch(): Detector<NoState> {
  return {
    id: 'break_glass_touch',
    initialState: () => ({}),
    observe(_state, record): Observation {
      if (record.tier !== 'break_glass' && record.data['tier'] !== 'break_glass') return NOTHING;
      return {
        findings: [
          findingFrom(record, 'break_glass_touch', 'critical', {
            dedupeKey: `break_glass_touch:${record.flowId ?? record.id}`,
            summary: `A break-glass account was touched: ${record.type}${record.reason ? ` (${record.reason})` : ''}`,
            observed: { tier: 'break_glass', event_type: record.type, outcome: record.outcome },
            baseline: 'every touch of a break-glass account is raised',
            eventIds: [record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}
