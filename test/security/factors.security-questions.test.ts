import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, roomyLimits, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { DEFAULT_POLICY_TEXT, passEmailGate } from './support.ts';

/*
 * FAC-6: security questions are off by default (registering them is refused), and when an operator
 * enables them they are never offered as a recovery gate, never accepted when asked for by name,
 * and never count toward the required gates. The shipped policy says that enabling them breaks
 * ASVS 6.4.2 conformance.
 */

describe('FAC-6 the shipped default', () => {
  it('FAC-6 ships with security questions disabled and documents the ASVS 6.4.2 conflict', () => {
    const parsed = parsePolicy(DEFAULT_POLICY_TEXT, 'default.yaml');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.policy.methods.security_questions.enabled).toBe(false);
    for (const tier of [parsed.policy.tiers.standard, parsed.policy.tiers.privileged]) expect(tier.allowedMethods).not.toContain('security_questions');
    expect(DEFAULT_POLICY_TEXT).toContain('ASVS 6.4.2');
  });
});

describe.each(ENGINES)('security questions on %s', (engine) => {
  let off: Harness;
  let on: Harness;
  let kim: Person;
  let enrolled: Enrolled;
  let questions: string[];

  beforeAll(async () => {
    [off, on] = await Promise.all([
      startHarness({ engine }),
      startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.methods.security_questions.enabled = true)] }),
    ]);
    kim = await createPerson(on, 'kim');
    enrolled = await enrolEmailAndTotp(on, kim);
    const settings = on.latchkey.deps.policy().methods.security_questions;
    questions = settings.questions.slice(0, settings.answersRequired);
  });
  afterAll(async () => {
    await Promise.all([off.close(), on.close()]);
  });

  const answers = (): { question: string; answer: string }[] => questions.map((question, i) => ({ question, answer: `answer number ${i}` }));

  it('FAC-6 refuses to register security questions while they are disabled', async () => {
    const lee = await createPerson(off, 'lee');
    const leeMethods = await enrolEmailAndTotp(off, lee);
    const refused = await call(off, 'POST', '/api/me/methods', { method: 'security_questions', answers: answers() }, { token: leeMethods.session });
    expect(refused.statusCode).toBe(422);
    expect(json(refused)['code']).toBe('method.not_allowed');
    const listed = json<{ methods: { method: string }[] }>(await call(off, 'GET', '/api/me/methods', undefined, { token: leeMethods.session }));
    expect(listed.methods.map((method) => method.method)).not.toContain('security_questions');
  });

  it('FAC-6 when enabled, they can be registered but are never offered or accepted as a recovery gate', async () => {
    const registered = await call(on, 'POST', '/api/me/methods', { method: 'security_questions', answers: answers() }, { token: enrolled.session });
    expect(registered.statusCode).toBe(201);

    const { token, body } = await startFlow(on, 'kim');
    expect(body.flow.methods.map((method) => method.id)).not.toContain('security_questions');
    const alone = await call(on, 'POST', '/api/recovery/flow/method', { method: 'security_questions' }, { token });
    expect(alone.statusCode).toBe(422);
    expect(json(alone)['code']).toBe('method.not_allowed');

    // Not as the second gate either: after the email gate they are still refused, so email + answers never completes.
    const next = await passEmailGate(on, token, enrolled);
    const second = await call(on, 'POST', '/api/recovery/flow/method', { method: 'security_questions' }, { token: next });
    expect(second.statusCode).toBe(422);
    expect((await call(on, 'POST', '/api/recovery/flow/answer', { answers: answers().map((item) => item.answer) }, { token: next })).statusCode).toBe(409);
    const view = json<FlowBody>(await call(on, 'GET', '/api/recovery/flow', undefined, { token: next })).flow;
    expect(view).toMatchObject({ gatesPassed: 1, step: 'awaiting_method_choice' });
    const password = 'questions never open the door';
    expect((await call(on, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: next })).statusCode).toBe(409);
  });
});
