import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, roomyLimits, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { alignToMidStep, enrolPhone, nextTotpStep, shippedFailureThrottle, wrongCode } from './support.ts';

/*
 * RATE-8: every method (email code, SMS code, authenticator code, recovery code) draws on one
 * per-account failure budget; switching methods or flows does not reset it. The shipped budget
 * (10 failures per 15 minutes) is in force.
 */

describe.each(ENGINES)('one failure budget for all methods on %s', (engine) => {
  let h: Harness;
  let mo: Person;
  let enrolled: Enrolled;
  const phone = '+447700900654';

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, shippedFailureThrottle] });
    mo = await createPerson(h, 'mo');
    enrolled = await enrolEmailAndTotp(h, mo, { recoveryCodes: true });
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  async function fail(method: 'email_code' | 'sms_code' | 'totp' | 'recovery_code'): Promise<number> {
    const { token } = await startFlow(h, 'mo');
    await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
    const code =
      method === 'email_code'
        ? wrongCode(await latestCode(h, enrolled.altEmail))
        : method === 'sms_code'
          ? wrongCode(await latestCode(h, phone))
          : method === 'totp'
            ? wrongCode(oathtoolCode(enrolled.totpSeed, h.clock))
            : '0000-0000-00000';
    return (await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token })).statusCode;
  }

  it('RATE-8 counts failures of every method against one budget, and switching method does not reset it', async () => {
    const budget = h.latchkey.deps.policy().tiers.standard.failureThrottle.points;
    nextTotpStep(h.clock);
    const order = ['email_code', 'totp', 'recovery_code', 'sms_code'] as const;
    const statuses: number[] = [];
    for (let i = 0; i < budget; i += 1) statuses.push(await fail(order[i % order.length] ?? 'email_code'));
    expect(statuses).toEqual(Array.from({ length: budget }, () => 422));
    // Now every method is throttled, even with a correct answer.
    for (const method of order) expect(await fail(method)).toBe(429);
    alignToMidStep(h.clock);
    const attempts: [string, string][] = [
      ['totp', oathtoolCode(enrolled.totpSeed, h.clock)],
      ['recovery_code', enrolled.recoveryCodes[0] as string],
    ];
    for (const [method, code] of attempts) {
      const { token } = await startFlow(h, 'mo');
      await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
      const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token });
      expect(answered.statusCode, method).toBe(429);
      expect(json(answered)['code']).toBe('rate.limited');
    }
    const failedByMethod = new Set((await auditEvents(h, { types: ['challenge.failed'] })).filter((event) => event.subject === mo.accountId).map((event) => event.data['method']));
    expect(failedByMethod).toEqual(new Set(order));
  });
});
