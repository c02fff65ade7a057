import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { accountRow, freshGrant, signInWithGate, tick } from './support.ts';

/*
 * TOK-6: a code or token is bound to the account, the flow and the purpose it was issued for.
 */

describe.each(ENGINES)('binding of codes and tokens on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let carol: Person;
  let aliceMethods: Enrolled;
  let carolMethods: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    carol = await createPerson(h, 'carol');
    aliceMethods = await enrolEmailAndTotp(h, alice);
    carolMethods = await enrolEmailAndTotp(h, carol);
  });
  afterAll(async () => {
    await h.close();
  });

  async function emailChallenge(identifier: string, to: string): Promise<{ token: string; code: string }> {
    const { token } = await startFlow(h, identifier);
    tick(h);
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
    return { token, code: await latestCode(h, to) };
  }

  it("TOK-6 refuses a code issued in carol's flow A when it is sent to her flow B, and the reverse", async () => {
    const a = await emailChallenge('carol', carolMethods.altEmail);
    const b = await emailChallenge('carol', carolMethods.altEmail);
    expect(a.code).not.toBe(b.code);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: a.code }, { token: b.token })).statusCode).toBe(422);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: b.code }, { token: a.token })).statusCode).toBe(422);
    // Each code still answers its own flow: they were refused for the binding, not burned.
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: a.code }, { token: a.token })).statusCode).toBe(200);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: b.code }, { token: b.token })).statusCode).toBe(200);
  });

  it("TOK-6 refuses a code issued for alice's flow in carol's flow", async () => {
    const forAlice = await emailChallenge('alice', aliceMethods.altEmail);
    const forCarol = await emailChallenge('carol', carolMethods.altEmail);
    const crossed = await call(h, 'POST', '/api/recovery/flow/answer', { code: forAlice.code }, { token: forCarol.token });
    expect(crossed.statusCode).toBe(422);
    expect(json<FlowBody>(crossed).flow.gatesPassed).toBe(0);
  });

  it('TOK-6 keeps enrollment-verification codes and recovery codes apart, both ways', async () => {
    const session = await signInWithGate(h, carol, carolMethods);
    const newAddress = 'carol.second@example.org';
    const added = await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: newAddress }, { token: session });
    expect(added.statusCode).toBe(201);
    const enrollmentId = json<{ enrollment: { id: string } }>(added).enrollment.id;
    const verificationCode = await latestCode(h, newAddress);

    const recovery = await emailChallenge('carol', carolMethods.altEmail);
    // The enrollment code cannot answer a recovery challenge …
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: verificationCode }, { token: recovery.token })).statusCode).toBe(422);
    // … and the recovery code cannot verify the new address.
    const wrongPurpose = await call(h, 'POST', `/api/me/methods/${enrollmentId}/verify`, { code: recovery.code }, { token: session });
    expect(wrongPurpose.statusCode).toBe(422);
    // Both still work for what they were issued for.
    expect((await call(h, 'POST', `/api/me/methods/${enrollmentId}/verify`, { code: verificationCode }, { token: session })).statusCode).toBe(200);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: recovery.code }, { token: recovery.token })).statusCode).toBe(200);
  });

  it("TOK-6 a sign-in gate cannot be turned into a password reset, and a session is not a flow token", async () => {
    const signIn = json<{ flowToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password }));
    const password = 'violet kites over grey harbour';
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: signIn.flowToken })).statusCode).toBe(409);
    const session = await signInWithGate(h, alice, aliceMethods);
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: session })).statusCode).toBe(404);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: session })).statusCode).toBe(404);
  });

  it("TOK-6 sets the password only on the grant's own account: naming another account in the final step is refused", async () => {
    const aliceBefore = await accountRow(h, alice.accountId);
    const { grant } = await freshGrant(h, carol, carolMethods);
    const password = 'copper lanterns drift past midnight';
    for (const extra of [{ username: 'alice' }, { userId: alice.accountId }, { accountId: alice.accountId }, { identifier: alice.email }]) {
      const tampered = await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password, ...extra }, { token: grant });
      expect(tampered.statusCode).toBe(400);
      expect(json(tampered)['code']).toBe('request.invalid');
    }
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant })).statusCode).toBe(200);
    expect(await h.latchkey.deps.directory.verifyPassword(carol.accountId as never, password)).toBe('valid');
    expect((await accountRow(h, alice.accountId)).password_hash).toBe(aliceBefore.password_hash);
  });
});
