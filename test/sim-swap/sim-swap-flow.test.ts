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
  messagesTo,
  roomyLimits,
  startFlow,
  startHarness,
  type Enrolled,
  type FlowBody,
  type Harness,
  type Person,
  type PolicyEdit,
} from '../support/harness.ts';
import { FakeCamaraGateway } from './camara-server.ts';

/*
 * The SIM swap check on the recovery path, end to end: the API, the engine, a real local HTTP
 * server in the shape of the CAMARA SIM Swap API, the audit trail and the alert.
 */

const TOKEN = 'camara-flow-token-0123456789abcdef';

const simSwapPolicy =
  (onUnavailable: 'allow' | 'refuse'): PolicyEdit =>
  (policy) => {
    policy.simSwap = { maxAgeHours: 240, onUnavailable };
  };

async function enrolPhone(h: Harness, enrolled: Enrolled, phone: string): Promise<void> {
  const added = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: enrolled.session });
  expect(added.statusCode).toBe(201);
  const id = json<{ enrollment: { id: string } }>(added).enrollment.id;
  const verified = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: await latestCode(h, phone) }, { token: enrolled.session });
  expect(verified.statusCode).toBe(200);
}

/** The parts of a flow reply that may not differ between subjects (ids and times do). */
const shape = (body: FlowBody): unknown => ({ ...body.flow, flowId: 'x', expiresAt: 'x' });

async function chooseSms(h: Harness, identifier: string): Promise<{ token: string; body: FlowBody; status: number }> {
  const { token } = await startFlow(h, identifier);
  const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token });
  return { token, body: json<FlowBody>(chosen), status: chosen.statusCode };
}

describe.each(ENGINES)('SIM swap check before an SMS code (%s)', (engine) => {
  const gateway = new FakeCamaraGateway(TOKEN);
  const findings: Finding[] = [];
  let h: Harness;
  let swapped: Person & { phone: string };
  let kept: Person & { phone: string };
  let dark: Person & { phone: string };

  beforeAll(async () => {
    await gateway.start();
    h = await startHarness({
      engine,
      policy: [roomyLimits, simSwapPolicy('refuse')],
      env: { LATCHKEY_SIM_SWAP__BASE_URL: gateway.baseUrl, LATCHKEY_SIM_SWAP__TOKEN: TOKEN, LATCHKEY_SIM_SWAP__TIMEOUT_MS: '400' },
      findingSink: { raise: (finding) => Promise.resolve(void findings.push(finding)) },
    });
    const people: [string, string][] = [
      ['sam', '+447700900501'],
      ['kim', '+447700900502'],
      ['dee', '+447700900503'],
    ];
    const made: (Person & { phone: string })[] = [];
    for (const [name, phone] of people) {
      const person = await createPerson(h, name);
      await enrolPhone(h, await enrolEmailAndTotp(h, person), phone);
      made.push({ ...person, phone });
    }
    [swapped, kept, dark] = made as [Person & { phone: string }, Person & { phone: string }, Person & { phone: string }];
    gateway.set(swapped.phone, 'swapped');
    gateway.set(kept.phone, 'not_swapped');
    gateway.set(dark.phone, 'server_error');
  });
  afterAll(async () => {
    await h?.close();
    await gateway.stop();
  });

  it('sends no code to a number whose SIM was swapped, and answers exactly like a subject without a phone', async () => {
    const sentBefore = (await messagesTo(h, swapped.phone)).length;
    const checksBefore = gateway.checks.length;
    const real = await chooseSms(h, swapped.username);
    const ghost = await chooseSms(h, 'nobody-here');
    expect(real.status).toBe(200);
    expect(shape(real.body)).toEqual(shape(ghost.body));
    expect(real.body.flow.step).toBe('awaiting_challenge_answer');
    expect((await messagesTo(h, swapped.phone)).length).toBe(sentBefore);
    // The gateway was asked about the swapped number only: never for an unknown identifier.
    expect(gateway.checks.slice(checksBefore).map((check) => check.body)).toEqual([{ phoneNumber: swapped.phone, maxAge: 240 }]);
    expect(gateway.problems).toEqual([]);

    // No code was ever sent, so no answer can pass the gate.
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '000000' }, { token: real.token });
    expect(json<{ flowToken?: string }>(answered).flowToken).toBeUndefined();

    const detected = (await auditEvents(h, { types: ['sim_swap.detected'] })).filter((event) => event.subject === swapped.accountId);
    expect(detected).toHaveLength(1);
    expect(detected[0]).toMatchObject({ outcome: 'failure', reason: 'sim_swap.recent', data: { method: 'sms_code', max_age_hours: 240, stage: 'send' } });
    const alert = findings.filter((finding) => finding.detectorId === 'sim_swap' && finding.subject === swapped.accountId);
    expect(alert).toHaveLength(1);
    expect(alert[0]?.severity).toBe('high');
    // SECURITY: the full number appears in neither the audit trail nor the alert.
    const digits = swapped.phone.slice(1);
    expect(JSON.stringify(await auditEvents(h))).not.toContain(digits);
    expect(JSON.stringify(findings)).not.toContain(digits);
  });

  it('sends the code to a number the operator reports as not swapped, and the gate passes', async () => {
    const before = (await messagesTo(h, kept.phone)).length;
    const { token, body } = await chooseSms(h, kept.username);
    expect(body.flow.step).toBe('awaiting_challenge_answer');
    expect((await messagesTo(h, kept.phone)).length).toBe(before + 1);
    const answered = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, kept.phone) }, { token }));
    expect(answered.flowToken).toBeDefined();
    expect(answered.flow.gatesPassed).toBe(1);
    // Asked twice: before sending, and again when the code came back.
    expect(gateway.checks.filter((check) => (check.body as { phoneNumber: string }).phoneNumber === kept.phone)).toHaveLength(2);
    expect((await auditEvents(h, { types: ['sim_swap.detected'] })).some((event) => event.subject === kept.accountId)).toBe(false);
  });

  it('refuses the phone when the gateway fails and the policy says refuse (no code, audited as unavailable)', async () => {
    const before = (await messagesTo(h, dark.phone)).length;
    const { body } = await chooseSms(h, dark.username);
    expect(body.flow.step).toBe('awaiting_challenge_answer');
    expect((await messagesTo(h, dark.phone)).length).toBe(before);
    const events = (await auditEvents(h, { types: ['sim_swap.check_unavailable'] })).filter((event) => event.subject === dark.accountId);
    expect(events.map((event) => [event.outcome, event.data['cause'], event.data['action']])).toEqual([['failure', 'http_status', 'refused']]);
    // Unavailable is not a detected swap: no alert for it.
    expect(findings.some((finding) => finding.subject === dark.accountId)).toBe(false);
  });

  it('refuses the phone when the gateway does not answer within the timeout', async () => {
    gateway.set(dark.phone, 'hang');
    const before = (await messagesTo(h, dark.phone)).length;
    const started = Date.now();
    await chooseSms(h, dark.username);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await messagesTo(h, dark.phone)).length).toBe(before);
    const causes = (await auditEvents(h, { types: ['sim_swap.check_unavailable'] })).filter((event) => event.subject === dark.accountId).map((event) => event.data['cause']);
    expect(causes).toContain('timeout');
    gateway.set(dark.phone, 'server_error');
  });
});

describe('SIM swap check with onUnavailable: allow', () => {
  const gateway = new FakeCamaraGateway(TOKEN);
  let h: Harness;

  beforeAll(async () => {
    await gateway.start();
    // No findingSink: the swap alert goes through the real AlertService.
    h = await startHarness({
      engine: 'sqlite',
      policy: [roomyLimits, simSwapPolicy('allow')],
      env: { LATCHKEY_SIM_SWAP__BASE_URL: gateway.baseUrl, LATCHKEY_SIM_SWAP__TOKEN: TOKEN, LATCHKEY_SIM_SWAP__TIMEOUT_MS: '400' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await gateway.stop();
  });

  it('sends the code when the gateway fails, and records that the check was skipped', async () => {
    const person = await createPerson(h, 'ali');
    const phone = '+447700900601';
    await enrolPhone(h, await enrolEmailAndTotp(h, person), phone);
    gateway.set(phone, 'server_error');
    const before = (await messagesTo(h, phone)).length;
    await chooseSms(h, person.username);
    expect((await messagesTo(h, phone)).length).toBe(before + 1);
    const events = (await auditEvents(h, { types: ['sim_swap.check_unavailable'] })).filter((event) => event.subject === person.accountId);
    expect(events.map((event) => [event.outcome, event.data['action'], event.data['stage']])).toEqual([['info', 'allowed', 'send']]);
  });

  it('still refuses a swapped number, and the alert service opens a high alert for it', async () => {
    const person = await createPerson(h, 'bea');
    const phone = '+447700900602';
    await enrolPhone(h, await enrolEmailAndTotp(h, person), phone);
    gateway.set(phone, 'swapped');
    const before = (await messagesTo(h, phone)).length;
    await chooseSms(h, person.username);
    expect((await messagesTo(h, phone)).length).toBe(before);
    const alerts = await h.latchkey.store.alerts.list({ limit: 50 });
    const alert = alerts.find((item) => item.detectorId === 'sim_swap' && item.subject === person.accountId);
    expect(alert?.severity).toBe('high');
    expect((await auditEvents(h, { types: ['alert.raised'] })).length).toBeGreaterThan(0);
  });
});
