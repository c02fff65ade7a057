import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, latestCode, oathtoolCode, startFlow, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { HELPDESK_GROUP, signInOperator, signInWithPass, startHelpdeskHarness, type Operator } from './support.ts';

describe.each(ENGINES)('a lost device replaced through the helpdesk (%s)', (engine) => {
  let h: Harness;
  let alice: Person;
  let enrolled: Enrolled;
  let agent: Operator;
  let oldTotpId: string;
  let pass: string;

  beforeAll(async () => {
    h = await startHelpdeskHarness(engine);
    alice = await createPerson(h, 'alice');
    enrolled = await enrolEmailAndTotp(h, alice);
    const methods = json<{ methods: { id: string; method: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session }));
    oldTotpId = methods.methods.find((method) => method.method === 'totp')?.id ?? '';
    agent = await signInOperator(h, 'hd1', [HELPDESK_GROUP]);
  });
  afterAll(async () => {
    await h.close();
  });

  it('shows the agent which gates the person passed in their failed self-service attempt, never a code', async () => {
    // Alice lost her phone: the email gate passes, the authenticator app gate fails.
    const flow = await startFlow(h, alice.username);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: flow.token });
    const code = await latestCode(h, enrolled.altEmail);
    const passed = json<{ flowToken: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token: flow.token }));
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: passed.flowToken });
    expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: '000000' }, { token: passed.flowToken })).statusCode).toBe(422);

    const lookup = await call(h, 'GET', '/api/admin/helpdesk/accounts/alice', undefined, { token: agent.token });
    expect(lookup.statusCode, lookup.body).toBe(200);
    const view = json<{ account: { id: string; tier: string }; methods: { method: string; codeVerification: boolean }[]; recentAttempts: { flowId: string; purpose: string; gates: { method: string; outcome: string }[]; ending: string }[]; issueRefusal: string | null }>(lookup);
    expect(view.account).toMatchObject({ id: alice.accountId, tier: 'standard' });
    expect(view.issueRefusal).toBeNull();
    expect(view.methods.map((method) => method.method).sort()).toEqual(['email_code', 'totp']);
    const attempt = view.recentAttempts.find((item) => item.flowId === flow.body.flow.flowId);
    expect(attempt).toMatchObject({ purpose: 'reset', ending: 'open', gates: [{ method: 'email_code', outcome: 'passed' }, { method: 'totp', outcome: 'failed' }] });
    expect(lookup.body).not.toContain(code);
    expect(await auditEvents(h, { types: ['helpdesk.account_viewed'] })).toHaveLength(1);
  });

  it('verifies her with a code to her remaining method and issues a pass shown once', async () => {
    const email = json<{ methods: { id: string; method: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: enrolled.session })).methods.find((method) => method.method === 'email_code');
    const started = await call(h, 'POST', '/api/admin/helpdesk/verifications', { accountId: alice.accountId, method: 'method_code', enrollmentId: email?.id }, { token: agent.token });
    expect(started.statusCode, started.body).toBe(200);
    const verification = json<{ verification: { id: string; status: string }; challenge: { method: string } }>(started);
    expect(verification.verification.status).toBe('pending');
    expect(verification.challenge.method).toBe('email_code');

    // Without a completed verification nothing is issued (FAC-9).
    const early = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: alice.accountId, verificationId: verification.verification.id }, { token: agent.token });
    expect(early.statusCode).toBe(409);
    expect(json(early)['code']).toBe('helpdesk.verification_required');

    const wrong = await call(h, 'POST', `/api/admin/helpdesk/verifications/${verification.verification.id}/code`, { code: '00000000' }, { token: agent.token });
    expect(wrong.statusCode).toBe(422);
    const checked = await call(h, 'POST', `/api/admin/helpdesk/verifications/${verification.verification.id}/code`, { code: await latestCode(h, enrolled.altEmail) }, { token: agent.token });
    expect(checked.statusCode, checked.body).toBe(200);
    expect(json<{ verification: { status: string } }>(checked).verification.status).toBe('verified');

    // SECURITY: the operator cannot choose the pass (TOK-17): a pass field is refused by the schema.
    const chosen = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: alice.accountId, verificationId: verification.verification.id, pass: 'AAAA-BBBB-CCCC-DDDD' }, { token: agent.token });
    expect(chosen.statusCode).toBe(400);

    const issued = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: alice.accountId, verificationId: verification.verification.id }, { token: agent.token });
    expect(issued.statusCode, issued.body).toBe(200);
    const body = json<{ pass: string; accessPass: { maxUses: number; validFrom: string; expiresAt: string } }>(issued);
    expect(body.pass).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(body.accessPass.maxUses).toBe(1);
    expect(Date.parse(body.accessPass.expiresAt) - Date.parse(body.accessPass.validFrom)).toBe(3_600_000);
    pass = body.pass;

    // The verification was used up by the issuance.
    const again = await call(h, 'POST', '/api/admin/helpdesk/passes', { accountId: alice.accountId, verificationId: verification.verification.id }, { token: agent.token });
    expect(again.statusCode).toBe(409);

    // Only a keyed hash is stored, and the lookup shows the live pass without it.
    const lookup = await call(h, 'GET', '/api/admin/helpdesk/accounts/alice', undefined, { token: agent.token });
    expect(lookup.body).not.toContain(pass);
    expect(json<{ livePass: { maxUses: number } | null }>(lookup).livePass).toMatchObject({ maxUses: 1, uses: 0 });
    const stored = await h.latchkey.store.temporaryAccessPasses.findLive(asAccountId(alice.accountId));
    expect(JSON.stringify(stored)).not.toContain(pass.replace(/-/g, ''));
    // Her channels of record are told a pass exists (SESS-4), without the pass.
    const notices = (await h.latchkey.store.outbox.list({ limit: 1_000 })).filter((message) => message.accountId === alice.accountId);
    expect(notices.length).toBeGreaterThan(0);
  });

  it('lets her sign in with the pass, register a new authenticator app and revoke the lost one', async () => {
    const signedIn = await signInWithPass(h, alice.username, pass.toLowerCase());
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const session = json<{ sessionToken: string; registration: { missing: number } }>(signedIn);
    expect(session.registration.missing).toBe(0);

    const totp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session.sessionToken }));
    const verified = await call(h, 'POST', `/api/me/methods/${totp.enrollment.id}/verify`, { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, { token: session.sessionToken });
    expect(verified.statusCode, verified.body).toBe(200);
    const removed = await call(h, 'DELETE', `/api/me/methods/${oldTotpId}`, undefined, { token: session.sessionToken });
    expect(removed.statusCode, removed.body).toBe(204);

    const methods = json<{ methods: { id: string; method: string }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session.sessionToken })).methods;
    expect(methods.map((method) => method.id)).not.toContain(oldTotpId);
    expect(methods.map((method) => method.method).sort()).toEqual(['email_code', 'totp']);

    // One-time by default: the pass does not work twice (TOK-4, TOK-17).
    expect((await signInWithPass(h, alice.username, pass)).statusCode).toBe(401);
  });

  it('audits every step with the agent as actor', async () => {
    const events = await auditEvents(h, { types: ['helpdesk.verification_started', 'helpdesk.verified', 'helpdesk.verification_failed', 'tap.issued', 'tap.used', 'sign_in.succeeded', 'enrollment.removed'] });
    const types = events.filter((event) => event.subject === alice.accountId).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['helpdesk.verification_started', 'helpdesk.verification_failed', 'helpdesk.verified', 'tap.issued', 'tap.used', 'enrollment.removed']));
    const issued = events.find((event) => event.type === 'tap.issued');
    expect(issued?.actor).toEqual({ kind: 'admin', id: agent.person.accountId });
    expect(issued?.data).toMatchObject({ kind: 'helpdesk', verification_method: 'method_code', max_uses: 1 });
    const used = events.find((event) => event.type === 'tap.used');
    expect(used?.data).toMatchObject({ purpose: 'sign_in', uses: 1 });
    expect(JSON.stringify(events)).not.toContain(pass);
  });
});
