import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/core/monitoring/finding.ts';
import {
  auditEvents,
  call,
  createPerson,
  enrolEmailAndTotp,
  ENGINES,
  json,
  latestCode,
  oathtoolCode,
  roomyLimits,
  startFlow,
  startHarness,
  type Enrolled,
  type FlowBody,
  type Harness,
  type Person,
  type PolicyEdit,
} from '../support/harness.ts';
import { GEOIP_FIXTURE } from '../monitoring/detectors/stream.ts';

/*
 * Declared travel through the API, with the real detectors over a MaxMind-format fixture whose
 * TEST-NET ranges sit in different countries: 192.0.2.0/24 Germany, 198.51.100.0/24 United States,
 * 203.0.113.0/24 Australia.
 */

const BERLIN = '192.0.2.80';
const NEW_YORK = '198.51.100.80';
const SYDNEY = '203.0.113.80';

const geoOn: PolicyEdit = (policy) => {
  policy.monitoring.new_country.enabled = true;
  policy.monitoring.impossible_travel.enabled = true;
  policy.monitoring.impossible_travel.honourTravelWindows = true;
};

const day = (h: Harness, offsetDays: number): string => new Date(h.clock.now().getTime() + offsetDays * 86_400_000).toISOString().slice(0, 10);

interface TravelBody {
  readonly trip?: { readonly id: string; readonly countries: string[]; readonly status: string };
  readonly trips: { readonly id: string; readonly countries: string[]; readonly from: string; readonly to: string; readonly status: string }[];
  readonly methodsWithoutSignal: { readonly method: string }[];
  readonly enoughWithoutSignal: boolean;
}

interface Problem {
  readonly code: string;
  readonly detail: string;
}

describe.each(ENGINES)('declared travel (%s)', (engine) => {
  const findings: Finding[] = [];
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [roomyLimits, geoOn],
      env: { LATCHKEY_DETECTORS__GEOIP_DATABASE: GEOIP_FIXTURE },
      findingSink: { raise: (finding) => Promise.resolve(void findings.push(finding)) },
    });
  });
  afterAll(async () => h?.close());

  /** A person whose owner-proven history is one sign-in from New York, with email, app and recovery codes. */
  async function traveller(name: string): Promise<{ person: Person; enrolled: Enrolled }> {
    const person = await createPerson(h, name);
    const signedIn = await call(h, 'POST', '/api/me/sign-in', { username: person.username, password: person.password }, { ip: NEW_YORK });
    expect(json<{ status: string }>(signedIn).status).toBe('signed_in');
    const enrolled = await enrolEmailAndTotp(h, person, { recoveryCodes: true });
    return { person, enrolled };
  }

  const findingsFor = (person: Person, detectorId: string): Finding[] => findings.filter((finding) => finding.subject === person.accountId && finding.detectorId === detectorId);

  it('declares, lists and cancels trips, and says which methods work without a phone signal', async () => {
    const { person, enrolled } = await traveller('tara');
    const session = enrolled.session;
    const empty = json<TravelBody>(await call(h, 'GET', '/api/me/travel', undefined, { token: session }));
    expect(empty.trips).toEqual([]);
    expect(empty.methodsWithoutSignal.map((method) => method.method).sort()).toEqual(['recovery_code', 'totp']);
    expect(empty.enoughWithoutSignal).toBe(true);

    const declared = await call(h, 'POST', '/api/me/travel', { countries: ['de', 'AT'], from: day(h, 0), to: day(h, 7) }, { token: session });
    expect(declared.statusCode).toBe(201);
    const body = json<TravelBody>(declared);
    expect(body.trip).toMatchObject({ countries: ['AT', 'DE'], status: 'in_force' });
    expect(body.trips).toHaveLength(1);
    const tripId = body.trip?.id as string;

    const cancelled = await call(h, 'DELETE', `/api/me/travel/${tripId}`, undefined, { token: session });
    expect(cancelled.statusCode).toBe(204);
    const again = await call(h, 'DELETE', `/api/me/travel/${tripId}`, undefined, { token: session });
    expect(again.statusCode).toBe(404);
    expect(json<Problem>(again).code).toBe('travel.not_found');
    expect(json<TravelBody>(await call(h, 'GET', '/api/me/travel', undefined, { token: session })).trips.map((trip) => trip.status)).toEqual(['cancelled']);

    const events = (await auditEvents(h, { types: ['travel.declared', 'travel.cancelled'] })).filter((event) => event.subject === person.accountId);
    expect(events.map((event) => [event.type, event.outcome])).toEqual([
      ['travel.declared', 'success'],
      ['travel.cancelled', 'success'],
    ]);
    expect(events[0]?.data).toEqual({ trip_id: tripId, countries: 'AT DE', from: day(h, 0), to: day(h, 7) });
  });

  it('refuses a malformed trip with a 4xx naming the field, and an anonymous or foreign cancellation', async () => {
    const { enrolled } = await traveller('uma');
    const session = enrolled.session;
    const cases: [unknown, number, RegExp][] = [
      [{ countries: ['XX'], from: day(h, 0), to: day(h, 2) }, 422, /^countries: /],
      [{ countries: ['DE'], from: '2026-02-30', to: day(h, 2) }, 422, /^from: /],
      [{ countries: ['DE'], from: day(h, 3), to: day(h, 1) }, 422, /^to: must be on or after/],
      [{ countries: ['DE'], from: day(h, 0), to: day(h, 120) }, 422, /^to: a trip lasts at most 92 days/],
    ];
    for (const [input, status, detail] of cases) {
      const response = await call(h, 'POST', '/api/me/travel', input, { token: session });
      expect(response.statusCode).toBe(status);
      expect(json<Problem>(response).code).toBe('travel.invalid_input');
      expect(json<Problem>(response).detail).toMatch(detail);
    }
    const shapeless = await call(h, 'POST', '/api/me/travel', { countries: 'DE', from: day(h, 0), to: day(h, 2), extra: true }, { token: session });
    expect(shapeless.statusCode).toBe(400);
    expect((await call(h, 'GET', '/api/me/travel')).statusCode).toBe(401);
    const { enrolled: other } = await traveller('vera');
    const theirs = json<TravelBody>(await call(h, 'POST', '/api/me/travel', { countries: ['FR'], from: day(h, 0), to: day(h, 2) }, { token: other.session }));
    expect((await call(h, 'DELETE', `/api/me/travel/${theirs.trip?.id as string}`, undefined, { token: session })).statusCode).toBe(404);
  });

  it('a trip to Germany suppresses the new_country finding for a reset from Germany; without a trip it is raised', async () => {
    const { person: withTrip, enrolled } = await traveller('wes');
    const { person: noTrip } = await traveller('xia');
    expect((await call(h, 'POST', '/api/me/travel', { countries: ['DE'], from: day(h, 0), to: day(h, 5) }, { token: enrolled.session })).statusCode).toBe(201);
    await startFlow(h, withTrip.username, 'reset', { ip: BERLIN });
    await startFlow(h, noTrip.username, 'reset', { ip: BERLIN });
    await h.latchkey.detectors.worker.runOnce();
    expect(findingsFor(noTrip, 'new_country').map((finding) => finding.observed['country'])).toEqual(['DE']);
    expect(findingsFor(withTrip, 'new_country')).toEqual([]);
    expect((await auditEvents(h, { types: ['recovery.stepped_up'] })).filter((event) => event.subject === withTrip.accountId)).toEqual([]);
  });

  it('a reset from elsewhere during the trip is flagged and needs one more gate, shown only once the first gate is passed', async () => {
    const { person, enrolled } = await traveller('yann');
    expect((await call(h, 'POST', '/api/me/travel', { countries: ['DE'], from: day(h, 0), to: day(h, 5) }, { token: enrolled.session })).statusCode).toBe(201);
    const ghost = await startFlow(h, 'no-such-traveller', 'reset', { ip: SYDNEY });
    const { token, body } = await startFlow(h, person.username, 'reset', { ip: SYDNEY });
    // SECURITY: before any gate the reply is the one an unknown identifier gets (ENUM-3).
    expect({ ...body.flow, flowId: 'x', expiresAt: 'x' }).toEqual({ ...ghost.body.flow, flowId: 'x', expiresAt: 'x' });
    expect(body.flow.gatesRequired).toBe(2);

    const steppedUp = (await auditEvents(h, { types: ['recovery.stepped_up'] })).filter((event) => event.subject === person.accountId);
    expect(steppedUp.map((event) => [event.reason, event.data])).toEqual([['travel.outside_declared_trip', { country: 'AU', declared_countries: 'DE', extra_gates: 1 }]]);

    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, ip: SYDNEY });
    const first = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token, ip: SYDNEY }));
    expect(first.flow.gatesPassed).toBe(1);
    expect(first.flow.gatesRequired).toBe(3);
    const second = first.flowToken as string;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: second, ip: SYDNEY });
    const afterTwo = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token: second, ip: SYDNEY }));
    // Two gates are not enough from outside the trip: the flow asks for a third.
    expect(afterTwo.flow.step).toBe('awaiting_method_choice');
    expect(afterTwo.flow.gatesPassed).toBe(2);
    const third = afterTwo.flowToken as string;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: third, ip: SYDNEY });
    const done = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[0] }, { token: third, ip: SYDNEY }));
    expect(done.flow.step).toBe('awaiting_new_password');

    await h.latchkey.detectors.worker.runOnce();
    const flagged = findingsFor(person, 'new_country');
    expect(flagged.map((finding) => [finding.severity, finding.observed['country'], finding.observed['travel']])).toEqual([['high', 'AU', 'outside_declared_trip']]);
    // A trip is in force, so the jump from New York to Sydney is not judged impossible travel.
    expect(findingsFor(person, 'impossible_travel')).toEqual([]);
  });

  it('a reset from the declared country keeps the usual two gates', async () => {
    const { person, enrolled } = await traveller('zoe');
    expect((await call(h, 'POST', '/api/me/travel', { countries: ['DE'], from: day(h, 0), to: day(h, 5) }, { token: enrolled.session })).statusCode).toBe(201);
    const { token } = await startFlow(h, person.username, 'reset', { ip: BERLIN });
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, ip: BERLIN });
    const first = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token, ip: BERLIN }));
    expect(first.flow.gatesRequired).toBe(2);
  });
});
