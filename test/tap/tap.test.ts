import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, latestCode, messagesTo, startFlow, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { helpdeskToken, issuePass, signInWithPass, startHelpdeskHarness, verifyOutOfBand, type Operator } from '../helpdesk/support.ts';

const MANAGER = 'dan.manager@corp.test';

describe.each(ENGINES)('Temporary Access Passes (%s)', (engine) => {
  let h: Harness;
  let agent: Pick<Operator, 'token'>;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine, {
      // The pass may serve as a gate for standard accounts (the shipped policy only lets it open the portal).
      policy: [
        (policy) => {
          policy.tiers.standard.allowedMethods.push('temporary_access_pass');
          policy.temporaryAccessPass.maxUses = 3;
        },
      ],
      env: { LATCHKEY_HELPDESK__MANAGER_EMAILS__DAN: MANAGER, LATCHKEY_HELPDESK__APPROVAL_BASE_URL: 'https://sspr.corp.test' },
    });
    agent = await helpdeskToken(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('works once under concurrency: of 10 simultaneous sign-ins with one pass exactly one succeeds', async () => {
    const erin = await createPerson(h, 'erin');
    const { pass } = await issuePass(h, agent, erin.accountId);
    const responses = await Promise.all(Array.from({ length: 10 }, (_, index) => signInWithPass(h, erin.username, pass, `10.0.0.${index + 1}`)));
    expect(responses.map((response) => response.statusCode).sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401, 401, 401]);
    const used = (await auditEvents(h, { types: ['tap.used'] })).filter((event) => event.subject === erin.accountId);
    expect(used).toHaveLength(1);
  });

  it('allows limited use up to the policy maximum, and refuses lifetimes outside 10 minutes to 8 hours', async () => {
    const fay = await createPerson(h, 'fay');
    for (const [field, value] of [['lifetimeSeconds', 599], ['lifetimeSeconds', 28_801], ['uses', 4]] as const) {
      const verificationId = await verifyOutOfBand(h, agent, fay.accountId);
      const response = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: fay.accountId, verificationId, [field]: value }, { token: agent.token });
      expect(response.statusCode, `${field}=${value}`).toBe(400);
      expect(json<{ detail: string }>(response).detail).toContain(field);
    }
    const { pass } = await issuePass(h, agent, fay.accountId, { lifetimeSeconds: 28_800, uses: 2 });
    expect((await signInWithPass(h, fay.username, pass)).statusCode).toBe(200);
    expect((await signInWithPass(h, fay.username, pass)).statusCode).toBe(200);
    expect((await signInWithPass(h, fay.username, pass)).statusCode).toBe(401);
    const used = (await auditEvents(h, { types: ['tap.used'] })).filter((event) => event.subject === fay.accountId);
    expect(used.map((event) => [event.data['uses'], event.data['max_uses']])).toEqual([[1, 2], [2, 2]]);
  });

  it('expires at the end of its lifetime (injected clock) and records tap.expired', async () => {
    const gus = await createPerson(h, 'gus');
    const { pass, id } = await issuePass(h, agent, gus.accountId, { lifetimeSeconds: 600 });
    h.clock.advance(601);
    expect((await signInWithPass(h, gus.username, pass)).statusCode).toBe(401);
    const expired = await auditEvents(h, { types: ['tap.expired'] });
    expect(expired.filter((event) => event.data['pass_id'] === id)).toHaveLength(1);
    const failed = (await auditEvents(h, { types: ['sign_in.failed'] })).filter((event) => event.subject === gus.accountId);
    expect(failed.at(-1)?.data).toMatchObject({ credential: 'temporary_access_pass', pass: 'expired' });
  });

  it('respects a valid-from time: nothing before it, sign-in after it', async () => {
    const hal = await createPerson(h, 'hal');
    const validFrom = new Date(h.clock.now().getTime() + 2 * 3_600_000).toISOString();
    const { pass } = await issuePass(h, agent, hal.accountId, { validFrom });
    expect((await signInWithPass(h, hal.username, pass)).statusCode).toBe(401);
    h.clock.advance(2 * 3_600 + 1);
    expect((await signInWithPass(h, hal.username, pass)).statusCode).toBe(200);
  });

  it('keeps at most one live pass per account: a new one revokes the old, audited', async () => {
    const ida = await createPerson(h, 'ida');
    const first = await issuePass(h, agent, ida.accountId);
    const second = await issuePass(h, agent, ida.accountId);
    const revoked = (await auditEvents(h, { types: ['tap.revoked'] })).filter((event) => event.subject === ida.accountId);
    expect(revoked.map((event) => event.data['pass_id'])).toEqual([first.id]);
    expect(revoked[0]?.reason).toBe('replaced');
    expect((await signInWithPass(h, ida.username, first.pass)).statusCode).toBe(401);
    // An operator revokes the live one; then it does not work either.
    const revoke = await call(h, 'POST', '/api/admin/helpdesk/passes/revoke', { accountId: ida.accountId, reason: 'found her phone' }, { token: agent.token });
    expect(json(revoke)).toEqual({ revoked: true });
    expect((await signInWithPass(h, ida.username, second.pass)).statusCode).toBe(401);
  });

  it('counts as one gate of a reset, combined with another channel, and only once', async () => {
    const jo: Person = await createPerson(h, 'jo');
    const enrolled = await enrolEmailAndTotp(h, jo);
    const { pass } = await issuePass(h, agent, jo.accountId);
    const flow = await startFlow(h, jo.username);
    expect(flow.body.flow.methods.map((method) => method.id)).toContain('temporary_access_pass');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'temporary_access_pass' }, { token: flow.token });
    const wrong = await call(h, 'POST', '/api/recovery/flow/answer', { code: 'AAAA-AAAA-AAAA-AAAA' }, { token: flow.token });
    expect(wrong.statusCode).toBe(422);
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code: pass }, { token: flow.token });
    expect(passed.statusCode, passed.body).toBe(200);
    const afterPass = json<FlowBody & { flowToken: string }>(passed);
    expect(afterPass.flow.gatesPassed).toBe(1);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: afterPass.flowToken });
    const second = json<FlowBody & { flowToken: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token: afterPass.flowToken }));
    expect(second.flow.step).toBe('awaiting_new_password');
    const used = (await auditEvents(h, { types: ['tap.used'] })).filter((event) => event.subject === jo.accountId);
    expect(used.map((event) => event.data['purpose'])).toEqual(['recovery_gate']);
    // Used up: a new flow cannot take it again.
    const again = await startFlow(h, jo.username);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'temporary_access_pass' }, { token: again.token });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: pass }, { token: again.token })).statusCode).toBe(422);
  });

  it('verifies by the manager’s approval link: GET only shows it, POST approves once', async () => {
    const dan = await createPerson(h, 'dan');
    const started = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: dan.accountId, method: 'manager_approval' }, { token: agent.token });
    expect(started.statusCode, started.body).toBe(200);
    const verification = json<{ verification: { id: string; approver: string } }>(started).verification;
    expect(verification.approver).not.toContain('dan.manager');
    const mail = (await messagesTo(h, MANAGER)).at(-1);
    const link = /https:\/\/sspr\.corp\.test(\/api\/helpdesk\/approvals\/[A-Za-z0-9_-]{43})/.exec(mail?.text ?? '')?.[1];
    expect(link).toBeDefined();

    // A mail scanner's prefetch changes nothing.
    const shown = await call(h, 'GET', link ?? '');
    expect(json<{ approval: { username: string; status: string } }>(shown).approval).toMatchObject({ username: 'dan', status: 'pending' });
    const stillPending = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: dan.accountId, verificationId: verification.id }, { token: agent.token });
    expect(stillPending.statusCode).toBe(409);

    expect((await call(h, 'POST', link ?? '', {})).statusCode).toBe(200);
    const reused = await call(h, 'POST', link ?? '', {});
    expect(reused.statusCode).toBe(410);
    expect(json(reused)['code']).toBe('helpdesk.approval_invalid');
    const polled = json<{ verification: { status: string } }>(await call(h, 'GET', `/api/admin/helpdesk/verifications/${verification.id}`, undefined, { token: agent.token }));
    expect(polled.verification.status).toBe('verified');
    const issued = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: dan.accountId, verificationId: verification.id }, { token: agent.token });
    expect(issued.statusCode, issued.body).toBe(200);
    const verified = (await auditEvents(h, { types: ['helpdesk.verified'] })).filter((event) => event.subject === dan.accountId);
    expect(verified.map((event) => event.data['method'])).toEqual(['manager_approval']);
  });

  it('expires an approval link after its lifetime', async () => {
    const dan = json<{ account: { id: string } }>(await call(h, 'GET', '/api/admin/helpdesk/accounts/dan', undefined, { token: agent.token }));
    const started = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: dan.account.id, method: 'manager_approval' }, { token: agent.token });
    expect(started.statusCode).toBe(200);
    const link = /(\/api\/helpdesk\/approvals\/[A-Za-z0-9_-]{43})/.exec((await messagesTo(h, MANAGER)).at(-1)?.text ?? '')?.[1] ?? '';
    h.clock.advance(3_601);
    expect((await call(h, 'POST', link, {})).statusCode).toBe(410);
  });
});

describe.each(ENGINES)('pass housekeeping and operator limits (%s)', (engine) => {
  let h: Harness;
  let agent: Pick<Operator, 'token'>;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine, { policy: [(policy) => void (policy.temporaryAccessPass.helpdesk.passesPerOperator = { points: 2, windowSeconds: 3_600 })] });
    agent = await helpdeskToken(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('retires a pass that ran out unused on the sweeper’s tick, once, and removes its enrollment', async () => {
    const kim = await createPerson(h, 'kim');
    const { id } = await issuePass(h, agent, kim.accountId, { lifetimeSeconds: 600 });
    expect(await h.latchkey.accessPasses.sweepExpired()).toBe(0);
    h.clock.advance(601);
    expect(await h.latchkey.accessPasses.sweepExpired()).toBe(1);
    expect(await h.latchkey.accessPasses.sweepExpired()).toBe(0);
    const expired = (await auditEvents(h, { types: ['tap.expired'] })).filter((event) => event.data['pass_id'] === id);
    expect(expired).toHaveLength(1);
    expect(expired[0]?.actor).toEqual({ kind: 'system', id: 'access-pass-sweeper' });
    const enrollments = await h.latchkey.store.enrollments.listForAccount(kim.accountId as never);
    expect(enrollments.filter((enrollment) => enrollment.methodId === 'temporary_access_pass')).toEqual([]);
  });

  it('throttles one operator’s issuance (PRIV-10) and audits the refusal', async () => {
    const lee = await createPerson(h, 'lee');
    await issuePass(h, agent, lee.accountId);
    const verificationId = await verifyOutOfBand(h, agent, lee.accountId);
    const refused = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: lee.accountId, verificationId }, { token: agent.token });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    const events = (await auditEvents(h, { types: ['helpdesk.issue_refused'] })).filter((event) => event.subject === lee.accountId);
    expect(events.map((event) => [event.reason, event.data['rule']])).toEqual([['rate.limited', 'operator_rate']]);
    // Another operator is not held back by it.
    const colleague = await helpdeskToken(h);
    await issuePass(h, colleague, lee.accountId);
  });
});
