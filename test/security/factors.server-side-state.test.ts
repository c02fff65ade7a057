import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { accountRow, freshGrant, passEmailGate } from './support.ts';

/*
 * FAC-2: the gate policy lives in server-side flow state. The final step refuses unless every gate
 * was passed in this flow, in order; client-sent state (`verified`, `success`, `step`, pollution
 * keys) is refused outright. FAC-8: a recovery flow token, even one holding a grant, reaches
 * nothing but the flow itself: no self-service or admin endpoint accepts it.
 */

const NEW_PASSWORD = 'lanterns drift over the cold harbour';

describe.each(ENGINES)('server-side flow state on %s', (engine) => {
  let h: Harness;
  let sam: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    sam = await createPerson(h, 'sam');
    enrolled = await enrolEmailAndTotp(h, sam);
  });
  afterAll(async () => {
    await h.close();
  });

  const setPassword = (token: string, extra: Record<string, unknown> = {}) =>
    call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, ...extra }, { token });

  it('FAC-2 refuses the final steps at the start of a flow and after the first gate', async () => {
    const { token } = await startFlow(h, 'sam');
    expect((await setPassword(token)).statusCode).toBe(409);
    expect((await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token })).statusCode).toBe(409);
    const next = await passEmailGate(h, token, enrolled);
    expect((await setPassword(next)).statusCode).toBe(409);
    expect((await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: next })).statusCode).toBe(409);
    expect(await h.latchkey.deps.directory.verifyPassword(sam.accountId as never, sam.password)).toBe('valid');
  });

  it('FAC-2 refuses client-sent flow state on every endpoint and leaves the flow as it was', async () => {
    const { token } = await startFlow(h, 'sam');
    const next = await passEmailGate(h, token, enrolled);
    const tampered: [string, unknown][] = [
      ['/api/recovery/flows', { identifier: 'sam', verified: ['email_code', 'totp'] }],
      ['/api/recovery/flows', { identifier: 'sam', gatesPassed: 2 }],
      ['/api/recovery/flow/method', { method: 'totp', verified: ['email_code', 'totp'] }],
      ['/api/recovery/flow/method', { method: 'totp', success: true }],
      ['/api/recovery/flow/answer', { code: '12345678', verified: true }],
      ['/api/recovery/flow/answer', { code: '12345678', success: true }],
      ['/api/recovery/flow/answer', { code: '12345678', step: 'awaiting_new_password' }],
      ['/api/recovery/flow/answer', { code: true }],
      ['/api/recovery/flow/answer', { code: ['12345678', '87654321'] }],
      ['/api/recovery/flow/answer', { code: { $gt: '' } }],
      ['/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, verified: ['email_code', 'totp'] }],
      ['/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD, gatesPassed: 2, step: 'awaiting_new_password' }],
      ['/api/recovery/flow/unlock', { verified: ['email_code', 'totp'] }],
    ];
    for (const [url, body] of tampered) {
      const response = await call(h, 'POST', url, body, { token: next });
      expect(response.statusCode, `${url} ${JSON.stringify(body)}`).toBe(400);
      expect(json(response)['code']).toBe('request.invalid');
    }
    for (const raw of [
      `{"password":"${NEW_PASSWORD}","confirmPassword":"${NEW_PASSWORD}","__proto__":{"gatesPassed":2}}`,
      `{"password":"${NEW_PASSWORD}","confirmPassword":"${NEW_PASSWORD}","constructor":{"prototype":{"verified":true}}}`,
    ]) {
      const response = await h.app.inject({ method: 'POST', url: '/api/recovery/flow/password', headers: { 'content-type': 'application/json', authorization: `Bearer ${next}` }, payload: raw });
      expect(response.statusCode).toBe(400);
    }
    expect((await call(h, 'GET', '/api/recovery/flow?step=awaiting_new_password', undefined, { token: next })).statusCode).toBe(400);
    const view = json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: next })).flow;
    expect(view).toMatchObject({ step: 'awaiting_method_choice', gatesPassed: 1 });
    expect((await setPassword(next)).statusCode).toBe(409);
  });

  it('FAC-2 enforces the order of steps: no answer before a challenge, no new challenge once the grant is held', async () => {
    const { token } = await startFlow(h, 'sam');
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token })).statusCode).toBe(409);
    const { grant } = await freshGrant(h, sam, enrolled);
    for (const method of ['email_code', 'totp', 'recovery_code', 'sms_code']) {
      const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token: grant });
      expect([409, 422]).toContain(chosen.statusCode);
    }
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token: grant })).statusCode).toBe(409);
    expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).flow.step).toBe('awaiting_new_password');
  });

  it('FAC-2 the flow id alone, or with a guessed secret, continues nothing', async () => {
    const { body } = await startFlow(h, 'sam');
    const flowId = body.flow.flowId;
    for (const token of [flowId, `${flowId}.`, `${flowId}.${randomBytes(32).toString('base64url')}`, `${randomUUID()}.${randomBytes(32).toString('base64url')}`]) {
      expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token })).statusCode).toBe(404);
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(404);
    }
  });

  it('FAC-8 a recovery flow token, at any stage, reaches no self-service or admin endpoint', async () => {
    const before = await accountRow(h, sam.accountId);
    const started = await startFlow(h, 'sam');
    const afterOne = await passEmailGate(h, started.token, enrolled);
    const { grant } = await freshGrant(h, sam, enrolled);
    const someId = randomUUID();
    for (const token of [started.token, afterOne, grant]) {
      const attempts = [
        call(h, 'GET', '/api/me/methods', undefined, { token }),
        call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'attacker@evil.test' }, { token }),
        call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token }),
        call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, { token }),
        call(h, 'POST', `/api/me/methods/${someId}/verify`, { code: '12345678' }, { token }),
        call(h, 'DELETE', `/api/me/methods/${someId}`, undefined, { token }),
        call(h, 'POST', '/api/me/sign-out', {}, { token }),
        call(h, 'GET', '/api/admin/accounts', undefined, { token }),
        call(h, 'GET', `/api/admin/accounts/${encodeURIComponent(sam.accountId)}`, undefined, { token }),
        call(h, 'GET', '/api/admin/audit', undefined, { token }),
        call(h, 'GET', '/api/admin/outbox', undefined, { token }),
      ];
      for (const response of await Promise.all(attempts)) {
        expect(response.statusCode, response.body).toBe(401);
        expect(json(response)['code']).toBe('auth.required');
      }
    }
    // Nothing changed on the account: no method added, password untouched, and the grant still works for its one purpose.
    const methods = json<{ methods: unknown[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session }));
    expect(methods.methods).toHaveLength(2);
    expect((await accountRow(h, sam.accountId)).password_hash).toBe(before.password_hash);
    expect((await setPassword(grant)).statusCode).toBe(200);
  });
});
