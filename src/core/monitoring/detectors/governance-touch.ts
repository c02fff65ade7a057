import { findingFrom, NOTHING, type Detector, type Observation } from './detector.ts';
import type { NoState } from './tier-touch.ts';

/**
 * `privileged_hold`: a held privileged recovery asks a second admin to confirm it (high), and a hold
 * nobody confirmed by its deadline escalates the same alert to critical. Always on while the policy
 * holds privileged recoveries: the hold is pointless if nobody is asked.
 */
export function privilegedHold(): Detector<NoState> {
  return {
    id: 'privileged_hold',
    initialState: () => ({}),
    observe(_state, record): Observation {
      const held = record.type === 'privileged.recovery_held';
      if (!held && record.type !== 'privileged.recovery_unconfirmed') return NOTHING;
      const holdId = typeof record.data['hold_id'] === 'string' ? record.data['hold_id'] : record.id;
      const purpose = typeof record.data['purpose'] === 'string' ? record.data['purpose'] : 'recovery';
      const deadline = typeof record.data['deadline'] === 'string' ? record.data['deadline'] : null;
      return {
        findings: [
          findingFrom(record, 'privileged_hold', held ? 'high' : 'critical', {
            dedupeKey: `privileged_hold:${holdId}`,
            summary: held
              ? `A ${purpose} of a privileged account is held: a second admin must confirm it (POST /api/admin/privileged-holds/${holdId}/confirm)`
              : `Nobody confirmed the held ${purpose} of a privileged account before its deadline; the account stays held`,
            observed: { hold_id: holdId, purpose, deadline, stage: held ? 'held' : 'unconfirmed' },
            baseline: 'every held privileged recovery needs a second admin',
            eventIds: [record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}

/**
 * `honeytoken_touch`: any recovery start, sign-in or admin lookup naming a honeytoken account, at
 * high severity with the source address. One alert per touch: each is a separate probe worth a look.
 */
export function honeytokenTouch(): Detector<NoState> {
  return {
    id: 'honeytoken_touch',
    initialState: () => ({}),
    observe(_state, record): Observation {
      if (record.type !== 'honeytoken.touched') return NOTHING;
      const via = typeof record.data['via'] === 'string' ? record.data['via'] : 'unknown';
      return {
        findings: [
          findingFrom(record, 'honeytoken_touch', 'high', {
            dedupeKey: `honeytoken_touch:${record.id}`,
            summary: `A honeytoken account was touched (${via.replace('_', ' ')}) from ${record.ip ?? 'an unknown address'}`,
            observed: { via, ip: record.ip, purpose: typeof record.data['purpose'] === 'string' ? record.data['purpose'] : null },
            baseline: 'a honeytoken account is never touched legitimately',
            eventIds: [record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}
