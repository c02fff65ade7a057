import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, roomyLimits, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { accountRow, asAccount, freshGrant, normalisedReply, sleep, wrongCode } from './support.ts';

/*
 * RATE-5: forgot-password activity never locks, disables or changes the account before a valid
 * proof. RATE-6: the recovery throttle is temporary (time-based), enumeration-safe and alerted;
 * once the window passes the owner recovers normally. The throttle window here is 2 seconds of
 * real time (the rate limiter runs on the real clock).
 */

const THROTTLE_WINDOW_SECONDS = 1;

async function failOnce(h: Harness, identifier: string, to: string | null, ip: string): Promise<LightMyRequestResponse> {
  const { token } = await startFlow(h, identifier, 'reset', { ip });
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, ip });
  const code = to ? await latestCode(h, to) : '12345678';
  return call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token, ip });
}

describe.each(ENGINES)('no lockout through recovery on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => {
    await h.close();
  });

  it('RATE-5 100 reset requests and 100 failed code submissions leave the account unlocked, enabled, unchanged and usable', async () => {
    const before = await accountRow(h, alice.accountId);
    const starts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => startFlow(h, i % 3 === 0 ? alice.email : 'alice', i % 2 === 0 ? 'reset' : 'unlock', { ip: '10.66.0.1' })),
    );
    for (const started of starts) expect(started.response.statusCode).toBe(201);
    // 100 wrong answers: four flows at once, a fresh code every four answers (below the per-code cap).
    const statuses = await Promise.all(
      starts.slice(0, 4).map(async ({ token }) => {
        const seen: number[] = [];
        let code = '';
        for (let i = 0; i < 25; i += 1) {
          if (i % 4 === 0) {
            await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, ip: '10.66.0.1' });
            code = await latestCode(h, enrolled.altEmail);
          }
          seen.push((await call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token, ip: '10.66.0.1' })).statusCode);
        }
        return seen;
      }),
    );
    expect(statuses.flat()).toEqual(Array.from({ length: 100 }, () => 422));

    const after = await accountRow(h, alice.accountId);
    expect(after.password_hash).toBe(before.password_hash);
    expect(after.password_changed_at).toEqual(before.password_changed_at);
    expect(after.failed_sign_ins).toBe(0);
    expect(after.locked_at).toBeNull();
    expect(after['enabled']).toBe(before['enabled']);
    expect(await h.latchkey.deps.directory.readLockState(asAccount(alice.accountId))).toEqual({ locked: false });
    expect(await h.latchkey.deps.directory.verifyPassword(asAccount(alice.accountId), alice.password)).toBe('valid');
    expect(json(await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password }))['status']).toBe('gate_required');
    // Her open self-service session and her registered methods are untouched too.
    const methods = await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session });
    expect(methods.statusCode).toBe(200);
    expect(json<{ methods: { status: string }[] }>(methods).methods.every((method) => method.status === 'active')).toBe(true);
    expect((await auditEvents(h, { types: ['account.locked', 'password.reset'] })).filter((event) => event.subject === alice.accountId)).toEqual([]);
  });
});

describe.each(ENGINES)('temporary throttle on %s', (engine) => {
  let h: Harness;
  let bea: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [
        roomyLimits,
        (policy) => {
          policy.tiers.standard.failureThrottle = { points: 3, windowSeconds: THROTTLE_WINDOW_SECONDS };
        },
      ],
    });
    bea = await createPerson(h, 'bea');
    enrolled = await enrolEmailAndTotp(h, bea);
  });
  afterAll(async () => {
    await h.close();
  });

  it('RATE-6 throttles for a while only: the same reply for a real and an unknown account, an alert, and recovery works once the window passes', async () => {
    const points = h.latchkey.deps.policy().tiers.standard.failureThrottle.points;
    const real: LightMyRequestResponse[] = [];
    const ghost: LightMyRequestResponse[] = [];
    let windowOpenedBy = 0;
    for (let i = 0; i <= points; i += 1) {
      real.push(await failOnce(h, 'bea', enrolled.altEmail, '10.66.0.2'));
      // The window opened at the first counted answer, which happened before this moment.
      if (i === 0) windowOpenedBy = Date.now();
      ghost.push(await failOnce(h, 'ghost', null, '10.66.0.2'));
    }
    expect(real.map((response) => response.statusCode)).toEqual([...Array.from({ length: points }, () => 422), 429]);
    expect(ghost.map((response) => response.statusCode)).toEqual(real.map((response) => response.statusCode));
    const realThrottled = real[points] as LightMyRequestResponse;
    const ghostThrottled = ghost[points] as LightMyRequestResponse;
    expect(normalisedReply(ghostThrottled)).toEqual(normalisedReply(realThrottled));
    expect(json(realThrottled)['code']).toBe('rate.limited');
    expect(Number(realThrottled.headers['retry-after'])).toBeLessThanOrEqual(THROTTLE_WINDOW_SECONDS);

    // It is per account, not per address: the owner on a clean address is throttled as well, for now.
    expect((await failOnce(h, 'bea', enrolled.altEmail, '10.77.0.1')).statusCode).toBe(429);
    const alerts = (await auditEvents(h, { types: ['recovery.rate_limited'] })).filter((event) => event.subject === bea.accountId && event.data['bucket'] === 'account');
    expect(alerts.length).toBeGreaterThanOrEqual(1);
    expect(await h.latchkey.deps.directory.readLockState(asAccount(bea.accountId))).toEqual({ locked: false });

    // After the window the owner recovers with both gates from a clean address.
    await sleep(Math.max(0, windowOpenedBy + THROTTLE_WINDOW_SECONDS * 1000 + 300 - Date.now()));
    const { grant } = await freshGrant(h, bea, enrolled);
    const password = 'tangerine gulls over the quay';
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant, ip: '10.77.0.1' })).statusCode).toBe(200);
    expect(await h.latchkey.deps.directory.verifyPassword(asAccount(bea.accountId), password)).toBe('valid');
  });
});
