import type { LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { accountRow, asAccount, codesTo, enrolPhone, freshGrant, messagesSince, nextTotpStep, outboxIds, passEmailGate, signInWithGate, wrongCode } from './support.ts';

/*
 * SESS-1: a reset ends every self-service session of the account. SESS-2: the final step logs
 * nobody in. SESS-3: the flow token is replaced after every gate and a planted one is useless.
 * SESS-4: every channel of record hears about a reset or unlock, with no secret in the text.
 * SESS-6: every flow response says `Cache-Control: no-store`. SESS-8: disabling an account
 * mid-flow stops the flow from completing.
 */

describe.each(ENGINES)('sessions and notices around a reset on %s', (engine) => {
  let h: Harness;
  let sue: Person;
  let enrolled: Enrolled;
  const phone = '+447700900333';

  beforeAll(async () => {
    h = await startHarness({ engine });
    sue = await createPerson(h, 'sue');
    enrolled = await enrolEmailAndTotp(h, sue);
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  it('SESS-1 SESS-2 a reset ends every session of the account and opens none', async () => {
    const sessions = [enrolled.session, await signInWithGate(h, sue, enrolled), await signInWithGate(h, sue, enrolled)];
    for (const session of sessions) expect((await call(h, 'GET', '/api/me/methods', undefined, { token: session })).statusCode).toBe(200);
    const { grant } = await freshGrant(h, sue, enrolled);
    const password = 'amber lanterns over the salt marsh';
    const done = await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant });
    expect(done.statusCode).toBe(200);

    // SESS-2: the reply carries the finished flow and nothing that could act as a credential.
    const body = json<Record<string, unknown>>(done);
    expect(Object.keys(body).sort()).toEqual(['flow']);
    expect((body['flow'] as { step: string }).step).toBe('completed');
    expect(done.headers['set-cookie']).toBeUndefined();
    expect((await call(h, 'GET', '/api/me/methods', undefined, { token: grant })).statusCode).toBe(401);

    // SESS-1: every earlier session is dead, including the one that registered the methods.
    for (const session of sessions) {
      const response = await call(h, 'GET', '/api/me/methods', undefined, { token: session });
      expect(response.statusCode).toBe(401);
      expect(json(response)['code']).toBe('auth.required');
    }
    // Signing in again goes through the normal gate (SESS-2): the password alone opens no session.
    expect(json(await call(h, 'POST', '/api/me/sign-in', { username: 'sue', password }))['status']).toBe('gate_required');
    sue = { ...sue, password };
  });

  it('SESS-3 replaces the flow token after every gate, and a planted token is never accepted', async () => {
    nextTotpStep(h.clock);
    const started = await startFlow(h, 'sue');
    const afterEmail = await passEmailGate(h, started.token, enrolled);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: afterEmail });
    const granted = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token: afterEmail });
    const grant = json<FlowBody>(granted).flowToken as string;
    const tokens = [started.token, afterEmail, grant];
    expect(new Set(tokens).size).toBe(3);
    // The flow id stays, the secret changes.
    expect(new Set(tokens.map((token) => token.split('.')[0])).size).toBe(1);
    for (const old of [started.token, afterEmail]) expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: old })).statusCode).toBe(404);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).statusCode).toBe(200);
    // Fixation: a token the client made up for this flow id opens nothing, before or after the gates.
    const planted = `${started.body.flow.flowId}.${randomBytes(32).toString('base64url')}`;
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: planted })).statusCode).toBe(404);
    // A failed answer does not rotate the token (nothing was gained), so no token is handed out.
    const other = await startFlow(h, 'sue');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: other.token });
    const failed = await call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(await latestCode(h, enrolled.altEmail)) }, { token: other.token });
    expect(json<FlowBody>(failed).flowToken).toBeUndefined();
  });

  it('SESS-4 tells every channel of record about a reset and an unlock, with time and address but no secret', async () => {
    for (const purpose of ['reset', 'unlock'] as const) {
      const { grant } = await freshGrant(h, sue, enrolled, purpose);
      const codes = [...(await codesTo(h, enrolled.altEmail)), ...(await codesTo(h, phone))];
      const seen = await outboxIds(h);
      const password = `${purpose} notice check passphrase`;
      const done =
        purpose === 'reset'
          ? await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant, ip: '198.51.100.7' })
          : await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant, ip: '198.51.100.7' });
      expect(done.statusCode).toBe(200);
      const notices = (await messagesSince(h, seen)).filter((message) => message.purpose === 'recovery_notice');
      expect(new Set(notices.map((notice) => notice.to))).toEqual(new Set([sue.email, enrolled.altEmail, phone]));
      expect(notices.map((notice) => notice.channel).sort()).toEqual(['email', 'email', 'sms']);
      for (const notice of notices) {
        const text = `${notice.subject}\n${notice.text}`;
        expect(text).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
        for (const secret of [password, sue.password, grant, grant.split('.')[1] ?? '', enrolled.totpSeed, ...codes]) expect(text).not.toContain(secret);
        if (notice.channel === 'email') expect(text).toContain('198.51.100.7');
      }
      if (purpose === 'reset') sue = { ...sue, password };
    }
  });

  it('SESS-6 sends Cache-Control: no-store on every flow response, successes and refusals alike', async () => {
    nextTotpStep(h.clock);
    const responses: LightMyRequestResponse[] = [];
    const record = async (response: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
      const settled = await response;
      responses.push(settled);
      return settled;
    };
    const started = await record(call(h, 'POST', '/api/recovery/flows', { identifier: 'sue' }));
    let token = json<{ flowToken: string }>(started).flowToken;
    await record(call(h, 'GET', '/api/recovery/flow', undefined, { token }));
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token }));
    const code = await latestCode(h, enrolled.altEmail);
    await record(call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token }));
    token = json<{ flowToken: string }>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }))).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/password', { password: 'too early', confirmPassword: 'too early' }, { token }));
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token }));
    token = json<{ flowToken: string }>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token }))).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/password', { password: 'Password1234567', confirmPassword: 'Password1234567' }, { token }));
    const password = 'no store for flow replies please';
    await record(call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token }));
    sue = { ...sue, password };
    await record(call(h, 'GET', '/api/recovery/flow', undefined, { token }));
    await record(call(h, 'POST', '/api/recovery/flows', { identifier: ['sue'] }));
    await record(call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost' }));
    await record(call(h, 'POST', '/api/me/sign-in', { username: 'sue', password }));
    const statuses = new Set(responses.map((response) => response.statusCode));
    for (const status of [200, 201, 400, 404, 409, 422]) expect(statuses).toContain(status);
    for (const response of responses) expect(response.headers['cache-control'], `${response.statusCode} ${response.body.slice(0, 80)}`).toBe('no-store');
  });

  it('SESS-8 an account disabled mid-flow cannot finish: not with a grant, not by unlocking, and its sessions end', async () => {
    const dot = await createPerson(h, 'dot');
    const dotMethods = await enrolEmailAndTotp(h, dot);
    const before = await accountRow(h, dot.accountId);
    const reset = await freshGrant(h, dot, dotMethods);
    const unlock = await freshGrant(h, dot, dotMethods, 'unlock');
    nextTotpStep(h.clock);
    const halfway = await passEmailGate(h, (await startFlow(h, 'dot')).token, dotMethods);

    await h.latchkey.store.builtinAccounts.setEnabled(asAccount(dot.accountId), false);

    const password = 'disabled accounts stay as they are';
    const setAttempt = await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: reset.grant });
    expect(setAttempt.statusCode).toBe(404);
    expect((await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: unlock.grant })).statusCode).toBe(404);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: halfway });
    const second = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(dotMethods.totpSeed, h.clock) }, { token: halfway });
    expect(second.statusCode).not.toBe(200);
    expect((await accountRow(h, dot.accountId)).password_hash).toBe(before.password_hash);
    expect((await call(h, 'GET', '/api/me/methods', undefined, { token: dotMethods.session })).statusCode).toBe(401);
    // A new flow for the disabled account is a decoy: nothing is sent.
    const seen = await outboxIds(h);
    const fresh = await startFlow(h, 'dot');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: fresh.token });
    expect(await messagesSince(h, seen)).toEqual([]);
  });
});
