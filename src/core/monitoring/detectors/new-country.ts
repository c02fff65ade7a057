import { findingFrom, isOwnerProof, isRecoveryStart, NOTHING, remember, type Detector, type Observation } from './detector.ts';
import type { MonitoringPolicy } from './settings.ts';

export interface NewCountryState {
  /** Countries each account proved itself from (signed in, or completed a recovery), most recent last. */
  seen: Record<string, string[]>;
}

/**
 * `new_country`: a reset or unlock started for an account from a country it never succeeded from
 * before. History is learned from the audit stream itself (completed sign-ins and recoveries),
 * never from a start, a failure or a single passed gate, so an attacker cannot make a country
 * familiar by trying. An account with no history yet has no baseline: its first countries only teach.
 */
export function newCountry(settings: MonitoringPolicy['new_country']): Detector<NewCountryState> {
  return {
    id: 'new_country',
    initialState: () => ({ seen: {} }),
    observe(state, record, context): Observation {
      if (context.geo === null || record.subject === null || record.ip === null) return NOTHING;
      if (isOwnerProof(record)) {
        const country = context.geo.lookup(record.ip)?.country;
        if (country) remember((state.seen[record.subject] ??= []), country, settings.maxCountriesPerAccount);
        return NOTHING;
      }
      if (!isRecoveryStart(record)) return NOTHING;
      const country = context.geo.lookup(record.ip)?.country;
      const seen = state.seen[record.subject] ?? [];
      const trip = context.travelWindows?.verdict?.(record.subject, record.at, country ?? null) ?? 'no_trip';
      // A declared trip names where the person will be: from there a new country is expected, and
      // from anywhere else it is a finding whatever the history says.
      if (trip === 'expected' || trip === 'unplaced') return NOTHING;
      if (trip === 'elsewhere' && country) {
        return {
          findings: [
            findingFrom(record, 'new_country', 'high', {
              dedupeKey: `new_country:${record.subject}:travel:${country}`,
              summary: `A ${String(record.data['purpose'])} was started for an account from ${country} while its owner had declared a trip to other countries; the recovery needs one more gate`,
              observed: { country, purpose: typeof record.data['purpose'] === 'string' ? record.data['purpose'] : null, known_countries: seen.join(' '), travel: 'outside_declared_trip' },
              baseline: 'a declared trip in force names the countries recovery is expected from',
              eventIds: [record.id],
            }),
          ],
          flags: [],
        };
      }
      if (!country || seen.length === 0 || seen.includes(country)) return NOTHING;
      return {
        findings: [
          findingFrom(record, 'new_country', 'medium', {
            dedupeKey: `new_country:${record.subject}:${country}`,
            summary: `A ${String(record.data['purpose'])} was started for an account from ${country}, a country it never signed in or recovered from before`,
            observed: { country, purpose: typeof record.data['purpose'] === 'string' ? record.data['purpose'] : null, known_countries: seen.join(' ') },
            baseline: `countries this account succeeded from before: ${seen.join(', ')}`,
            eventIds: [record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}
