import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, passTwoGates, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { alignToMidStep, nextTotpStep, passEmailGate } from './support.ts';

/*
 * TOK-4: every flow token, code, recovery code and TOTP value is usable exactly once.
 */

const NEW_PASSWORD = 'seven herons cross the frozen weir';

describe.each(ENGINES)('single use of tokens and codes on %s', (engine) => {
  let h: Harness;
  let una: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    una = await createPerson(h, 'una');
    enrolled = await enrolEmailAndTotp(h, una, { recoveryCodes: true });
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-4 refuses an email code a second time, in the same flow and in a second flow', async () => {
    const first = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: first.token });
    const code = await latestCode(h, enrolled.altEmail);
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: first.token });
    expect(passed.statusCode).toBe(200);
    const next = json<FlowBody>(passed).flowToken as string;

    // Same flow: there is no open challenge any more, and the email channel cannot be chosen again.
    const again = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: next });
    expect(again.statusCode).toBe(409);
    expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: next })).flow.gatesPassed).toBe(1);

    // Second flow: a new code is sent there; the old one does not answer it.
    const second = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: second.token });
    expect(await latestCode(h, enrolled.altEmail)).not.toBe(code);
    const replayed = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: second.token });
    expect(replayed.statusCode).toBe(422);
    expect(json(replayed)['code']).toBe('challenge.invalid');
    expect(json<FlowBody>(replayed).flow.gatesPassed).toBe(0);
  });

  it('TOK-4 retires a flow token once a gate rotates it, and the final token once the reset is done', async () => {
    nextTotpStep(h.clock);
    const started = await startFlow(h, 'una');
    const afterEmail = await passEmailGate(h, started.token, enrolled);
    for (const attempt of [
      call(h, 'GET', '/api/recovery/flow', undefined, { token: started.token }),
      call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: started.token }),
      call(h, 'POST', '/api/recovery/flow/answer', { code: '123456' }, { token: started.token }),
    ]) {
      expect((await attempt).statusCode).toBe(404);
    }
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: afterEmail });
    const granted = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token: afterEmail });
    const grant = json<FlowBody>(granted).flowToken as string;
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: afterEmail })).statusCode).toBe(404);

    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant })).statusCode).toBe(200);
    const other = 'a different passphrase of nine words';
    const replay = await call(h, 'POST', '/api/recovery/flow/password', { password: other, confirmPassword: other }, { token: grant });
    expect(replay.statusCode).toBe(404);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).statusCode).toBe(404);
    expect(await h.latchkey.deps.directory.verifyPassword(una.accountId as never, NEW_PASSWORD)).toBe('valid');
  });

  it('TOK-4 refuses a recovery code that was used once, in any later flow', async () => {
    const code = enrolled.recoveryCodes[0] as string;
    const first = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: first.token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: first.token })).statusCode).toBe(200);

    for (const spelling of [code, code.toLowerCase(), code.replaceAll('-', ''), code.replaceAll('-', ' ')]) {
      const later = await startFlow(h, 'una');
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: later.token });
      const reused = await call(h, 'POST', '/api/recovery/flow/answer', { code: spelling }, { token: later.token });
      expect(reused.statusCode).toBe(422);
      expect(json(reused)['code']).toBe('challenge.invalid');
    }
  });

  it('TOK-4 refuses an authenticator code that already passed a gate', async () => {
    nextTotpStep(h.clock);
    const first = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: first.token });
    alignToMidStep(h.clock);
    const code = oathtoolCode(enrolled.totpSeed, h.clock);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: first.token })).statusCode).toBe(200);
    const second = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: second.token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: second.token })).statusCode).toBe(422);
  });

  it('TOK-4 a completed reset leaves nothing of its proofs usable: the same two gates cannot be replayed', async () => {
    nextTotpStep(h.clock);
    const started = await startFlow(h, 'una');
    const grant = await passTwoGates(h, started.token, enrolled);
    const emailCode = await latestCode(h, enrolled.altEmail);
    const totpCode = oathtoolCode(enrolled.totpSeed, h.clock);
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: `${NEW_PASSWORD} again`, confirmPassword: `${NEW_PASSWORD} again` }, { token: grant })).statusCode).toBe(200);

    const replay = await startFlow(h, 'una');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: replay.token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: emailCode }, { token: replay.token })).statusCode).toBe(422);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: replay.token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: totpCode }, { token: replay.token })).statusCode).toBe(422);
  });
});
