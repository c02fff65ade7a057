import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createMaxmindGeoIp, GeoIpDatabaseError, type MaxmindGeoIp } from '../../../src/adapters/geoip/maxmind-geoip.ts';
import { newCountry } from '../../../src/core/monitoring/detectors/new-country.ts';
import { impossibleTravel } from '../../../src/core/monitoring/detectors/impossible-travel.ts';
import { unusualNetwork } from '../../../src/core/monitoring/detectors/unusual-network.ts';
import type { DetectorContext } from '../../../src/core/monitoring/detectors/detector.ts';
import { EventStream, GEOIP_FIXTURE, Harness, shippedMonitoring } from './stream.ts';


const settings = shippedMonitoring();
const BERLIN = '192.0.2.10';
const NEW_YORK = '198.51.100.10';
const SYDNEY = '203.0.113.10';
const TOKYO = '2001:db8:1::10';

let geo: MaxmindGeoIp;
let context: DetectorContext;
beforeAll(async () => {
  geo = await createMaxmindGeoIp({ cityDatabase: GEOIP_FIXTURE });
  context = { geo, denyList: null, travelWindows: null };
});

describe('the MaxMind GeoIP reader against the committed fixture', () => {
  it('places each documentation range in its country, with coordinates and ASN', () => {
    expect(geo.lookup(BERLIN)).toEqual({ country: 'DE', latitude: 52.52, longitude: 13.405, asn: 64500 });
    expect(geo.lookup(NEW_YORK)).toEqual({ country: 'US', latitude: 40.7128, longitude: -74.006, asn: 64501 });
    expect(geo.lookup(SYDNEY)).toEqual({ country: 'AU', latitude: -33.8688, longitude: 151.2093, asn: 64502 });
    expect(geo.lookup(TOKYO)).toEqual({ country: 'JP', latitude: 35.6762, longitude: 139.6503, asn: 64503 });
    expect(geo.lookup('::ffff:192.0.2.200')?.country).toBe('DE');
  });

  it('knows nothing of addresses outside the database, or of strings that are not addresses', () => {
    expect(geo.lookup('10.1.2.3')).toBeNull();
    expect(geo.lookup('2001:db9::1')).toBeNull();
    expect(geo.lookup('system')).toBeNull();
  });

  it('refuses a missing or malformed database file at start, naming it', async () => {
    await expect(createMaxmindGeoIp({ cityDatabase: '/nonexistent/geo.mmdb' })).rejects.toThrow(GeoIpDatabaseError);
    await expect(createMaxmindGeoIp({ cityDatabase: fileURLToPath(import.meta.url) })).rejects.toThrow(/cannot open GeoIP database .*geoip\.test\.ts/);
  });

  it('re-reads the database when the file changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-geo-'));
    try {
      const path = join(dir, 'city.mmdb');
      await copyFile(GEOIP_FIXTURE, path);
      const reader = await createMaxmindGeoIp({ cityDatabase: path });
      expect(await reader.refresh()).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 20));
      await copyFile(GEOIP_FIXTURE, path);
      expect(await reader.refresh()).toBe(true);
      expect(reader.lookup(SYDNEY)?.country).toBe('AU');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('new_country', () => {
  it('raises for a reset started from a country the account never succeeded from, naming the known ones', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(newCountry(settings.new_country), context);
    h.feed(stream.record('sign_in.succeeded', { subject: 'builtin:alice', ip: BERLIN }));
    h.feed(stream.advance(86_400).record('recovery.completed', { subject: 'builtin:alice', ip: NEW_YORK, data: { purpose: 'reset' } }));
    expect(h.feed(stream.advance(86_400).record('recovery.started', { subject: 'builtin:alice', ip: BERLIN, data: { purpose: 'reset' } }))).toEqual([]);
    const fromSydney = stream.advance(3600).record('recovery.started', { subject: 'builtin:alice', ip: SYDNEY, data: { purpose: 'unlock' } });
    expect(h.feed(fromSydney)).toEqual([
      expect.objectContaining({
        detectorId: 'new_country',
        severity: 'medium',
        dedupeKey: 'new_country:builtin:alice:AU',
        summary: 'A unlock was started for an account from AU, a country it never signed in or recovered from before',
        baseline: 'countries this account succeeded from before: DE, US',
        observed: { country: 'AU', purpose: 'unlock', known_countries: 'DE US' },
        eventIds: [fromSydney.id],
        subject: 'builtin:alice',
        ip: SYDNEY,
      }),
    ]);
  });

  it('does not raise without history, for sign-in gates, or for a country learned from a completed sign-in', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(newCountry(settings.new_country), context);
    h.feed(stream.record('recovery.started', { subject: 'builtin:bob', ip: TOKYO, data: { purpose: 'reset' } }));
    // One passed gate is not proof of the owner: it teaches nothing.
    h.feed(stream.record('challenge.passed', { subject: 'builtin:bob', ip: SYDNEY }));
    expect(h.state.seen['builtin:bob']).toBeUndefined();
    h.feed(stream.record('sign_in.succeeded', { subject: 'builtin:bob', ip: TOKYO }));
    h.feed(stream.record('recovery.started', { subject: 'builtin:bob', ip: SYDNEY, data: { purpose: 'sign_in' } }));
    h.feed(stream.record('challenge.failed', { subject: 'builtin:bob', ip: SYDNEY }));
    h.feed(stream.record('recovery.started', { subject: 'builtin:bob', ip: TOKYO, data: { purpose: 'reset' } }));
    expect(h.findings).toEqual([]);
    expect(h.feed(stream.record('recovery.started', { subject: 'builtin:bob', ip: SYDNEY, data: { purpose: 'reset' } }))).toHaveLength(1);
  });

  it('keeps at most maxCountriesPerAccount countries per account, forgetting the oldest', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(newCountry({ ...settings.new_country, maxCountriesPerAccount: 2 }), context);
    for (const ip of [BERLIN, NEW_YORK, SYDNEY]) h.feed(stream.advance(60).record('sign_in.succeeded', { subject: 'builtin:cy', ip }));
    expect(h.state.seen['builtin:cy']).toEqual(['US', 'AU']);
    expect(h.feed(stream.record('recovery.started', { subject: 'builtin:cy', ip: BERLIN, data: { purpose: 'reset' } }))).toHaveLength(1);
  });
});

describe('impossible_travel', () => {
  it('raises for two successes of one account further apart than an airliner could fly in the time between', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(impossibleTravel(settings.impossible_travel), context);
    const inBerlin = stream.record('sign_in.succeeded', { subject: 'builtin:dee', ip: BERLIN });
    const inNewYork = stream.advance(2 * 3600).record('challenge.passed', { subject: 'builtin:dee', ip: NEW_YORK });
    const [finding, ...rest] = h.feed(inBerlin, inNewYork);
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({
      detectorId: 'impossible_travel',
      severity: 'high',
      dedupeKey: 'impossible_travel:builtin:dee:DE-US',
      summary: 'One account succeeded from DE and then US, 6385 km apart within 120 minutes',
      observed: { from_country: 'DE', to_country: 'US', distance_km: 6385, elapsed_minutes: 120, speed_kmh: 3193 },
      baseline: 'at most 900 km/h between successive successful events (hops under 500 km ignored)',
      eventIds: [inBerlin.id, inNewYork.id],
    });
  });

  it('does not raise for a trip an airliner could make, nor when a declared travel window covers it', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(impossibleTravel(settings.impossible_travel), context);
    h.feed(stream.record('sign_in.succeeded', { subject: 'builtin:eve', ip: BERLIN }));
    h.feed(stream.advance(9 * 3600).record('recovery.completed', { subject: 'builtin:eve', ip: NEW_YORK, data: { purpose: 'reset' } }));
    expect(h.findings).toEqual([]);
    const travelling = new Harness(impossibleTravel(settings.impossible_travel), { ...context, travelWindows: { isTravelling: (account) => account === 'builtin:fin' } });
    travelling.feed(stream.record('sign_in.succeeded', { subject: 'builtin:fin', ip: BERLIN }), stream.advance(600).record('sign_in.succeeded', { subject: 'builtin:fin', ip: SYDNEY }));
    expect(travelling.findings).toEqual([]);
    const ignoring = new Harness(impossibleTravel({ ...settings.impossible_travel, honourTravelWindows: false }), { ...context, travelWindows: { isTravelling: () => true } });
    ignoring.feed(stream.record('sign_in.succeeded', { subject: 'builtin:fin', ip: BERLIN }), stream.advance(600).record('sign_in.succeeded', { subject: 'builtin:fin', ip: SYDNEY }));
    expect(ignoring.findings).toHaveLength(1);
  });

  it('ignores failures and addresses GeoIP cannot place', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(impossibleTravel(settings.impossible_travel), context);
    h.feed(stream.record('sign_in.succeeded', { subject: 'builtin:gil', ip: BERLIN }));
    h.feed(stream.advance(60).record('challenge.failed', { subject: 'builtin:gil', ip: TOKYO }));
    h.feed(stream.advance(60).record('sign_in.succeeded', { subject: 'builtin:gil', ip: '10.0.0.1' }));
    expect(h.findings).toEqual([]);
  });
});

describe('unusual_network with a provider-aware database', () => {
  it('treats a new address at the account’s usual provider (ASN) as familiar', () => {
    const stream = new EventStream('2026-03-02T08:00:00Z');
    const h = new Harness(unusualNetwork(settings.unusual_network), context);
    h.feed(stream.record('sign_in.succeeded', { subject: 'builtin:hal', ip: '2001:db8:1:1::5' }));
    // Another /64 of the same documentation /32, which the fixture gives one ASN.
    expect(h.feed(stream.record('recovery.started', { subject: 'builtin:hal', ip: '2001:db8:9:9::5', data: { purpose: 'reset' } }))).toEqual([]);
    const [finding] = h.feed(stream.record('recovery.started', { subject: 'builtin:hal', ip: SYDNEY, data: { purpose: 'reset' } }));
    expect(finding).toMatchObject({ summary: 'A reset was started for an account from a network and provider (AS64502) it never succeeded from before', observed: { asn: 64502, network: '203.0.113.0/24' } });
  });
});
