import type { AuditRecord } from '../../audit/events.ts';
import { findingFrom, isRecoveryStart, NOTHING, remember, type Detector, type Observation } from './detector.ts';
import type { MonitoringPolicy } from './settings.ts';

/** How many recent changes and alerted flows are kept per account. */
const KEEP = 10;

interface Change {
  atMs: number;
  eventId: string;
  method: string;
  /** `phone_changed`: a phone activated beside an active one, or after one was removed in the window. */
  change: 'added' | 'removed' | 'phone_changed';
}

/** Whether an sms_code activation replaces a number, by its audit data or a removal just before it. */
function isPhoneChange(record: AuditRecord, earlier: readonly Change[]): boolean {
  if (record.type !== 'enrollment.activated' || record.data['method'] !== 'sms_code') return false;
  return record.data['phone'] === 'changed' || earlier.some((change) => change.method === 'sms_code' && change.change === 'removed');
}

export interface RecentMethodChangeState {
  changes: Record<string, Change[]>;
  /** Flows that already raised, so a start and its completion raise once. */
  alertedFlows: Record<string, string[]>;
}

const isRecoveryEnd = (record: AuditRecord): boolean => record.type === 'recovery.completed' && record.data['purpose'] !== 'sign_in';

/**
 * `recent_method_change`: a reset or unlock shortly after a recovery method of the account was
 * added or removed — the SIM-swap pattern, where an attacker first changes the phone (or mailbox) a
 * code goes to and then recovers with it. Raised at the start of the recovery, or at its completion
 * when the change came during the flow; once per flow.
 */
export function recentMethodChange(settings: MonitoringPolicy['recent_method_change']): Detector<RecentMethodChangeState> {
  const windowMs = settings.windowSeconds * 1000;
  const methods = new Set<string>(settings.methods);
  return {
    id: 'recent_method_change',
    initialState: () => ({ changes: {}, alertedFlows: {} }),
    observe(state, record): Observation {
      if (record.subject === null) return NOTHING;
      const at = record.at.getTime();
      const method = record.data['method'];
      if ((record.type === 'enrollment.activated' || record.type === 'enrollment.removed') && record.outcome === 'success' && typeof method === 'string' && methods.has(method)) {
        const list = (state.changes[record.subject] ??= []).filter((change) => at - change.atMs < windowMs);
        const change: Change['change'] = isPhoneChange(record, list) ? 'phone_changed' : record.type === 'enrollment.activated' ? 'added' : 'removed';
        list.push({ atMs: at, eventId: record.id, method, change });
        state.changes[record.subject] = list.slice(-KEEP);
        return NOTHING;
      }
      if (!isRecoveryStart(record) && !isRecoveryEnd(record)) return NOTHING;
      const recent = (state.changes[record.subject] ?? []).filter((change) => at - change.atMs < windowMs && change.atMs <= at);
      if (recent.length === 0) {
        if (state.changes[record.subject]) delete state.changes[record.subject];
        return NOTHING;
      }
      const flows = (state.alertedFlows[record.subject] ??= []);
      if (record.flowId !== null && flows.includes(record.flowId)) return NOTHING;
      if (record.flowId !== null) remember(flows, record.flowId, KEEP);
      const latest = recent[recent.length - 1] as Change;
      const minutes = Math.round((at - latest.atMs) / 60_000);
      const purpose = typeof record.data['purpose'] === 'string' ? record.data['purpose'] : 'recovery';
      const phoneChanged = recent.some((change) => change.change === 'phone_changed');
      // A phone change anywhere in the window is the SIM-swap pattern itself, so it names the finding
      // even when a later step (removing the old number) is the latest change.
      const what = phoneChanged ? 'the phone number was changed' : `a ${latest.method} method was ${latest.change}`;
      return {
        findings: [
          findingFrom(record, 'recent_method_change', 'high', {
            dedupeKey: `recent_method_change:${record.subject}:${latest.eventId}`,
            summary: `A ${purpose} ${record.type === 'recovery.started' ? 'was started' : 'completed'} ${minutes} minutes after ${what} on the account`,
            observed: { purpose, changes: recent.length, last_method: latest.method, last_change: latest.change, minutes_since_change: minutes, phone_changed: phoneChanged },
            baseline: `recoveries within ${settings.windowSeconds / 3600} hours of a change to ${[...methods].join(', ')}`,
            eventIds: [...recent.map((change) => change.eventId), record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}
