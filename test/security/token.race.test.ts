import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalisePassword } from '../../src/adapters/directory/builtin/builtin-directory.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, oathtoolCode, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { accountRow, alignToMidStep, asAccount, freshGrant, nextTotpStep, passEmailGate } from './support.ts';

/*
 * TOK-5: single-use consumption is atomic. Bursts of identical requests are fired at once through
 * the injector (all requests are in flight together), and exactly one may win.
 */

const WORDS = ['amber', 'birch', 'cobalt', 'dune', 'ember', 'fjord', 'garnet', 'heron', 'indigo', 'juniper', 'kelp', 'lilac', 'maple', 'nectar', 'opal'];
/** Thirty distinct passphrases that pass the password policy. */
const passwords = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix} ${WORDS[i % WORDS.length] ?? ''} ${WORDS[(i * 7 + 3) % WORDS.length] ?? ''} lantern ${100 + i}`);

describe.each(ENGINES)('single-use races on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  /** Whether the account's stored hash accepts a password (grey-box: argon2 verify on the stored hash, no sign-in side effects). */
  async function storedPasswordIs(accountId: string, password: string): Promise<boolean> {
    const { password_hash: hash } = await accountRow(h, accountId);
    return h.latchkey.deps.passwords.verify(hash, normalisePassword(password));
  }

  it("TOK-5 lets one of 30 simultaneous set-password requests win, and the final password is the winner's", async () => {
    const rae = await createPerson(h, 'rae');
    const enrolled = await enrolEmailAndTotp(h, rae);
    const { grant, flowId } = await freshGrant(h, rae, enrolled);
    const candidates = passwords('rae', 30);
    const responses = await Promise.all(candidates.map((password) => call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant })));
    const winners = responses.flatMap((response, index) => (response.statusCode === 200 ? [candidates[index] ?? ''] : []));
    expect(winners).toHaveLength(1);
    for (const response of responses) expect([200, 404, 409]).toContain(response.statusCode);
    // One stored hash accepts one password: if it is the winner's, no loser's write landed after it.
    expect(await h.latchkey.deps.directory.verifyPassword(asAccount(rae.accountId), winners[0] ?? '')).toBe('valid');
    expect(await auditEvents(h, { flowId, types: ['password.reset'] })).toHaveLength(1);
  });

  it("TOK-5 lets only one of several grants of one account set a password when they race, and the final password is the winner's", async () => {
    const ray = await createPerson(h, 'ray');
    const enrolled = await enrolEmailAndTotp(h, ray, { recoveryCodes: true });
    // Five flows, each granted with an email code and a different recovery code (no clock movement needed).
    const grants: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const started = await startFlow(h, 'ray');
      const afterEmail = await passEmailGate(h, started.token, enrolled);
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: afterEmail });
      const granted = await call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[i] }, { token: afterEmail });
      expect(json<FlowBody>(granted).flow.step).toBe('awaiting_new_password');
      grants.push(json<FlowBody>(granted).flowToken ?? '');
    }
    const candidates = passwords('ray', grants.length);
    const responses = await Promise.all(grants.map((grant, i) => call(h, 'POST', '/api/recovery/flow/password', { password: candidates[i], confirmPassword: candidates[i] }, { token: grant })));
    const winners = responses.flatMap((response, index) => (response.statusCode === 200 ? [candidates[index] ?? ''] : []));
    expect(winners).toHaveLength(1);
    expect(await storedPasswordIs(ray.accountId, winners[0] ?? '')).toBe(true);
    expect((await auditEvents(h, { types: ['password.reset'] })).filter((event) => event.subject === ray.accountId && event.outcome === 'success')).toHaveLength(1);
  });

  it('TOK-5 lets one of 30 simultaneous submissions of one recovery code (in 30 flows) pass', async () => {
    const rex = await createPerson(h, 'rex');
    const enrolled = await enrolEmailAndTotp(h, rex, { recoveryCodes: true });
    const tokens = await Promise.all(Array.from({ length: 30 }, async () => (await startFlow(h, 'rex')).token));
    for (const token of tokens) expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token })).statusCode).toBe(200);
    const code = enrolled.recoveryCodes[0];
    const responses = await Promise.all(tokens.map((token) => call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })));
    const passed = responses.filter((response) => response.statusCode === 200);
    expect(passed).toHaveLength(1);
    expect(json<FlowBody>(passed[0] as never).flow.gatesPassed).toBe(1);
    for (const response of responses) if (response.statusCode !== 200) expect(json(response)['code']).toBe('challenge.invalid');
    expect((await auditEvents(h, { types: ['challenge.passed'] })).filter((event) => event.subject === rex.accountId && event.data['method'] === 'recovery_code')).toHaveLength(1);
  });

  it('TOK-5 lets one of 30 simultaneous submissions of one authenticator code (in 30 flows) pass', async () => {
    const ren = await createPerson(h, 'ren');
    const enrolled = await enrolEmailAndTotp(h, ren);
    nextTotpStep(h.clock);
    const tokens = await Promise.all(Array.from({ length: 30 }, async () => (await startFlow(h, 'ren')).token));
    for (const token of tokens) expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token })).statusCode).toBe(200);
    alignToMidStep(h.clock);
    const code = oathtoolCode(enrolled.totpSeed, h.clock);
    const responses = await Promise.all(tokens.map((token) => call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })));
    expect(responses.filter((response) => response.statusCode === 200)).toHaveLength(1);
    expect(responses.filter((response) => response.statusCode === 422)).toHaveLength(29);
  });
});
