import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, messagesTo, oathtoolCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { DEFAULT_POLICY_TEXT, alignToMidStep, enrolPhone, nextTotpStep, wrongCode } from './support.ts';

/*
 * FAC-4: privileged accounts (members of the policy's privileged groups) recover only with an
 * authenticator app and recovery codes: email and SMS are neither offered nor accepted, even when
 * the account has them registered and the client asks for them by name, and the policy schema
 * refuses a privileged tier that would allow them. (WebAuthn is a later release.)
 */

describe.each(ENGINES)('privileged accounts on %s', (engine) => {
  let h: Harness;
  let adm: Person;
  let enrolled: Enrolled;
  const phone = '+447700900222';

  beforeAll(async () => {
    h = await startHarness({ engine });
    adm = await createPerson(h, 'adm', { groups: ['admins'] });
    // The administrator registered an email address and a phone anyway: they must still not count.
    enrolled = await enrolEmailAndTotp(h, adm, { recoveryCodes: true });
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  const challengeCodesSent = async (): Promise<number> =>
    [...(await messagesTo(h, enrolled.altEmail)), ...(await messagesTo(h, phone))].filter((message) => message.purpose === 'challenge_code').length;

  it('FAC-4 offers an administrator no email or SMS method', async () => {
    const { body } = await startFlow(h, 'adm');
    expect(body.flow.methods.map((method) => method.id)).toEqual(['totp', 'recovery_code']);
    expect(body.flow.gatesRequired).toBeGreaterThanOrEqual(2);
  });

  it('FAC-4 refuses email and SMS when forced by name, before and after a strong gate, and sends nothing', async () => {
    const sent = await challengeCodesSent();
    const { token } = await startFlow(h, 'adm');
    for (const method of ['sms_code', 'email_code', 'security_questions']) {
      const forced = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
      expect(forced.statusCode, method).toBe(422);
      expect(json(forced)['code']).toBe('method.not_allowed');
    }
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token });
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[0] }, { token });
    expect(passed.statusCode).toBe(200);
    const next = json<FlowBody>(passed).flowToken as string;
    for (const method of ['sms_code', 'email_code']) {
      const forced = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token: next });
      expect(forced.statusCode, method).toBe(422);
      expect(json(forced)['code']).toBe('method.not_allowed');
    }
    expect(await challengeCodesSent()).toBe(sent);
  });

  it('FAC-4 lets an administrator recover with the authenticator app and a recovery code', async () => {
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'adm');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    const first = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token });
    const next = json<FlowBody>(first).flowToken as string;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: next });
    const granted = await call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[1] }, { token: next });
    expect(json<FlowBody>(granted).flow.step).toBe('awaiting_new_password');
  });

  it('FAC-4 burns an administrator challenge after the stricter privileged cap of wrong answers', async () => {
    const cap = h.latchkey.deps.policy().tiers.privileged.maxAttemptsPerChallenge;
    expect(cap).toBeLessThan(h.latchkey.deps.policy().tiers.standard.maxAttemptsPerChallenge);
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'adm');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    alignToMidStep(h.clock);
    const code = oathtoolCode(enrolled.totpSeed, h.clock);
    for (let i = 0; i < cap; i += 1) expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token })).statusCode).toBe(422);
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).statusCode).toBe(409);
  });

  it('FAC-4 recognises privileged groups however the directory spells them', async () => {
    for (const [name, groups] of [
      ['dnadm', ['CN=Domain Admins,OU=Groups,DC=corp,DC=example']],
      ['caseadm', ['ADMINS']],
      ['mixadm', ['staff', 'Domain Admins']],
    ] as const) {
      await createPerson(h, name, { groups: [...groups] });
      const { body } = await startFlow(h, name);
      expect(body.flow.methods.map((method) => method.id), name).toEqual(['totp', 'recovery_code']);
    }
    const plain = await startFlow(h, (await createPerson(h, 'staffer', { groups: ['staff'] })).username);
    expect(plain.body.flow.methods.map((method) => method.id)).toContain('email_code');
  });
});

describe('FAC-4 the policy schema', () => {
  const edited = (edit: (policy: Policy) => void): ReturnType<typeof parsePolicy> => {
    const policy = parse(DEFAULT_POLICY_TEXT) as Policy;
    edit(policy);
    return parsePolicy(stringify(policy), 'policy.yaml');
  };

  it('FAC-4 refuses a privileged tier that allows email or SMS codes', () => {
    for (const method of ['email_code', 'sms_code'] as const) {
      const result = edited((policy) => void policy.tiers.privileged.allowedMethods.push(method));
      expect(result.ok, method).toBe(false);
      if (!result.ok) expect(result.errors.some((error) => error.path.startsWith('tiers.privileged.allowedMethods') && error.message.includes('FAC-4'))).toBe(true);
    }
  });

  it('FAC-4 refuses a single-gate privileged tier and ships privileged recovery with two strong gates', () => {
    expect(edited((policy) => void (policy.tiers.privileged.gatesRequired = 1)).ok).toBe(false);
    const parsed = parsePolicy(DEFAULT_POLICY_TEXT, 'default.yaml');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.policy.tiers.privileged.allowedMethods).not.toContain('email_code');
    expect(parsed.policy.tiers.privileged.allowedMethods).not.toContain('sms_code');
    expect(parsed.policy.tiers.privileged.gatesRequired).toBeGreaterThanOrEqual(2);
  });
});

