import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, allMessages, auditEvents, call, createPerson, enrolEmailAndTotp, json, signInFresh, startHarness, type Enrolled, type Harness } from '../support/harness.ts';
import { createAccount, normalise, outboxSize, raw } from './checks.support.ts';

/*
 * INP-1 (GitLab CVE-2023-7028 style parameter pollution): an identifier is exactly one scalar
 * string. Arrays, objects, operators, duplicated keys and lists either fail the schema (400) or are
 * one odd string that matches nobody (the generic reply); no shape ever sends a message to the
 * attacker's domain or to a different account than the one named.
 */

const ATTACKER = 'attacker@evil.test';

describe.each(ENGINES)('identifier pollution on %s', (engine) => {
  let h: Harness;
  let aliceMethods: Enrolled;
  beforeAll(async () => {
    h = await startHarness({ engine });
    aliceMethods = await enrolEmailAndTotp(h, await createPerson(h, 'alice'));
    // A real account at the attacker's domain: pollution must not reach it either.
    const mallory = await createAccount(h, { username: 'mallory', email: 'mallory@evil.test' });
    await enrolEmailAndTotp(h, mallory);
  });
  afterAll(async () => {
    await h.close();
  });

  const json400 = (response: LightMyRequestResponse, field: string): void => {
    expect(response.statusCode, response.body).toBe(400);
    const body = json<{ code: string; detail: string }>(response);
    expect(body.code).toBe('request.invalid');
    expect(body.detail).toContain(field);
  };

  it('INP-1 refuses an identifier given as an array, an object, an operator, a number, null or a duplicated key with 400 and sends nothing', async () => {
    const before = await outboxSize(h);
    const shapes: unknown[] = [
      ['alice@corp.test', ATTACKER],
      ['alice@corp.test'],
      { $ne: null },
      { $regex: '.*' },
      { email: 'alice@corp.test', cc: ATTACKER },
      123,
      true,
      null,
    ];
    for (const identifier of shapes) json400(await call(h, 'POST', '/api/recovery/flows', { identifier }), 'identifier');
    json400(await raw(h, 'POST', '/api/recovery/flows', `{"identifier":"alice@corp.test","identifier":"${ATTACKER}"}`, { 'content-type': 'application/json' }), 'identifier');
    json400(await raw(h, 'POST', '/api/recovery/flows', `{"identifier":"${ATTACKER}","\\u0069dentifier":"alice@corp.test"}`, { 'content-type': 'application/json' }), 'identifier');
    for (const username of [['alice', 'mallory'], { $gt: '' }]) json400(await call(h, 'POST', '/api/me/sign-in', { username, password: 'x' }), 'username');
    json400(await raw(h, 'POST', '/api/me/sign-in', `{"username":"alice","password":"x","username":"mallory"}`, { 'content-type': 'application/json' }), 'username');
    expect(await outboxSize(h)).toBe(before);
  });

  it('INP-1 refuses form-encoded array and repeated parameters with 415 before any lookup', async () => {
    const before = (await auditEvents(h, { types: ['recovery.started'] })).length;
    for (const body of [`identifier[]=alice%40corp.test&identifier[]=${encodeURIComponent(ATTACKER)}`, `identifier=alice%40corp.test&identifier=${encodeURIComponent(ATTACKER)}`, `user[email][]=alice%40corp.test&user[email][]=${encodeURIComponent(ATTACKER)}`]) {
      const response = await raw(h, 'POST', '/api/recovery/flows', body, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(response.statusCode).toBe(415);
    }
    expect((await auditEvents(h, { types: ['recovery.started'] })).length).toBe(before);
  });

  it('INP-1 answers comma, semicolon, space and display-name lists with the generic reply, and no method choice then sends anything', async () => {
    const reference = normalise(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost@corp.test' }));
    const before = await outboxSize(h);
    const lists = [
      `alice@corp.test,${ATTACKER}`,
      `alice@corp.test;${ATTACKER}`,
      `alice@corp.test ${ATTACKER}`,
      `alice@corp.test, ${ATTACKER}`,
      `"alice@corp.test" <${ATTACKER}>`,
      `alice@corp.test%2C${ATTACKER}`,
      `alice,mallory`,
      `alice;mallory`,
      `mallory@evil.test,alice@corp.test`,
    ];
    for (const identifier of lists) {
      const started = await call(h, 'POST', '/api/recovery/flows', { identifier });
      expect(normalise(started), identifier).toEqual(reference);
      const token = json<{ flowToken: string }>(started).flowToken;
      for (const method of ['email_code', 'sms_code']) expect((await call(h, 'POST', '/api/recovery/flow/method', { method }, { token })).statusCode).toBe(200);
      const startedEvent = (await auditEvents(h, { flowId: json<{ flow: { flowId: string } }>(started).flow.flowId, types: ['recovery.started'] }))[0];
      expect(startedEvent?.data['decoy'], identifier).toBe(true);
    }
    expect(await outboxSize(h)).toBe(before);
  });

  it('INP-1 ignores an identifier smuggled in the query string: the body alone names the account', async () => {
    const before = await allMessages(h);
    const started = await call(h, 'POST', `/api/recovery/flows?identifier=${encodeURIComponent(ATTACKER)}&identifier=mallory`, { identifier: 'alice' });
    expect(started.statusCode).toBe(201);
    const token = json<{ flowToken: string }>(started).flowToken;
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
    const added = (await allMessages(h)).slice(before.length);
    expect(added.map((message) => message.to)).toEqual([aliceMethods.altEmail]);
  });

  it('INP-1 refuses list-shaped or array alternate addresses at registration and queues nothing for them', async () => {
    const session = await signInFresh(h, await createPerson(h, 'carol'));
    const before = await outboxSize(h);
    const toAttackerDomain = async (): Promise<number> => (await allMessages(h)).filter((message) => message.to.endsWith('evil.test')).length;
    const attackerBefore = await toAttackerDomain();
    for (const address of [[`carol@example.org`, ATTACKER], { $ne: null }]) json400(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address }, { token: session }), 'address');
    for (const address of [`carol@example.org,${ATTACKER}`, `carol@example.org;${ATTACKER}`, `carol@example.org ${ATTACKER}`, `"carol" <${ATTACKER}>`, `carol@example.org\r\nBcc: ${ATTACKER}`, `carol@example.org\nCc: ${ATTACKER}`]) {
      const response = await call(h, 'POST', '/api/me/methods', { method: 'email_code', address }, { token: session });
      expect(response.statusCode, address).toBe(422);
      expect(json<{ code: string; detail: string }>(response)).toMatchObject({ code: 'enrollment.invalid_input' });
      expect(json<{ detail: string }>(response).detail).toMatch(/^address: /);
    }
    expect(await outboxSize(h)).toBe(before);
    expect(await toAttackerDomain()).toBe(attackerBefore);
  });
});
