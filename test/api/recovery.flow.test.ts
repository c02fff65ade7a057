import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENGINES,
  auditEvents,
  call,
  createPerson,
  enrolEmailAndTotp,
  json,
  latestCode,
  messagesTo,
  oathtoolCode,
  passTwoGates,
  startFlow,
  startHarness,
  type FlowBody,
  type Harness,
} from '../support/harness.ts';

const NEW_PASSWORD = 'purple otter juggles seven lanterns';

describe.each(ENGINES)('recovery over the API on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  it('resets a forgotten password with an emailed code and an authenticator code, then signs in with the new one', async () => {
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice);

    const started = await startFlow(h, alice.email);
    expect(started.response.statusCode).toBe(201);
    expect(started.body.flow.step).toBe('awaiting_method_choice');
    expect(started.body.flow.gatesRequired).toBe(2);
    const flowId = started.body.flow.flowId;

    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token });
    expect(chosen.statusCode).toBe(200);
    expect(json<FlowBody>(chosen).flow.step).toBe('awaiting_challenge_answer');
    const code = await latestCode(h, enrolled.altEmail);
    const first = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: started.token });
    expect(first.statusCode).toBe(200);
    const afterFirst = json<FlowBody>(first);
    expect(afterFirst.flow.gatesPassed).toBe(1);
    expect(afterFirst.flow.methods.map((method) => method.id)).not.toContain('email_code');
    expect(afterFirst.flowToken).toBeDefined();
    // SESS-3: the old token stops working once a gate rotates it.
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: started.token })).statusCode).toBe(404);
    const token = afterFirst.flowToken as string;

    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    const second = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token });
    expect(second.statusCode).toBe(200);
    const granted = json<FlowBody>(second);
    expect(granted.flow.step).toBe('awaiting_new_password');
    const grantToken = granted.flowToken as string;

    const reset = await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grantToken });
    expect(reset.statusCode).toBe(200);
    expect(json<FlowBody>(reset).flow.step).toBe('completed');

    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: NEW_PASSWORD });
    expect(signIn.statusCode).toBe(200);
    expect(json(signIn)['status']).toBe('gate_required');
    expect((await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password })).statusCode).toBe(401);

    const types = (await auditEvents(h, { flowId })).map((event) => event.type);
    expect(types).toEqual([
      'recovery.started',
      'recovery.method_chosen',
      'challenge.issued',
      'message.queued',
      'challenge.passed',
      'recovery.method_chosen',
      'challenge.issued',
      'challenge.passed',
      'recovery.gates_satisfied',
      'grant.claimed',
      'password.reset',
      'recovery.completed',
      'session.ended',
      'message.queued',
      'message.queued',
    ]);
    const completed = (await auditEvents(h, { flowId, types: ['password.reset'] }))[0];
    expect(completed).toMatchObject({ subject: alice.accountId, outcome: 'success', ip: '127.0.0.1', department: 'Engineering', tier: 'standard' });
    // The person hears about it on every channel of record, with no secret in the text (SESS-4, PWD-7).
    const notices = [...(await messagesTo(h, alice.email)), ...(await messagesTo(h, enrolled.altEmail))].filter((message) => message.purpose === 'recovery_notice');
    expect(notices).toHaveLength(2);
    for (const notice of notices) expect(notice.text).not.toContain(NEW_PASSWORD);
  });

  it('unlocks a locked account with the same two gates and leaves the password unchanged', async () => {
    const erin = await createPerson(h, 'erin');
    const enrolled = await enrolEmailAndTotp(h, erin);
    for (let attempt = 0; attempt < 5; attempt += 1) await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: 'not erin password at all' });
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(true);
    expect((await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: erin.password })).statusCode).toBe(401);

    const started = await startFlow(h, 'erin', 'unlock');
    const grant = await passTwoGates(h, started.token, enrolled);
    expect(json<FlowBody>(await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).flow.step).toBe('awaiting_unlock_confirmation');
    // An unlock grant cannot set a password (FAC-8).
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant })).statusCode).toBe(409);
    const unlocked = await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant });
    expect(unlocked.statusCode).toBe(200);
    expect(json<FlowBody>(unlocked).flow.step).toBe('completed');
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(false);
    expect(json((await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: erin.password })))['status']).toBe('gate_required');
    const events = await auditEvents(h, { flowId: started.body.flow.flowId, types: ['account.unlocked'] });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: 'success', subject: erin.accountId });
  });

  it('refuses an expired code and offers a new one', async () => {
    const carol = await createPerson(h, 'carol');
    const enrolled = await enrolEmailAndTotp(h, carol);
    const started = await startFlow(h, 'carol');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token });
    const code = await latestCode(h, enrolled.altEmail);
    h.clock.advance(601);
    const late = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: started.token });
    expect(late.statusCode).toBe(422);
    expect(json(late)['code']).toBe('challenge.invalid');
    expect((await auditEvents(h, { flowId: started.body.flow.flowId, types: ['challenge.exhausted'] })).length).toBe(1);
  });

  it('burns a code after five wrong answers, so the right code no longer works (RATE-2)', async () => {
    const dan = await createPerson(h, 'dan');
    const enrolled = await enrolEmailAndTotp(h, dan);
    const started = await startFlow(h, 'dan');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token });
    const code = await latestCode(h, enrolled.altEmail);
    const wrong = code === '00000000' ? '11111111' : '00000000';
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) statuses.push((await call(h, 'POST', '/api/recovery/flow/answer', { code: wrong }, { token: started.token })).statusCode);
    expect(statuses).toEqual([422, 422, 422, 422, 422]);
    const right = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: started.token });
    expect(right.statusCode).toBe(409);
    expect(json(right)['code']).toBe('flow.wrong_state');
    const events = await auditEvents(h, { flowId: started.body.flow.flowId, types: ['challenge.failed', 'challenge.exhausted', 'challenge.passed'] });
    expect(events.map((event) => event.type)).toEqual(['challenge.failed', 'challenge.failed', 'challenge.failed', 'challenge.failed', 'challenge.exhausted']);
  });

  it('lets exactly one of 50 parallel submissions of one code win (TOK-5)', async () => {
    const fay = await createPerson(h, 'fay');
    const enrolled = await enrolEmailAndTotp(h, fay);
    const started = await startFlow(h, 'fay');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token });
    const code = await latestCode(h, enrolled.altEmail);
    const responses = await Promise.all(Array.from({ length: 50 }, () => call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: started.token })));
    const winners = responses.filter((response) => response.statusCode === 200);
    expect(winners).toHaveLength(1);
    expect(json<FlowBody>(winners[0] as never).flow.gatesPassed).toBe(1);
    expect(await auditEvents(h, { flowId: started.body.flow.flowId, types: ['challenge.passed'] })).toHaveLength(1);
  });

  it('refuses a common or breached-looking password with the reason, and keeps the grant for another try', async () => {
    const gus = await createPerson(h, 'gus');
    const enrolled = await enrolEmailAndTotp(h, gus);
    const grant = await passTwoGates(h, (await startFlow(h, 'gus')).token, enrolled);
    for (const weak of ['Password1234567', 'gusgusgusgusgusgus', 'Latchkey2026!!!!!!']) {
      const refused = await call(h, 'POST', '/api/recovery/flow/password', { password: weak, confirmPassword: weak }, { token: grant });
      expect(refused.statusCode).toBe(422);
      const body = json<{ code: string; reasons: string[] }>(refused);
      expect(body.code).toBe('password.policy');
      expect(body.reasons.length).toBeGreaterThan(0);
    }
    const ok = await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant });
    expect(ok.statusCode).toBe(200);
    const rejected = await auditEvents(h, { types: ['password.rejected'] });
    expect(rejected.filter((event) => event.subject === gus.accountId)).toHaveLength(3);
  });

  it('walks an unknown identifier through the same steps as a real one, and never sends anything', async () => {
    const before = (await h.latchkey.store.outbox.list({ limit: 10_000 })).length;
    const ghost = await startFlow(h, 'ghost@corp.test');
    expect(ghost.response.statusCode).toBe(201);
    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: ghost.token });
    expect(chosen.statusCode).toBe(200);
    expect(json<FlowBody>(chosen).flow.step).toBe('awaiting_challenge_answer');
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token: ghost.token });
    expect(answered.statusCode).toBe(422);
    expect((await h.latchkey.store.outbox.list({ limit: 10_000 })).length).toBe(before);
    const started = (await auditEvents(h, { flowId: ghost.body.flow.flowId, types: ['recovery.started'] }))[0];
    expect(started?.data['decoy']).toBe(true);
    expect(started?.subject).toBeNull();
  });
});
