import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { normalise } from './checks.support.ts';

/*
 * ENUM-3: before a first gate is passed, the method step shows the same methods and the same
 * challenge prompts for everyone, and no masked contact data at all.
 */

const PHONE = '+447700900123';
/** Anything that looks like a contact hint: a masking dot or star, an address, a phone number, a domain. */
const CONTACT_HINT = /[•*]|@|\+\d|example\.org|corp\.test|0900123/;

describe.each(ENGINES)('method selection on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice, { recoveryCodes: true });
    const phone = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: PHONE }, { token: enrolled.session }));
    expect((await call(h, 'POST', `/api/me/methods/${phone.enrollment.id}/verify`, { code: await latestCode(h, PHONE) }, { token: enrolled.session })).statusCode).toBe(200);
    const methods = json<{ methods: { method: string; status: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session })).methods;
    expect(methods.filter((method) => method.status === 'active').map((method) => method.method).sort()).toEqual(['email_code', 'recovery_code', 'sms_code', 'totp']);
    await createPerson(h, 'bob');
  });
  afterAll(async () => {
    await h.close();
  });

  it('ENUM-3 offers ghost, bob (no methods) and alice (every method) the same list of methods', async () => {
    const lists = await Promise.all(['ghost', 'bob', 'alice'].map(async (identifier) => (await startFlow(h, identifier)).body.flow.methods));
    expect(lists[0]?.map((method) => method.id)).toEqual(['totp', 'recovery_code', 'email_code', 'sms_code']);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
  });

  it('ENUM-3 gives the same reply and challenge prompt for every method to ghost, bob and alice, with no contact hint', async () => {
    for (const method of ['totp', 'recovery_code', 'email_code', 'sms_code'] as const) {
      const replies = [];
      for (const identifier of ['ghost', 'bob', 'alice']) {
        const { token } = await startFlow(h, identifier);
        const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
        expect(chosen.statusCode, `${identifier} ${method}`).toBe(200);
        const described = await call(h, 'GET', '/api/recovery/flow', undefined, { token });
        for (const response of [chosen, described]) expect(response.body, `${identifier} ${method}: ${response.body}`).not.toMatch(CONTACT_HINT);
        replies.push({ chosen: normalise(chosen), described: normalise(described), challenge: json<FlowBody>(chosen).flow.challenge });
      }
      expect(replies[0]?.challenge, method).toMatchObject({ methodId: method });
      expect(replies[1], `bob ${method}`).toEqual(replies[0]);
      expect(replies[2], `alice ${method}`).toEqual(replies[0]);
    }
  });

  it('ENUM-3 shows no contact hint in the start reply either, for a person whose every method carries contact data', async () => {
    const started = await startFlow(h, 'alice@corp.test');
    expect(started.response.statusCode).toBe(201);
    expect(started.response.body).not.toMatch(CONTACT_HINT);
  });
});
