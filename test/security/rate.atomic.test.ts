import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, roomyLimits, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { shippedFailureThrottle, wrongCode } from './support.ts';

/*
 * RATE-4: attempt counters and rate limits hold under concurrency. Bursts are fired with every
 * request in flight at once; no more attempts may be processed than the limit allows, and the
 * right code must never be accepted once the limit has been crossed.
 */

const PROCESSED = ['challenge.failed', 'challenge.exhausted', 'challenge.passed'] as const;

describe.each(ENGINES)('limits under concurrency on %s', (engine) => {
  let roomy: Harness;
  let throttled: Harness;

  beforeAll(async () => {
    [roomy, throttled] = await Promise.all([startHarness({ engine }), startHarness({ engine, policy: [roomyLimits, shippedFailureThrottle] })]);
  });
  afterAll(async () => {
    await Promise.all([roomy.close(), throttled.close()]);
  });

  async function openEmailChallenge(h: Harness, name: string): Promise<{ token: string; code: string; flowId: string; accountId: string }> {
    const person = await createPerson(h, name);
    const enrolled = await enrolEmailAndTotp(h, person);
    const started = await startFlow(h, name);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token });
    return { token: started.token, code: await latestCode(h, enrolled.altEmail), flowId: started.body.flow.flowId, accountId: person.accountId };
  }

  it('RATE-4 processes at most the per-code cap of a burst of 200 wrong codes, and the right code sent afterwards is refused', async () => {
    const cap = roomy.latchkey.deps.policy().tiers.standard.maxAttemptsPerChallenge;
    const { token, code, flowId } = await openEmailChallenge(roomy, 'bo');
    const burst = await Promise.all(Array.from({ length: 200 }, () => call(roomy, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token })));
    expect(burst.filter((response) => response.statusCode === 200)).toEqual([]);
    expect(burst.filter((response) => response.statusCode === 422).length).toBeLessThanOrEqual(cap);
    const processed = await auditEvents(roomy, { flowId, types: [...PROCESSED] });
    expect(processed.length).toBeLessThanOrEqual(cap);
    const challenge = await kyselyOf(roomy.latchkey.store).selectFrom('challenges').select(['attempts', 'max_attempts']).where('flow_id', '=', flowId as never).executeTakeFirstOrThrow();
    expect(challenge.attempts).toBe(challenge.max_attempts);
    const right = await call(roomy, 'POST', '/api/recovery/flow/answer', { code }, { token });
    expect(right.statusCode).toBe(409);
    expect(json<FlowBody>(await call(roomy, 'GET', '/api/recovery/flow', undefined, { token })).flow.gatesPassed).toBe(0);
  });

  it('RATE-4 in a burst of 200 wrong codes plus the right one, the right one counts only if it came within the cap', async () => {
    const cap = roomy.latchkey.deps.policy().tiers.standard.maxAttemptsPerChallenge;
    const { token, code, flowId } = await openEmailChallenge(roomy, 'cy');
    const answers = [...Array.from({ length: 200 }, () => wrongCode(code)), code];
    const burst = await Promise.all(answers.map((answer) => call(roomy, 'POST', '/api/recovery/flow/answer', { code: answer }, { token })));
    const processed = (await auditEvents(roomy, { flowId, types: [...PROCESSED] })).map((event) => event.type);
    expect(processed.length).toBeLessThanOrEqual(cap);
    const passed = processed.filter((type) => type === 'challenge.passed').length;
    expect(passed).toBeLessThanOrEqual(1);
    // The right code's reply is 200 exactly when it was among the first `cap` attempts processed.
    expect((burst[200] as { statusCode: number }).statusCode === 200).toBe(passed === 1);
    expect(burst.filter((response) => response.statusCode === 200)).toHaveLength(passed);
    if (passed === 1) expect(processed.filter((type) => type !== 'challenge.passed').length).toBeLessThan(cap);
  });

  it('RATE-4 spends the per-account failure budget exactly once under a burst across ten flows', async () => {
    const budget = throttled.latchkey.deps.policy().tiers.standard.failureThrottle.points;
    const person = await createPerson(throttled, 'di');
    const enrolled = await enrolEmailAndTotp(throttled, person);
    const flows: { token: string; code: string }[] = [];
    for (let i = 0; i < 10; i += 1) {
      const { token } = await startFlow(throttled, 'di');
      await call(throttled, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
      flows.push({ token, code: await latestCode(throttled, enrolled.altEmail) });
    }
    const burst = await Promise.all(flows.flatMap(({ token, code }) => Array.from({ length: 4 }, () => call(throttled, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token }))));
    expect(burst.filter((response) => response.statusCode === 422)).toHaveLength(budget);
    expect(burst.filter((response) => response.statusCode === 429)).toHaveLength(burst.length - budget);
    const processed = (await auditEvents(throttled, { types: [...PROCESSED] })).filter((event) => event.subject === person.accountId);
    expect(processed).toHaveLength(budget);
    // Every flow's right code is refused now.
    const late = await Promise.all(flows.map(({ token, code }) => call(throttled, 'POST', '/api/recovery/flow/answer', { code }, { token })));
    for (const response of late) expect(response.statusCode).toBe(429);
  });
});
