import { Secret } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, oathtoolCode, signInFresh, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { alignToMidStep, answerTotp, nextTotpStep } from './support.ts';

/*
 * TOK-14: authenticator codes are accepted only for the current step ± 1 (driftSteps 1) on the
 * server's clock, each step of an enrollment works once (replays within the window fail, in the
 * same flow, across flows and across purposes), and seeds are ≥ 160-bit random values. Codes come
 * from the independent `oathtool`.
 */

describe.each(ENGINES)('TOTP window and replay on %s', (engine) => {
  let h: Harness;
  let tom: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    tom = await createPerson(h, 'tom');
    enrolled = await enrolEmailAndTotp(h, tom);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-14 accepts the codes of steps t−1, t and t+1, each in a fresh challenge', async () => {
    nextTotpStep(h.clock);
    for (const offset of [-1, 0, 1]) {
      const { token } = await startFlow(h, 'tom');
      const answered = await answerTotp(h, token, enrolled.totpSeed, offset);
      expect(answered.statusCode, `offset ${offset}`).toBe(200);
      expect(json<FlowBody>(answered).flow.gatesPassed).toBe(1);
    }
  });

  it('TOK-14 refuses the codes of steps t−3, t−2, t+2 and t+3, while the current code still works in the same challenge', async () => {
    nextTotpStep(h.clock);
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'tom');
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token })).statusCode).toBe(200);
    for (const offset of [-3, -2, 2, 3]) {
      const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock, offset) }, { token });
      expect(answered.statusCode, `offset ${offset}`).toBe(422);
      expect(json(answered)['code']).toBe('challenge.invalid');
    }
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token })).statusCode).toBe(200);
  });

  it('TOK-14 refuses the same code a second time: in the same flow and in another flow', async () => {
    nextTotpStep(h.clock);
    const first = await startFlow(h, 'tom');
    const code = oathtoolCode(enrolled.totpSeed, h.clock);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: first.token });
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: first.token });
    expect(passed.statusCode).toBe(200);
    const next = json<FlowBody>(passed).flowToken as string;
    // Same flow: nothing is open to answer, and the authenticator cannot count twice.
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: next })).statusCode).toBe(409);
    const again = await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: next });
    expect(again.statusCode).toBe(422);
    expect(json(again)['code']).toBe('method.already_used');
    // Another flow, still inside the same 30-second step.
    const second = await startFlow(h, 'tom');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: second.token });
    const replayed = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: second.token });
    expect(replayed.statusCode).toBe(422);
    expect(json<FlowBody>(replayed).flow.gatesPassed).toBe(0);
  });

  it('TOK-14 refuses, for recovery, the code that just verified the authenticator at enrollment', async () => {
    const val = await createPerson(h, 'val');
    const session = await signInFresh(h, val);
    const added = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session }));
    alignToMidStep(h.clock);
    const code = oathtoolCode(added.shownOnce.secret, h.clock);
    expect((await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { code }, { token: session })).statusCode).toBe(200);
    const { token } = await startFlow(h, 'val');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).statusCode).toBe(422);
  });

  it('TOK-14 verifies against the server clock only: a client time field is refused and a Date header is ignored', async () => {
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'tom');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    const past = new Date(h.clock.now().getTime() - 10 * 60_000);
    const pastCode = oathtoolCode(enrolled.totpSeed, h.clock, -20);
    const withField = await call(h, 'POST', '/api/recovery/flow/answer', { code: pastCode, time: past.toISOString() }, { token });
    expect(withField.statusCode).toBe(400);
    const withHeader = await call(h, 'POST', '/api/recovery/flow/answer', { code: pastCode }, { token, headers: { date: past.toUTCString(), 'x-client-time': String(past.getTime()) } });
    expect(withHeader.statusCode).toBe(422);
  });

  it('TOK-14 hands out seeds of at least 160 random bits, distinct per enrollment', async () => {
    const seeds: string[] = [];
    for (const name of ['wes', 'wyn']) {
      const person = await createPerson(h, name);
      const session = await signInFresh(h, person);
      const added = json<{ shownOnce: { secret: string; otpauthUri: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session }));
      expect(Secret.fromBase32(added.shownOnce.secret).bytes.length).toBeGreaterThanOrEqual(20);
      const uri = new URL(added.shownOnce.otpauthUri);
      expect(uri.searchParams.get('secret')).toBe(added.shownOnce.secret);
      expect(uri.searchParams.get('period')).toBe('30');
      seeds.push(added.shownOnce.secret);
    }
    expect(new Set([...seeds, enrolled.totpSeed]).size).toBe(3);
  });
});
