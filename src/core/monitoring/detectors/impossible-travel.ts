import { distanceKm } from './network.ts';
import { findingFrom, isSuccessfulStep, NOTHING, type Detector, type Observation } from './detector.ts';
import type { MonitoringPolicy } from './settings.ts';

interface LastSeen {
  atMs: number;
  latitude: number;
  longitude: number;
  country: string | null;
  eventId: string;
}

export interface ImpossibleTravelState {
  /** The last successful event of each account that GeoIP could place. */
  last: Record<string, LastSeen>;
}

/**
 * `impossible_travel`: two successive successful events of one account (sign-in, passed gate,
 * completed recovery) whose great-circle distance over the time between them needs a speed above
 * `maxSpeedKmh`. Hops shorter than `minDistanceKm` are ignored, since GeoIP places an address only
 * roughly. With `honourTravelWindows`, a second event inside a declared travel window of the account
 * (the lifecycle feature's, through the TravelWindows context) raises nothing; until that feature
 * exists the context has none and every trip is judged.
 */
export function impossibleTravel(settings: MonitoringPolicy['impossible_travel']): Detector<ImpossibleTravelState> {
  return {
    id: 'impossible_travel',
    initialState: () => ({ last: {} }),
    observe(state, record, context): Observation {
      if (context.geo === null || !isSuccessfulStep(record) || record.subject === null || record.ip === null) return NOTHING;
      const place = context.geo.lookup(record.ip);
      if (!place || place.latitude === null || place.longitude === null) return NOTHING;
      const here: LastSeen = { atMs: record.at.getTime(), latitude: place.latitude, longitude: place.longitude, country: place.country, eventId: record.id };
      const before = state.last[record.subject];
      state.last[record.subject] = here;
      if (!before || before.eventId === record.id) return NOTHING;
      const km = distanceKm(before, here);
      const hours = Math.max(0, here.atMs - before.atMs) / 3_600_000;
      const speed = hours === 0 ? Infinity : km / hours;
      if (km < settings.minDistanceKm || speed <= settings.maxSpeedKmh) return NOTHING;
      if (settings.honourTravelWindows && context.travelWindows?.isTravelling(record.subject, record.at)) return NOTHING;
      const minutes = Math.round(hours * 60);
      return {
        findings: [
          findingFrom(record, 'impossible_travel', 'high', {
            dedupeKey: `impossible_travel:${record.subject}:${before.country ?? '?'}-${place.country ?? '?'}`,
            summary: `One account succeeded from ${before.country ?? 'an unknown country'} and then ${place.country ?? 'an unknown country'}, ${Math.round(km)} km apart within ${minutes} minutes`,
            observed: {
              from_country: before.country,
              to_country: place.country,
              distance_km: Math.round(km),
              elapsed_minutes: minutes,
              speed_kmh: Number.isFinite(speed) ? Math.round(speed) : null,
            },
            baseline: `at most ${settings.maxSpeedKmh} km/h between successive successful events (hops under ${settings.minDistanceKm} km ignored)`,
            eventIds: [before.eventId, record.id],
          }),
        ],
        flags: [],
      };
    },
  };
}
