import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, messagesTo, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { DEFAULT_POLICY_TEXT, enrolEmail, passEmailGate } from './support.ts';

/*
 * FAC-3: gates counted toward the required number are independent: two codes over one channel
 * (the same address twice, or two alternate addresses) are one proof, and the policy cannot be
 * configured to need more gates than it has independent channels.
 */

describe.each(ENGINES)('independent gates on %s', (engine) => {
  let h: Harness;
  let ida: Person;
  let enrolled: Enrolled;
  const secondAddress = 'ida.other@example.net';

  beforeAll(async () => {
    h = await startHarness({ engine });
    ida = await createPerson(h, 'ida');
    enrolled = await enrolEmailAndTotp(h, ida);
    await enrolEmail(h, enrolled.session, secondAddress);
  });
  afterAll(async () => {
    await h.close();
  });

  it('FAC-3 does not count an emailed code twice, even with a second registered address', async () => {
    const { token } = await startFlow(h, 'ida');
    const next = await passEmailGate(h, token, enrolled);
    const sentBefore = (await messagesTo(h, secondAddress)).filter((message) => message.purpose === 'challenge_code').length;
    const again = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: next });
    expect(again.statusCode).toBe(422);
    expect(json(again)['code']).toBe('method.already_used');
    expect((await messagesTo(h, secondAddress)).filter((message) => message.purpose === 'challenge_code').length).toBe(sentBefore);
    const view = json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: next })).flow;
    expect(view).toMatchObject({ gatesPassed: 1, step: 'awaiting_method_choice' });
    // The email channel is no longer offered in this flow.
    expect(view.methods.map((method) => method.id)).not.toContain('email_code');
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: 'two mailboxes are still one proof', confirmPassword: 'two mailboxes are still one proof' }, { token: next })).statusCode).toBe(409);
  });

  it('FAC-3 keeps refusing a second email gate however often it is asked for', async () => {
    // Whichever address the first email gate used, the other address is the same channel.
    const { token } = await startFlow(h, 'ida');
    const next = await passEmailGate(h, token, enrolled);
    for (let i = 0; i < 3; i += 1) expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: next })).statusCode).toBe(422);
  });
});

describe('FAC-3 the policy schema counts independent channels', () => {
  const edited = (edit: (policy: Policy) => void): ReturnType<typeof parsePolicy> => {
    const policy = parse(DEFAULT_POLICY_TEXT) as Policy;
    edit(policy);
    return parsePolicy(stringify(policy), 'policy.yaml');
  };

  it('FAC-3 refuses two gates when the allowed methods share one channel', () => {
    const result = edited((policy) => {
      policy.tiers.standard.allowedMethods = ['email_code'];
      policy.tiers.standard.requireOneOf = [];
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((error) => error.path)).toContain('tiers.standard.gatesRequired');
  });

  it('FAC-3 refuses more gates than independent channels', () => {
    const result = edited((policy) => {
      policy.tiers.standard.gatesRequired = 4;
      policy.tiers.standard.minEnrolledMethods = 4;
      policy.tiers.standard.allowedMethods = ['totp', 'email_code', 'sms_code'];
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.map((error) => error.path)).toContain('tiers.standard.gatesRequired');
  });

  it('FAC-3 refuses security questions as a gate and a single-gate policy', () => {
    const questions = edited((policy) => {
      policy.methods.security_questions.enabled = true;
      policy.tiers.standard.allowedMethods = [...policy.tiers.standard.allowedMethods, 'security_questions'];
    });
    expect(questions.ok).toBe(false);
    if (!questions.ok) expect(questions.errors.some((error) => error.path.startsWith('tiers.standard.allowedMethods'))).toBe(true);
    expect(edited((policy) => void (policy.tiers.standard.gatesRequired = 1)).ok).toBe(false);
  });
});
