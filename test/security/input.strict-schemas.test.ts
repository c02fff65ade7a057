import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { raw } from './checks.support.ts';

/*
 * INP-5: every JSON body is parsed against a strict schema: unknown fields (mass assignment),
 * prototype-pollution keys and wrong types (arrays of codes, booleans, operator objects) are refused
 * with 400 and a message naming the field, and nothing about later requests changes.
 */

describe.each(ENGINES)('strict request schemas on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;
  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => {
    await h.close();
  });

  function expectNamed(response: LightMyRequestResponse, field: string, label: string): void {
    expect(response.statusCode, `${label}: ${response.body}`).toBe(400);
    const body = json<{ code: string; detail: string }>(response);
    expect(body.code, label).toBe('request.invalid');
    expect(body.detail, label).toContain(field);
  }

  const post = (url: string, text: string, token?: string): Promise<LightMyRequestResponse> => raw(h, 'POST', url, text, { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) });

  it('INP-5 refuses arrays, booleans, numbers and operator objects as a code, and extra or prototype keys, naming the field, then the flow works as before', async () => {
    const { token, body } = await startFlow(h, 'alice');
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
    const code = await latestCode(h, enrolled.altEmail);
    const before = await call(h, 'GET', '/api/recovery/flow', undefined, { token });

    const everyCode = Array.from({ length: 1000 }, (_, index) => String(index).padStart(8, '0'));
    const attempts: [string, string][] = [
      [JSON.stringify({ code: [...everyCode, code] }), 'code'],
      [JSON.stringify({ code: [code] }), 'code'],
      [JSON.stringify({ code: true }), 'code'],
      [JSON.stringify({ code: Number(code) }), 'code'],
      [JSON.stringify({ code: { $gt: '' } }), 'code'],
      [JSON.stringify({ code: { $ne: null } }), 'code'],
      [JSON.stringify({ code, role: 'admin' }), 'role'],
      [JSON.stringify({ role: 'admin' }), 'role'],
      [JSON.stringify({ code, verified: true, gatesPassed: 2 }), 'verified'],
      [`{"__proto__":{"verified":true},"code":"${code}"}`, '__proto__'],
      [`{"code":"${code}","constructor":{"name":"Admin"}}`, 'constructor'],
      [`{"code":"${code}","constructor":{"prototype":{"verified":true}}}`, 'prototype'],
      [`{"code":"${code}","nested":{"prototype":{"role":"admin"}}}`, 'prototype'],
      [`{"code":"00000000","code":"${code}"}`, 'code'],
      [JSON.stringify({ answers: code }), 'answers'],
    ];
    for (const [text, field] of attempts) expectNamed(await post('/api/recovery/flow/answer', text, token), field, text.slice(0, 60));
    // Every element of a million-code array is well past the body limit: refused before parsing.
    expect((await post('/api/recovery/flow/answer', JSON.stringify({ code: Array.from({ length: 100_000 }, (_, index) => String(index).padStart(8, '0')) }), token)).statusCode).toBe(413);

    // No pollution: plain objects are untouched and the flow is exactly where it was.
    expect(({} as Record<string, unknown>)['verified']).toBeUndefined();
    expect(({} as Record<string, unknown>)['role']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('verified');
    const after = await call(h, 'GET', '/api/recovery/flow', undefined, { token });
    expect(after.body).toBe(before.body);
    expect(await auditEvents(h, { flowId: body.flow.flowId, types: ['challenge.passed', 'challenge.failed', 'challenge.exhausted'] })).toEqual([]);
    // A later normal request behaves normally: a wrong code fails, the right one passes one gate.
    const wrong = await call(h, 'POST', '/api/recovery/flow/answer', { code: code === '00000000' ? '11111111' : '00000000' }, { token });
    expect(wrong.statusCode).toBe(422);
    const right = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token });
    expect(right.statusCode).toBe(200);
    expect(json<FlowBody>(right).flow.gatesPassed).toBe(1);
  });

  it('INP-5 refuses unknown fields, wrong types and prototype keys on every other body, naming the field', async () => {
    const { token } = await startFlow(h, 'alice');
    const session = enrolled.session;
    const pending = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'alice.second@example.org' }, { token: session }));
    const cases: [string, string, string, string?][] = [
      ['/api/recovery/flows', JSON.stringify({ identifier: 'alice', role: 'admin' }), 'role'],
      ['/api/recovery/flows', JSON.stringify({ identifier: 'alice', purpose: 'admin' }), 'purpose'],
      ['/api/recovery/flows', JSON.stringify({ identifier: 'alice', tier: 'break_glass', decoy: false }), 'tier'],
      ['/api/recovery/flows', `{"identifier":"alice","__proto__":{"decoy":false}}`, '__proto__'],
      ['/api/recovery/flow/method', JSON.stringify({ method: 'email_code', verified: true }), 'verified', token],
      ['/api/recovery/flow/method', JSON.stringify({ method: ['email_code', 'totp'] }), 'method', token],
      ['/api/recovery/flow/method', JSON.stringify({ method: 'email_code', enrollmentId: pending.enrollment.id }), 'enrollmentId', token],
      ['/api/recovery/flow/password', JSON.stringify({ password: 'a long enough passphrase', confirmPassword: 'a long enough passphrase', gatesPassed: 2 }), 'gatesPassed', token],
      ['/api/recovery/flow/password', JSON.stringify({ password: 123456789012345, confirmPassword: 123456789012345 }), 'password', token],
      ['/api/recovery/flow/unlock', JSON.stringify({ force: true }), 'force', token],
      ['/api/me/sign-in', JSON.stringify({ username: 'alice', password: alice.password, mfa: false }), 'mfa'],
      ['/api/me/sign-in', JSON.stringify({ username: 'alice', password: { $ne: '' } }), 'password'],
      ['/api/me/sign-in', `{"username":"alice","password":"x","constructor":{}}`, 'constructor'],
      ['/api/me/methods', JSON.stringify({ method: 'totp', status: 'active' }), 'status', session],
      ['/api/me/methods', JSON.stringify({ method: 'email_code', address: 'x@example.org', verified: true }), 'verified', session],
      ['/api/me/methods', JSON.stringify({ method: 'email_code', address: ['x@example.org'] }), 'address', session],
      [`/api/me/methods/${pending.enrollment.id}/verify`, JSON.stringify({ code: true }), 'code', session],
      [`/api/me/methods/${pending.enrollment.id}/verify`, JSON.stringify({ code: '12345678', status: 'active' }), 'status', session],
    ];
    for (const [url, text, field, bearer] of cases) expectNamed(await post(url, text, bearer), field, `${url} ${text.slice(0, 60)}`);
    // None of them registered, activated or verified anything.
    const methods = json<{ methods: { id: string; status: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session })).methods;
    expect(methods.find((method) => method.id === pending.enrollment.id)?.status).toBe('pending');
    expect(methods.filter((method) => method.status === 'active')).toHaveLength(2);
    expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token })).flow).toMatchObject({ step: 'awaiting_method_choice', gatesPassed: 0 });
  });
});
