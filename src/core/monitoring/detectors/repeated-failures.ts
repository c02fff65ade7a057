import type { AuditRecord } from '../../audit/events.ts';
import { findingFrom, NOTHING, evidence, type Detector, type Observation, type RiskFlag } from './detector.ts';
import type { MonitoringPolicy } from './settings.ts';
import { addToWindow, emptyWindows, spanInWords, type SlidingWindows } from './sliding-window.ts';

export interface RepeatedFailuresState {
  account: SlidingWindows;
  ip: SlidingWindows;
}

/** A failed gate, an exhausted challenge, or a new password refused: the guessing signals. */
const isFailure = (record: AuditRecord): boolean =>
  record.outcome === 'failure' && (record.type === 'challenge.failed' || record.type === 'challenge.exhausted' || record.type === 'password.rejected');

/**
 * `repeated_failures`: many failed gates or refused passwords for one account, or from one address,
 * within a sliding window. Decoy flows count per address too (their events carry no subject), so
 * guessing against unknown identifiers is seen as well.
 */
export function repeatedFailures(settings: MonitoringPolicy['repeated_failures']): Detector<RepeatedFailuresState> {
  const { perAccount, perIp } = settings;
  return {
    id: 'repeated_failures',
    initialState: () => ({ account: emptyWindows(), ip: emptyWindows() }),
    observe(state, record): Observation {
      if (!isFailure(record)) return NOTHING;
      const at = record.at.getTime();
      const findings = [];
      const flags: RiskFlag[] = [];
      if (record.subject !== null) {
        const window = addToWindow(state.account, record.subject, record.id, at, record.id, perAccount.windowSeconds * 1000, perAccount.count);
        if (window.entries.length >= perAccount.count && !window.alerted) {
          window.alerted = true;
          findings.push(
            findingFrom(record, 'repeated_failures', 'medium', {
              dedupeKey: `repeated_failures:account:${record.subject}`,
              summary: `${window.entries.length} failed gates or refused passwords for one account within ${spanInWords(perAccount.windowSeconds)}`,
              observed: { scope: 'account', failures: window.entries.length, window_seconds: perAccount.windowSeconds, last_reason: record.reason },
              baseline: `threshold ${perAccount.count} failures per account in ${spanInWords(perAccount.windowSeconds)}`,
              eventIds: evidence(window.entries.map(([, , id]) => id)),
              ip: null,
            }),
          );
        }
      }
      if (record.ip !== null) {
        const windowMs = perIp.windowSeconds * 1000;
        const window = addToWindow(state.ip, record.ip, record.id, at, record.id, windowMs, perIp.count);
        if (window.entries.length >= perIp.count) {
          flags.push({ scope: 'ip', value: record.ip, untilMs: at + windowMs, detectorId: 'repeated_failures' });
          if (!window.alerted) {
            window.alerted = true;
            findings.push(
              findingFrom(record, 'repeated_failures', 'high', {
                dedupeKey: `repeated_failures:ip:${record.ip}`,
                summary: `${window.entries.length} failed gates or refused passwords from one address within ${spanInWords(perIp.windowSeconds)}`,
                observed: { scope: 'ip', failures: window.entries.length, window_seconds: perIp.windowSeconds, last_reason: record.reason },
                baseline: `threshold ${perIp.count} failures per address in ${spanInWords(perIp.windowSeconds)}`,
                eventIds: evidence(window.entries.map(([, , id]) => id)),
                subject: null,
                department: null,
              }),
            );
          }
        }
      }
      return { findings, flags };
    },
  };
}
