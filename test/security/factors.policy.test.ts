import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRENGTH_CLASSES } from '../../src/core/methods/method-ids.ts';
import { METHOD_GATE_FACTS } from '../../src/core/policy/gates.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, messagesTo, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { enrolEmail, enrolPhone, passEmailGate, signInWithGate } from './support.ts';

/*
 * FAC-1: a reset never bypasses enrolled strong methods (email alone, or email + SMS, is not enough).
 * FAC-5: a pending (unverified) email or phone is no gate, and SMS is never enough on its own.
 * FAC-11: methods are offered strongest first.
 */

const NEW_PASSWORD = 'harbour lights over slate roofs';

describe.each(ENGINES)('which proofs suffice on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;
  const phone = '+447700900111';

  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice, { recoveryCodes: true });
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  async function refusedFinalSteps(token: string): Promise<void> {
    for (const [url, body] of [
      ['/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }],
      ['/api/recovery/flow/unlock', {}],
    ] as const) {
      const response = await call(h, 'POST', url, body, { token });
      expect(response.statusCode, url).toBe(409);
      expect(json(response)['code']).toBe('flow.wrong_state');
    }
  }

  it('FAC-1 an emailed code alone never reaches the new-password step', async () => {
    const { token } = await startFlow(h, 'alice');
    const next = await passEmailGate(h, token, enrolled);
    const view = json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: next })).flow;
    expect(view).toMatchObject({ step: 'awaiting_method_choice', gatesPassed: 1, gatesRequired: 2 });
    await refusedFinalSteps(next);
  });

  it('FAC-1 email plus SMS cannot complete a reset of an account with an authenticator app: the second weak method is refused, in either order', async () => {
    const first = await startFlow(h, 'alice');
    const afterEmail = await passEmailGate(h, first.token, enrolled);
    const sms = await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: afterEmail });
    expect(sms.statusCode).toBe(422);
    expect(json(sms)['code']).toBe('method.not_allowed');

    const second = await startFlow(h, 'alice');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: second.token });
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, phone) }, { token: second.token });
    expect(passed.statusCode).toBe(200);
    const afterSms = json<FlowBody>(passed).flowToken as string;
    const email = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: afterSms });
    expect(email.statusCode).toBe(422);
    expect(json(email)['code']).toBe('method.not_allowed');
    await refusedFinalSteps(afterSms);
  });

  it('FAC-5 an SMS code alone never reaches the new-password step', async () => {
    const { token } = await startFlow(h, 'alice');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token });
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, phone) }, { token });
    expect(json<FlowBody>(passed).flow).toMatchObject({ gatesPassed: 1, step: 'awaiting_method_choice' });
    await refusedFinalSteps(json<FlowBody>(passed).flowToken as string);
  });

  it('FAC-5 a pending (unverified) email address or phone number receives no recovery code and is no gate', async () => {
    const pat = await createPerson(h, 'pat');
    const patMethods = await enrolEmailAndTotp(h, pat);
    const session = await signInWithGate(h, pat, patMethods);
    // Pending contact data, as an attacker with a stolen password might add it.
    const pendingEmail = 'attacker.inbox@evil.test';
    const pendingPhone = '+447700900999';
    await enrolEmail(h, session, pendingEmail, false);
    await enrolPhone(h, session, pendingPhone, false);
    const enrollmentCodes = [await latestCode(h, pendingEmail), await latestCode(h, pendingPhone)];

    const { token } = await startFlow(h, 'pat');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token });
    for (const code of enrollmentCodes) expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).statusCode).toBe(422);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    for (const code of enrollmentCodes) expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).statusCode).toBe(422);
    // Only the verification messages ever went to the pending addresses; the recovery code went to the verified one.
    for (const to of [pendingEmail, pendingPhone]) {
      expect((await messagesTo(h, to)).map((message) => message.purpose)).toEqual(['enrollment_code']);
    }
    expect((await messagesTo(h, patMethods.altEmail)).filter((message) => message.purpose === 'challenge_code').length).toBeGreaterThanOrEqual(2);
  });

  it('FAC-11 offers methods strongest first, the same order for a real and an unknown account', async () => {
    const rank = (id: string): number => STRENGTH_CLASSES.indexOf(METHOD_GATE_FACTS[id as keyof typeof METHOD_GATE_FACTS].strength);
    for (const identifier of ['alice', 'ghost']) {
      const methods = (await startFlow(h, identifier)).body.flow.methods.map((method) => method.id);
      expect(methods.length).toBeGreaterThan(0);
      const ranks = methods.map(rank);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(METHOD_GATE_FACTS[methods[0] as keyof typeof METHOD_GATE_FACTS].strength).not.toBe('possession_weak');
      expect(methods.indexOf('totp')).toBeLessThan(methods.indexOf('email_code'));
      expect(methods.indexOf('recovery_code')).toBeLessThan(methods.indexOf('sms_code'));
    }
  });
});
