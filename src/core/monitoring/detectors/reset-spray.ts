import type { AuditRecord } from '../../audit/events.ts';
import type { Finding } from '../finding.ts';
import { evidence, findingFrom, isRecoveryStart, NOTHING, type Detector, type Observation, type RiskFlag } from './detector.ts';
import { networkOf } from './network.ts';
import type { MonitoringPolicy } from './settings.ts';
import { addToWindow, emptyWindows, spanInWords, type SlidingWindows } from './sliding-window.ts';

export interface ResetSprayState {
  ip: SlidingWindows;
  network: SlidingWindows;
}

/**
 * Who a start touched: the account when the identifier matched one, otherwise the keyed hash of the
 * identifier that `recovery.started` records for every start (so starts for unknown or throttled
 * identifiers, which run as decoys without a subject, are counted by distinct identifier).
 */
function touched(record: AuditRecord): string | null {
  if (record.subject !== null) return `account:${record.subject}`;
  const hash = record.data['identifier_hash'];
  return typeof hash === 'string' ? `identifier:${hash}` : null;
}

/**
 * `reset_spray`: one address, or one network (IPv4 /24, IPv6 /64), starting resets or unlocks for
 * many distinct accounts within a window — someone working through a list of people.
 */
export function resetSpray(settings: MonitoringPolicy['reset_spray']): Detector<ResetSprayState> {
  const scopes = [
    { scope: 'ip', rule: settings.perIp, key: (ip: string): string | null => ip, words: 'one address', severity: 'high' },
    { scope: 'network', rule: settings.perNetwork, key: networkOf, words: 'one network', severity: 'high' },
  ] as const;
  return {
    id: 'reset_spray',
    initialState: () => ({ ip: emptyWindows(), network: emptyWindows() }),
    observe(state, record): Observation {
      if (!isRecoveryStart(record) || record.ip === null) return NOTHING;
      const who = touched(record);
      if (who === null) return NOTHING;
      const at = record.at.getTime();
      const findings: Finding[] = [];
      const flags: RiskFlag[] = [];
      for (const { scope, rule, key, words, severity } of scopes) {
        const value = key(record.ip);
        if (value === null) continue;
        const windowMs = rule.windowSeconds * 1000;
        const window = addToWindow(state[scope], value, who, at, record.id, windowMs, rule.accounts);
        if (window.entries.length < rule.accounts) continue;
        flags.push({ scope, value, untilMs: at + windowMs, detectorId: 'reset_spray' });
        if (window.alerted) continue;
        window.alerted = true;
        const known = window.entries.filter(([entry]) => entry.startsWith('account:')).length;
        findings.push(
          findingFrom(record, 'reset_spray', severity, {
            dedupeKey: `reset_spray:${scope}:${value}`,
            summary: `${words} (${value}) started recoveries for ${window.entries.length} different accounts within ${spanInWords(rule.windowSeconds)}`,
            observed: { scope, [scope]: value, distinct_targets: window.entries.length, known_accounts: known, unknown_identifiers: window.entries.length - known, window_seconds: rule.windowSeconds },
            baseline: `threshold ${rule.accounts} distinct accounts per ${scope === 'ip' ? 'address' : 'network'} in ${spanInWords(rule.windowSeconds)}`,
            eventIds: evidence(window.entries.map(([, , id]) => id)),
            subject: null,
            department: null,
          }),
        );
      }
      return { findings, flags };
    },
  };
}
