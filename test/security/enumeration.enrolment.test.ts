import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, messagesTo, signInFresh, startHarness, type Harness } from '../support/harness.ts';
import { normalise, scrubBody } from './checks.support.ts';

/*
 * ENUM-8: registering an alternate email or a phone that another account already uses answers
 * exactly like registering a fresh one, and so does verifying it with a wrong code.
 */

const ALICE_PHONE = '+447700900123';
/** Same country prefix and last two digits as alice's, so the masked labels are equal too. */
const FRESH_PHONE = '+447700900923';
/** Same first and last letter of the local part and same domain as alice's alternate address (alice.home@example.org), so the masked labels are equal too. */
const FRESH_EMAIL = 'anyone.else@example.org';

/** `normalise` with the enrollment's own id and creation time set aside. */
function comparable(response: LightMyRequestResponse): unknown {
  const normalised = normalise(response);
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, key === 'id' || key === 'createdAt' ? `<${key}>` : strip(inner)]));
    return value;
  };
  return { ...normalised, body: strip(scrubBody(normalised.body)) };
}

describe.each(ENGINES)('registering a contact already in use on %s', (engine) => {
  let h: Harness;
  let aliceEmail: string;
  beforeAll(async () => {
    h = await startHarness({ engine });
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice);
    aliceEmail = enrolled.altEmail;
    const phone = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone: ALICE_PHONE }, { token: enrolled.session }));
    expect((await call(h, 'POST', `/api/me/methods/${phone.enrollment.id}/verify`, { code: await latestCode(h, ALICE_PHONE) }, { token: enrolled.session })).statusCode).toBe(200);
  });
  afterAll(async () => {
    await h.close();
  });

  async function register(username: string, body: Record<string, string>): Promise<{ added: LightMyRequestResponse; wrongVerify: LightMyRequestResponse }> {
    const person = await createPerson(h, username);
    const session = await signInFresh(h, person);
    const added = await call(h, 'POST', '/api/me/methods', body, { token: session });
    const id = json<{ enrollment: { id: string } }>(added).enrollment.id;
    const wrongVerify = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: body['method'] === 'sms_code' ? '000000' : '00000000' }, { token: session });
    return { added, wrongVerify };
  }

  it("ENUM-8 registers alice's alternate email for carol exactly like a fresh address for dana", async () => {
    expect(aliceEmail.startsWith('a')).toBe(true);
    const taken = await register('carol', { method: 'email_code', address: aliceEmail });
    const fresh = await register('dana', { method: 'email_code', address: FRESH_EMAIL });
    expect(taken.added.statusCode).toBe(201);
    expect(comparable(taken.added)).toEqual(comparable(fresh.added));
    expect(taken.wrongVerify.statusCode).toBe(422);
    expect(comparable(taken.wrongVerify)).toEqual(comparable(fresh.wrongVerify));
  });

  it("ENUM-8 registers alice's phone for erin exactly like a fresh number for fay", async () => {
    const taken = await register('erin', { method: 'sms_code', phone: ALICE_PHONE });
    const fresh = await register('fay', { method: 'sms_code', phone: FRESH_PHONE });
    expect(taken.added.statusCode).toBe(201);
    expect(comparable(taken.added)).toEqual(comparable(fresh.added));
    expect(comparable(taken.wrongVerify)).toEqual(comparable(fresh.wrongVerify));
  });

  it('ENUM-8 sends the verification code for a taken address to that address only, never a notice naming the other account', async () => {
    const toAlice = await messagesTo(h, aliceEmail);
    const codes = toAlice.filter((message) => message.purpose === 'enrollment_code');
    // alice's own verification, then carol's attempt: the mailbox owner sees a code she did not ask for, nothing more.
    expect(codes.length).toBe(2);
    for (const message of toAlice) expect(message.text).not.toMatch(/carol|dana|already/i);
  });
});
