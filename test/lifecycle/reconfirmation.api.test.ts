import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, latestCode, messagesTo, oathtoolCode, roomyLimits, startFlow, startHarness, type FlowBody, type Harness } from '../support/harness.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { DAY_SECONDS } from './support.ts';

/*
 * Re-confirmation through the HTTP API: a method neither verified nor used within the policy's
 * interval (180 days) is listed as due at the next sign-in, and after the grace (30 days) it no
 * longer counts as a recovery gate until the person confirms it with a fresh code.
 */

interface Due {
  readonly id: string;
  readonly method: string;
  readonly status: 'due' | 'lapsed';
}

describe.each(ENGINES)('re-confirmation (%s)', (engine) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ engine });
  });

  afterAll(async () => {
    await h.close();
  });

  /** Signs in with the password and the authenticator app; returns the answer's body (session and prompt). */
  async function signInWithTotp(username: string, password: string, seed: string): Promise<{ sessionToken: string; reconfirmation: { due: Due[] } }> {
    h.clock.advance(30);
    const started = json<{ flowToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username, password }));
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: started.flowToken });
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(seed, h.clock) }, { token: started.flowToken });
    expect(answered.statusCode).toBe(200);
    return json(answered);
  }

  it('asks at sign-in to confirm a stale method, drops it as a gate after the grace, and takes it back once confirmed', async () => {
    const hana = await createPerson(h, 'hana');
    const methods = await enrolEmailAndTotp(h, hana);
    const emailId = (await h.latchkey.store.enrollments.listForAccount(asAccountId(hana.accountId))).find((record) => record.methodId === 'email_code')?.id ?? '';

    // Nothing is due at first.
    expect((await signInWithTotp(hana.username, hana.password, methods.totpSeed)).reconfirmation.due).toEqual([]);

    h.clock.advance(181 * DAY_SECONDS);
    const signedIn = await signInWithTotp(hana.username, hana.password, methods.totpSeed);
    // The app just proved itself at sign-in; the alternate email, unused for 181 days, is due.
    expect(signedIn.reconfirmation.due).toMatchObject([{ id: emailId, method: 'email_code', status: 'due' }]);
    const listed = json<{ methods: { id: string; reconfirmation: { status: string } | null }[]; reconfirmation: { due: Due[] } }>(
      await call(h, 'GET', '/api/me/methods', undefined, { token: signedIn.sessionToken }),
    );
    expect(listed.methods.find((method) => method.id === emailId)?.reconfirmation?.status).toBe('due');
    expect(listed.reconfirmation.due.map((item) => item.id)).toEqual([emailId]);

    // While due it still counts as a gate.
    const dueFlow = await startFlow(h, hana.username);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: dueFlow.token });
    expect(json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, methods.altEmail) }, { token: dueFlow.token })).flow.gatesPassed).toBe(1);

    // A gate use confirms it, so let the grace run out from there.
    h.clock.advance(211 * DAY_SECONDS);
    const sentBefore = (await messagesTo(h, methods.altEmail)).length;
    const lapsedFlow = await startFlow(h, hana.username);
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: lapsedFlow.token })).statusCode).toBe(200);
    expect((await messagesTo(h, methods.altEmail)).length).toBe(sentBefore);
    expect(await auditEvents(h, { types: ['recovery.enrollment_skipped'], flowId: lapsedFlow.body.flow.flowId })).toMatchObject([{ reason: 'enrollment.reconfirmation_lapsed', data: { enrollment_id: emailId } }]);

    const again = await signInWithTotp(hana.username, hana.password, methods.totpSeed);
    expect(again.reconfirmation.due).toMatchObject([{ id: emailId, status: 'lapsed' }]);
    const session = again.sessionToken;
    const begun = await call(h, 'POST', `/api/me/methods/${emailId}/reconfirm`, {}, { token: session });
    expect(begun.statusCode).toBe(201);
    const { reconfirmationId } = json<{ reconfirmationId: string }>(begun);
    const code = await latestCode(h, methods.altEmail);
    const wrong = await call(h, 'POST', `/api/me/methods/${emailId}/reconfirm/verify`, { reconfirmationId, code: code === '00000000' ? '11111111' : '00000000' }, { token: session });
    expect(wrong.statusCode).toBe(422);
    const confirmed = await call(h, 'POST', `/api/me/methods/${emailId}/reconfirm/verify`, { reconfirmationId, code }, { token: session });
    expect(confirmed.statusCode).toBe(200);
    expect(json<{ enrollment: { reconfirmation: { status: string } } }>(confirmed).enrollment.reconfirmation.status).toBe('current');
    // The code was single-use.
    expect((await call(h, 'POST', `/api/me/methods/${emailId}/reconfirm/verify`, { reconfirmationId, code }, { token: session })).statusCode).toBe(422);
    const audited = (await auditEvents(h, { types: ['enrollment.reconfirmed'] })).filter((event) => event.subject === hana.accountId);
    expect(audited.map((event) => event.outcome)).toEqual(['failure', 'success', 'failure']);

    const back = await startFlow(h, hana.username);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: back.token });
    expect(json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, methods.altEmail) }, { token: back.token })).flow.gatesPassed).toBe(1);
  });

  it('re-confirms only the signed-in person’s own active methods', async () => {
    const ivo = await createPerson(h, 'ivo');
    const ivoMethods = await enrolEmailAndTotp(h, ivo);
    const jan = await createPerson(h, 'jan');
    await enrolEmailAndTotp(h, jan);
    const jansEmail = (await h.latchkey.store.enrollments.listForAccount(asAccountId(jan.accountId))).find((record) => record.methodId === 'email_code')?.id ?? '';
    const { sessionToken } = await signInWithTotp(ivo.username, ivo.password, ivoMethods.totpSeed);
    const foreign = await call(h, 'POST', `/api/me/methods/${jansEmail}/reconfirm`, {}, { token: sessionToken });
    expect(foreign.statusCode).toBe(404);
    expect(json(foreign)).toMatchObject({ code: 'enrollment.not_found' });
    expect((await call(h, 'POST', `/api/me/methods/${jansEmail}/reconfirm`, { extra: true }, { token: sessionToken })).statusCode).toBe(400);
  });
});

describe('re-confirmation budget', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      engine: 'sqlite',
      policy: [
        roomyLimits,
        (policy) => {
          policy.rateLimits.messagesPerRecipient = { points: 2, windowSeconds: 3600 };
        },
      ],
    });
  });

  afterAll(async () => {
    await h.close();
  });

  it('limits re-confirmation starts per method like sent codes, an authenticator app included', async () => {
    const lia = await createPerson(h, 'lia');
    const methods = await enrolEmailAndTotp(h, lia);
    const totpId = (await h.latchkey.store.enrollments.listForAccount(asAccountId(lia.accountId))).find((record) => record.methodId === 'totp')?.id ?? '';
    const started = json<{ flowToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: lia.username, password: lia.password }));
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: started.flowToken });
    const session = json<{ sessionToken: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(methods.totpSeed, h.clock) }, { token: started.flowToken })).sessionToken;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) statuses.push((await call(h, 'POST', `/api/me/methods/${totpId}/reconfirm`, {}, { token: session })).statusCode);
    expect(statuses).toEqual([201, 201, 429]);
  });
});
