import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, passTwoGates, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { normalise, type Normalised } from './checks.support.ts';

/*
 * ENUM-6: a bad flow token gets one reply whatever made it bad, and a bad code gets
 * `challenge.invalid` whatever made it bad; neither says whose flow it was or echoes account data.
 */

const NEW_PASSWORD = 'copper kettles hum under the bridge';
const wrongCode = (code: string): string => [...code].map((digit) => String((Number(digit) + 1) % 10)).join('');

describe.each(ENGINES)('flow tokens and codes on %s', (engine) => {
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

  /** The replies of every flow endpoint to one token. */
  async function repliesTo(token: string): Promise<Normalised[]> {
    const requests: (() => Promise<LightMyRequestResponse>)[] = [
      () => call(h, 'GET', '/api/recovery/flow', undefined, { token }),
      () => call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token }),
      () => call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token }),
      () => call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token }),
      () => call(h, 'POST', '/api/recovery/flow/unlock', {}, { token }),
    ];
    const out: Normalised[] = [];
    for (const request of requests) out.push(normalise(await request()));
    return out;
  }

  it('ENUM-6 answers a random, a malformed, a rotated, a completed, a superseded and a spliced token with one identical 404', async () => {
    const random = `${randomUUID()}.${randomBytes(32).toString('base64url')}`;
    const reference = await repliesTo(random);
    expect(reference.map((reply) => reply.status)).toEqual([404, 404, 404, 404, 404]);
    expect(reference.every((reply) => (reply.body as { code: string }).code === 'flow.not_found')).toBe(true);

    const ghost = await startFlow(h, 'ghost');
    const aliceOpen = await startFlow(h, 'alice');
    // A rotated token: the one in use before alice passed her first gate.
    const rotating = await startFlow(h, 'alice');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: rotating.token });
    const passed = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token: rotating.token }));
    expect(passed.flowToken).toBeDefined();
    // A completed flow (its last token) and, through it, alice's other open flow superseded.
    h.clock.advance(30);
    const completing = await startFlow(h, 'alice');
    const grant = await passTwoGates(h, completing.token, enrolled);
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant })).statusCode).toBe(200);

    const cases: Record<string, string> = {
      'malformed token': 'not-a-flow-token',
      'empty secret': `${aliceOpen.body.flow.flowId}.`,
      "alice's flow id with a random secret": `${aliceOpen.body.flow.flowId}.${randomBytes(32).toString('base64url')}`,
      "alice's flow id with ghost's secret": `${aliceOpen.body.flow.flowId}.${ghost.token.split('.')[1] ?? ''}`,
      "ghost's flow id with alice's secret": `${ghost.body.flow.flowId}.${aliceOpen.token.split('.')[1] ?? ''}`,
      'rotated (pre-gate) token': rotating.token,
      'completed flow token': grant,
      'superseded flow token': aliceOpen.token,
    };
    for (const [label, token] of Object.entries(cases)) expect(await repliesTo(token), label).toEqual(reference);
  });

  it('ENUM-6 expires alice’s flow and ghost’s flow with the same reply, after which both tokens answer like random ones', async () => {
    const random = await repliesTo(`${randomUUID()}.${randomBytes(32).toString('base64url')}`);
    const ghost = await startFlow(h, 'ghost');
    const real = await startFlow(h, 'alice');
    h.clock.advance(h.latchkey.deps.policy().tiers.standard.flowTtlSeconds + 1);
    const ghostExpired = normalise(await call(h, 'GET', '/api/recovery/flow', undefined, { token: ghost.token }));
    const aliceExpired = normalise(await call(h, 'GET', '/api/recovery/flow', undefined, { token: real.token }));
    expect(aliceExpired).toEqual(ghostExpired);
    // 410 says only "this token's flow ran out": reachable with a token the caller was given, for
    // a ghost exactly as for alice, so it carries no account signal.
    expect(ghostExpired.status).toBe(410);
    expect((ghostExpired.body as { code: string }).code).toBe('flow.expired');
    expect(JSON.stringify(ghostExpired.body)).not.toMatch(/alice|ghost|corp\.test|example\.org/);
    expect(await repliesTo(ghost.token)).toEqual(random);
    expect(await repliesTo(real.token)).toEqual(random);
  });

  it('ENUM-6 refuses a wrong, an expired, a superseded and an already used code with challenge.invalid, exactly as for ghost', async () => {
    h.clock.advance(30);
    const answerIn = async (identifier: string, pick: (token: string) => Promise<string>, before?: () => void): Promise<Normalised> => {
      const { token } = await startFlow(h, identifier);
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(200);
      const code = await pick(token);
      before?.();
      return normalise(await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }));
    };
    const newest = (): Promise<string> => latestCode(h, enrolled.altEmail);

    // An already used code: the one that passed alice's gate in another flow.
    const used = await startFlow(h, 'alice');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: used.token });
    const usedCode = await newest();
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: usedCode }, { token: used.token })).statusCode).toBe(200);

    const ghostWrong = await answerIn('ghost', async () => '31415926');
    const cases: Record<string, Normalised> = {
      wrong: await answerIn('alice', async () => wrongCode(await newest())),
      'already used': await answerIn('alice', async () => usedCode),
      superseded: await answerIn('alice', async (token) => {
        const first = await newest();
        await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
        expect(await newest()).not.toBe(first);
        return first;
      }),
    };
    expect(ghostWrong.status).toBe(422);
    expect((ghostWrong.body as { code: string }).code).toBe('challenge.invalid');
    for (const [label, reply] of Object.entries(cases)) expect(reply, label).toEqual(ghostWrong);

    // An expired code gets challenge.invalid too; alice's expired code and ghost's expired decoy
    // challenge are answered identically (the reply asks for a new code in both).
    const ttl = h.latchkey.deps.policy().methods.email_code.codeTtlSeconds + 1;
    const aliceExpired = await answerIn('alice', newest, () => h.clock.advance(ttl));
    const ghostExpired = await answerIn('ghost', async () => '31415926', () => h.clock.advance(ttl));
    expect(aliceExpired).toEqual(ghostExpired);
    expect(aliceExpired.status).toBe(422);
    expect((aliceExpired.body as { code: string }).code).toBe('challenge.invalid');
    for (const reply of [ghostWrong, aliceExpired]) expect(JSON.stringify(reply.body)).not.toMatch(/alice|corp\.test|example\.org|•/);
  });
});
