import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/core/monitoring/finding.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, latestCode, roomyLimits, startFlow, startHarness, type Harness } from '../support/harness.ts';

/*
 * Phone numbers where they enter through the API: normalised to E.164 (so one number typed two
 * ways is one channel, and reuse across accounts shows), refused with a message naming the field,
 * national format read with the configured default region, and a number change recorded so the
 * cooling-off and the anomaly rules see it.
 */

interface Problem {
  readonly code: string;
  readonly detail: string;
}

describe.each(ENGINES)('phone numbers through the self-service API (%s)', (engine) => {
  const findings: Finding[] = [];
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [roomyLimits],
      env: { LATCHKEY_PHONE__DEFAULT_REGION: 'gb' },
      findingSink: { raise: (finding) => Promise.resolve(void findings.push(finding)) },
    });
  });
  afterAll(async () => h?.close());

  async function addPhone(session: string, phone: string): Promise<{ status: number; id: string | null; problem: Problem | null }> {
    const response = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
    const body = json<{ enrollment?: { id: string } } & Partial<Problem>>(response);
    return { status: response.statusCode, id: body.enrollment?.id ?? null, problem: body.code ? { code: body.code, detail: body.detail ?? '' } : null };
  }

  async function verifyPhone(session: string, id: string, e164: string): Promise<void> {
    const verified = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: await latestCode(h, e164) }, { token: session });
    expect(verified.statusCode).toBe(200);
  }

  it('refuses an impossible number with 422 naming the phone field and saying what to fix', async () => {
    const { session } = await enrolEmailAndTotp(h, await createPerson(h, 'ivy'));
    for (const [typed, hint] of [
      ['+44 7700 9001', /too few or too many digits/],
      ['+0447700900123', /country code/],
      ['+447700900123, +447700900124', /written with digits/],
      ['+881612345678', /mobile number of a country/],
    ] as const) {
      const result = await addPhone(session, typed);
      expect(result.status).toBe(422);
      expect(result.problem?.code).toBe('enrollment.invalid_input');
      expect(result.problem?.detail).toMatch(/^phone: /);
      expect(result.problem?.detail).toMatch(hint);
    }
    expect((await auditEvents(h, { types: ['enrollment.started'] })).filter((event) => event.data['method'] === 'sms_code')).toHaveLength(0);
  });

  it('reads a national-format number with the configured default region and sends the code to its E.164 form', async () => {
    const { session } = await enrolEmailAndTotp(h, await createPerson(h, 'noel'));
    const added = await addPhone(session, '07700 900701');
    expect(added.status).toBe(201);
    const listed = json<{ methods: { method: string; label: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session }));
    expect(listed.methods.find((method) => method.method === 'sms_code')?.label).toBe('+44•••••••01');
    await verifyPhone(session, added.id as string, '+447700900701');
  });

  it('recognises one number typed in different formats on two accounts as the same channel', async () => {
    const first = await enrolEmailAndTotp(h, await createPerson(h, 'otto'));
    const second = await enrolEmailAndTotp(h, await createPerson(h, 'pia'));
    const third = await enrolEmailAndTotp(h, await createPerson(h, 'quin'));
    const a = await addPhone(first.session, '+44 7700 900702');
    const b = await addPhone(second.session, '07700-900-702');
    const c = await addPhone(third.session, '+44 7700 900703');
    const records = await Promise.all([a, b, c].map(async (added) => h.latchkey.store.enrollments.get(added.id as never)));
    const [fa, fb, fc] = records.map((record) => record?.channelFingerprint);
    expect(fa).toBeTruthy();
    expect(fa).toBe(fb);
    expect(fc).not.toBe(fa);
  });

  it('records a number change as a new activation and as a phone change, and the anomaly rule names it', async () => {
    const person = await createPerson(h, 'rae');
    const enrolled = await enrolEmailAndTotp(h, person);
    const first = await addPhone(enrolled.session, '+447700900711');
    await verifyPhone(enrolled.session, first.id as string, '+447700900711');
    h.clock.advance(120);
    const changedAt = h.clock.now().getTime();
    const second = await addPhone(enrolled.session, '+447700900712');
    expect(second.problem).toBeNull();
    await verifyPhone(enrolled.session, second.id as string, '+447700900712');
    const removed = await call(h, 'DELETE', `/api/me/methods/${first.id as string}`, undefined, { token: enrolled.session });
    expect(removed.statusCode).toBe(204);

    // The new number's activation time is the change, not the old number's: any cooling-off starts again.
    const record = await h.latchkey.store.enrollments.get(second.id as never);
    expect(record?.verifiedAt?.getTime()).toBeGreaterThanOrEqual(changedAt);
    const phoneEvents = (await auditEvents(h, { types: ['enrollment.activated', 'enrollment.removed'] }))
      .filter((event) => event.subject === person.accountId && event.data['method'] === 'sms_code')
      .map((event) => [event.type, event.data['phone']]);
    expect(phoneEvents).toEqual([
      ['enrollment.activated', 'added'],
      ['enrollment.activated', 'changed'],
      ['enrollment.removed', 'removed'],
    ]);

    h.clock.advance(60);
    await startFlow(h, person.username);
    await h.latchkey.detectors.worker.runOnce();
    const finding = findings.find((item) => item.detectorId === 'recent_method_change' && item.subject === person.accountId);
    expect(finding?.summary).toMatch(/after the phone number was changed on the account/);
    expect(finding?.observed['phone_changed']).toBe(true);
  });
});

describe('phone.defaultRegion configuration', () => {
  it('refuses a region that is not an ISO country code, naming the key', () => {
    expect(() => loadConfig(null, 'latchkey.yaml', { LATCHKEY_PHONE__DEFAULT_REGION: 'XX' })).toThrow(/phone\.defaultRegion \(LATCHKEY_PHONE__DEFAULT_REGION\): must be an ISO 3166-1 alpha-2 country code/);
    expect(loadConfig(null, 'latchkey.yaml', { LATCHKEY_PHONE__DEFAULT_REGION: 'de' }).phone.defaultRegion).toBe('DE');
  });

  it('without a default region refuses national format through the API', async () => {
    const h = await startHarness({ engine: 'sqlite' });
    try {
      const { session } = await enrolEmailAndTotp(h, await createPerson(h, 'sol'));
      const response = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: '07700 900123' }, { token: session });
      expect(response.statusCode).toBe(422);
      expect(json<Problem>(response).detail).toMatch(/^phone: must be in international E\.164 format/);
    } finally {
      await h.close();
    }
  });
});
