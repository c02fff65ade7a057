import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { codesTo, enrolPhone, nextTotpStep, passEmailGate, signInWithGate } from './support.ts';

/*
 * The API parts of TOK-9 (reading never consumes), TOK-10 (the flow secret never travels in a URL;
 * no Referer leaks), TOK-11 (messages carry no link built from request headers) and TOK-12 (no
 * response ever echoes a code, TOTP seed or recovery code, except the one reply that shows newly
 * generated ones to their owner). This release sends codes, not links; the browser parts are later.
 */

describe.each(ENGINES)('leakage of codes and tokens on %s', (engine) => {
  let h: Harness;
  let lou: Person;
  let enrolled: Enrolled;
  const phone = '+447700900444';
  const traffic: LightMyRequestResponse[] = [];

  const record = async (response: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
    const settled = await response;
    traffic.push(settled);
    return settled;
  };

  beforeAll(async () => {
    h = await startHarness({ engine });
    lou = await createPerson(h, 'lou');
    enrolled = await enrolEmailAndTotp(h, lou, { recoveryCodes: true });
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-9 reading a flow (as a mail scanner would) changes nothing: the code still works afterwards', async () => {
    const { token, body } = await startFlow(h, 'lou');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    const code = await latestCode(h, enrolled.altEmail);
    const before = await h.latchkey.store.flows.get(body.flow.flowId as never);
    for (let i = 0; i < 3; i += 1) {
      expect((await record(call(h, 'GET', '/api/recovery/flow', undefined, { token, headers: { 'user-agent': 'Mozilla/5.0 (compatible; SafeLinks scanner)' } }))).statusCode).toBe(200);
    }
    const after = await h.latchkey.store.flows.get(body.flow.flowId as never);
    expect(after?.version).toBe(before?.version);
    expect(after?.state).toBe(before?.state);
    expect((await record(call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }))).statusCode).toBe(200);
  });

  it('TOK-10 takes the flow token only from the Authorization header, never from the URL, and replies with Referrer-Policy: no-referrer', async () => {
    const { token } = await startFlow(h, 'lou');
    for (const url of [`/api/recovery/flow?token=${encodeURIComponent(token)}`, `/api/recovery/flow?flowToken=${encodeURIComponent(token)}`]) {
      const response = await record(call(h, 'GET', url));
      expect([400, 401]).toContain(response.statusCode);
    }
    expect((await record(call(h, 'GET', '/api/recovery/flow'))).statusCode).toBe(401);
    const ok = await record(call(h, 'GET', '/api/recovery/flow', undefined, { token }));
    expect(ok.statusCode).toBe(200);
    for (const response of traffic) expect(response.headers['referrer-policy']).toBe('no-referrer');
  });

  it('TOK-11 builds no link from request headers: messages carry no URL at all, whatever Host or forwarding headers say', async () => {
    const hostile = { host: 'evil.test', 'x-forwarded-host': 'evil.test', forwarded: 'host=evil.test;proto=http', 'x-original-url': 'http://evil.test/reset' };
    const started = await record(call(h, 'POST', '/api/recovery/flows', { identifier: 'lou' }, { headers: hostile }));
    const token = json<{ flowToken: string }>(started).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, headers: hostile }));
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token, headers: hostile }));
    const messages = await allMessages(h);
    expect(messages.length).toBeGreaterThan(3);
    for (const message of messages) {
      expect(message.text).not.toMatch(/evil\.test/i);
      expect(message.text).not.toMatch(/https?:\/\//i);
    }
  });

  it('TOK-12 no response of a whole recovery echoes a code, the TOTP seed or a recovery code', async () => {
    nextTotpStep(h.clock);
    const started = await record(call(h, 'POST', '/api/recovery/flows', { identifier: lou.email }));
    let token = json<{ flowToken: string }>(started).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token }));
    await record(call(h, 'POST', '/api/recovery/flow/answer', { code: '000000' }, { token }));
    token = json<FlowBody>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, phone) }, { token }))).flowToken as string;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token }));
    const granted = await record(call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[0] }, { token }));
    expect(granted.statusCode).toBe(200);
    await record(call(h, 'GET', '/api/recovery/flow', undefined, { token: json<FlowBody>(granted).flowToken as string }));
    const session = await signInWithGate(h, lou, enrolled);
    await record(call(h, 'GET', '/api/me/methods', undefined, { token: session }));
    await passEmailGate(h, (await startFlow(h, 'lou')).token, enrolled);

    const codes = [...(await codesTo(h, enrolled.altEmail)), ...(await codesTo(h, phone))];
    const secrets = [enrolled.totpSeed, ...enrolled.recoveryCodes, ...enrolled.recoveryCodes.map((code) => code.replaceAll('-', ''))];
    expect(codes.length).toBeGreaterThan(5);
    for (const response of traffic) {
      const text = `${JSON.stringify(response.headers)}\n${response.body}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
      // A code counts only as a whole number, not as a run of digits inside a random id.
      for (const code of codes) expect(text).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    }
  });
});
