import { describe, expect, it } from 'vitest';
import { declaredCountries, planTrip, travelVerdict, utcDay, type TravelWindow } from '../../src/core/travel/travel.ts';
import { TravelStartCheck, TravelWindowIndex } from '../../src/core/travel/travel-index.ts';
import type { GeoIpLookup } from '../../src/core/ports/geoip.ts';

const NOW = new Date('2026-11-26T12:00:00Z');

function trip(overrides: Partial<TravelWindow> & Pick<TravelWindow, 'countries' | 'fromDate' | 'toDate'>): TravelWindow {
  const plan = planTrip({ countries: overrides.countries, fromDate: overrides.fromDate, toDate: overrides.toDate }, NOW, 0);
  if (!plan.ok) throw new Error(plan.problem.message);
  return { id: 't1', accountId: 'builtin:ann', startsAt: plan.startsAt, endsAt: plan.endsAt, createdAt: NOW, cancelledAt: null, ...overrides };
}

describe('planning a trip', () => {
  it('normalises countries (upper case, sorted, no repeats) and widens the dates by the time zones', () => {
    const plan = planTrip({ countries: ['jp', 'DE', 'de'], fromDate: '2026-12-01', toDate: '2026-12-10' }, NOW, 0);
    expect(plan).toEqual({ ok: true, countries: ['DE', 'JP'], startsAt: new Date('2026-11-30T10:00:00Z'), endsAt: new Date('2026-12-11T12:00:00Z') });
  });

  it.each([
    [{ countries: [], fromDate: '2026-12-01', toDate: '2026-12-02' }, 'countries', /1 to 20 countries/],
    [{ countries: ['XX'], fromDate: '2026-12-01', toDate: '2026-12-02' }, 'countries', /ISO 3166-1 alpha-2/],
    [{ countries: ['DE'], fromDate: '2026-02-30', toDate: '2026-12-02' }, 'from', /YYYY-MM-DD/],
    [{ countries: ['DE'], fromDate: '2026-12-01', toDate: '1 Dec' }, 'to', /YYYY-MM-DD/],
    [{ countries: ['DE'], fromDate: '2026-12-05', toDate: '2026-12-01' }, 'to', /on or after the first day/],
    [{ countries: ['DE'], fromDate: '2026-10-01', toDate: '2026-10-05' }, 'to', /in the past/],
    [{ countries: ['DE'], fromDate: '2028-01-01', toDate: '2028-01-05' }, 'from', /within 365 days/],
    [{ countries: ['DE'], fromDate: '2026-12-01', toDate: '2027-03-15' }, 'to', /at most 92 days/],
  ])('refuses %j naming the field', (declaration, field, message) => {
    const plan = planTrip(declaration, NOW, 0);
    expect(plan.ok).toBe(false);
    if (!plan.ok) {
      expect(plan.problem.field).toBe(field);
      expect(plan.problem.message).toMatch(message);
    }
  });

  it('refuses an eleventh open trip', () => {
    const plan = planTrip({ countries: ['DE'], fromDate: '2026-12-01', toDate: '2026-12-02' }, NOW, 10);
    expect(plan.ok || plan.problem.message).toMatch(/at most 10 trips/);
  });

  it('reads only real calendar dates', () => {
    expect(utcDay('2028-02-29')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(utcDay('2027-02-29')).toBeNull();
    expect(utcDay('2027-2-1')).toBeNull();
  });
});

describe('judging a recovery against the trips', () => {
  const berlin = trip({ countries: ['DE', 'AT'], fromDate: '2026-12-01', toDate: '2026-12-10' });

  it('is no_trip outside every trip, expected from a declared country, elsewhere from any other', () => {
    expect(travelVerdict([berlin], new Date('2026-11-29T12:00:00Z'), 'AU')).toBe('no_trip');
    expect(travelVerdict([berlin], new Date('2026-12-05T12:00:00Z'), 'AT')).toBe('expected');
    expect(travelVerdict([berlin], new Date('2026-12-05T12:00:00Z'), 'AU')).toBe('elsewhere');
    expect(travelVerdict([berlin], new Date('2026-12-05T12:00:00Z'), null)).toBe('unplaced');
    expect(travelVerdict([berlin], new Date('2026-12-12T00:00:00Z'), 'AU')).toBe('no_trip');
  });

  it('counts the whole last local day, wherever in the world it is', () => {
    // 23:00 on 10 December in Honolulu (UTC-10) is 09:00 UTC on the 11th.
    expect(travelVerdict([berlin], new Date('2026-12-11T09:00:00Z'), 'DE')).toBe('expected');
  });

  it('ignores a cancelled trip', () => {
    expect(travelVerdict([{ ...berlin, cancelledAt: NOW }], new Date('2026-12-05T12:00:00Z'), 'AU')).toBe('no_trip');
    expect(declaredCountries([berlin, { ...berlin, id: 't2', countries: ['JP'] }], new Date('2026-12-05T12:00:00Z'))).toEqual(['AT', 'DE', 'JP']);
  });

  it('the index answers the detectors and the start check from memory, per account', () => {
    const index = new TravelWindowIndex();
    index.replaceAll([berlin]);
    const at = new Date('2026-12-05T12:00:00Z');
    expect(index.isTravelling('builtin:ann' as never, at)).toBe(true);
    expect(index.isTravelling('builtin:bob' as never, at)).toBe(false);
    const geo: GeoIpLookup = { lookup: (ip) => ({ country: ip.startsWith('203.') ? 'AU' : 'DE', latitude: null, longitude: null, asn: null }) };
    const check = new TravelStartCheck(index, geo);
    expect(check.assessStart('builtin:ann', '203.0.113.5', at)).toEqual({ verdict: 'elsewhere', country: 'AU', declared: ['AT', 'DE'] });
    expect(check.assessStart('builtin:ann', '192.0.2.5', at)).toEqual({ verdict: 'expected', country: 'DE', declared: ['AT', 'DE'] });
    expect(check.assessStart(null, '203.0.113.5', at)).toEqual({ verdict: 'no_trip', country: 'AU', declared: [] });
    index.put({ ...berlin, cancelledAt: at });
    expect(check.assessStart('builtin:ann', '203.0.113.5', at).verdict).toBe('no_trip');
  });
});
