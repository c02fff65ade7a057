import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, json, latestCode, messagesTo, oathtoolCode, startFlow, type FlowBody, type Harness, startHarness } from '../support/harness.ts';
import { freshGrant, nextTotpStep, signInWithGate } from '../security/support.ts';
import { adminToken, lockBySignIns } from '../security/checks.support.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { enrollmentContext } from '../../src/core/enrollment/secrets.ts';
import { addVerifiedPhone, cookieHeader, DAY_SECONDS, disputeLinkTo } from './support.ts';

/*
 * Changing methods safely, through the HTTP API with the server's clock moved by the test:
 * cooling-off, "this wasn't me", changes right after a recovery, and lock-out counters after a reset.
 */

describe.each(ENGINES)('method changes (%s)', (engine) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ engine });
  });

  afterAll(async () => {
    await h.close();
  });

  const alertsOf = async (accountId: string, detectorId: string) => (await h.latchkey.store.alerts.list({ limit: 500 })).filter((alert) => alert.subject === accountId && alert.detectorId === detectorId);

  it('refuses a freshly added phone as a recovery gate, as if it had none, and accepts it once the cooling-off is over', async () => {
    const cora = await createPerson(h, 'cora');
    const methods = await enrolEmailAndTotp(h, cora);
    const session = await signInWithGate(h, cora, methods);
    const phone = '+447700900111';
    const verifiedAt = h.clock.now().getTime();
    const { id: phoneId, verified } = await addVerifiedPhone(h, session, phone);

    // The self-service API says when the phone starts to count: 24 hours after its verification.
    const usableFrom = Date.parse(String(verified['usableFrom']));
    expect(usableFrom - verifiedAt).toBeGreaterThanOrEqual(DAY_SECONDS * 1000);
    expect(usableFrom - verifiedAt).toBeLessThan(DAY_SECONDS * 1000 + 5_000);
    const listed = json<{ methods: { id: string; method: string; usableFrom: string | null }[] }>(await call(h, 'GET', '/api/me/methods', undefined, { token: session }));
    expect(listed.methods.find((method) => method.id === phoneId)?.usableFrom).toBe(verified['usableFrom']);
    // The first methods, registered while the account had none, count at once.
    for (const method of listed.methods.filter((item) => item.id !== phoneId)) expect(Date.parse(String(method.usableFrom))).toBeLessThanOrEqual(h.clock.now().getTime());

    const textsBefore = (await messagesTo(h, phone)).length;
    const flow = await startFlow(h, cora.username);
    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: flow.token });
    expect(chosen.statusCode).toBe(200);
    // Same shape of reply as for an account with no phone at all: nothing tells why nothing came.
    const dana = await createPerson(h, 'dana');
    await enrolEmailAndTotp(h, dana);
    const noPhone = await startFlow(h, dana.username);
    const danaChosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: noPhone.token });
    const shape = (body: FlowBody) => ({ step: body.flow.step, methods: body.flow.methods, challengeKeys: Object.keys(body.flow.challenge as object).sort() });
    expect(shape(json<FlowBody>(chosen))).toEqual(shape(json<FlowBody>(danaChosen)));
    expect((await messagesTo(h, phone)).length).toBe(textsBefore);
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '123456' }, { token: flow.token });
    expect(answered.statusCode).toBe(422);
    const skipped = await auditEvents(h, { types: ['recovery.enrollment_skipped'], flowId: flow.body.flow.flowId });
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ reason: 'enrollment.cooling_off', subject: cora.accountId, data: { method: 'sms_code', enrollment_id: phoneId } });

    h.clock.advance(DAY_SECONDS + 60);
    const later = await startFlow(h, cora.username);
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: later.token })).statusCode).toBe(200);
    expect((await messagesTo(h, phone)).length).toBe(textsBefore + 1);
    const passed = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, phone) }, { token: later.token });
    expect(passed.statusCode).toBe(200);
    expect(json<FlowBody>(passed).flow.gatesPassed).toBe(1);
    expect(await auditEvents(h, { types: ['recovery.enrollment_skipped'], flowId: later.body.flow.flowId })).toHaveLength(0);
  });

  it('tells every earlier channel with a single-use link whose page does nothing until confirmed; confirming reverts, freezes and alerts', async () => {
    const dirk = await createPerson(h, 'dirk');
    const methods = await enrolEmailAndTotp(h, dirk);
    const session = await signInWithGate(h, dirk, methods);
    const phone = '+447700900222';
    const { id: phoneId } = await addVerifiedPhone(h, session, phone);

    const fromWork = await disputeLinkTo(h, dirk.email);
    const fromAlternate = await disputeLinkTo(h, methods.altEmail);
    expect(fromAlternate.token).toBe(fromWork.token);
    expect(fromWork.url.startsWith('http://127.0.0.1:8080/this-wasnt-me/')).toBe(true);
    expect((await messagesTo(h, phone)).filter((message) => message.purpose === 'enrollment_notice')).toHaveLength(0);
    // Only the keyed hash is stored.
    const stored = await h.latchkey.store.methodChanges.listForAccount(asAccountId(dirk.accountId));
    expect(JSON.stringify(stored)).not.toContain(fromWork.token);

    // A mail scanner opening the link (twice) changes nothing.
    for (let visit = 0; visit < 2; visit += 1) {
      const page = await h.app.inject({ method: 'GET', url: fromWork.path });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<form method="post"');
    }
    expect(await h.latchkey.store.enrollments.get(phoneId as never)).not.toBeNull();
    expect(await h.latchkey.store.methodChanges.getFreeze(asAccountId(dirk.accountId))).toBeNull();
    // A post without the page's CSRF token is refused and changes nothing.
    const forged = await h.app.inject({ method: 'POST', url: fromWork.path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '_csrf=forged' });
    expect(forged.statusCode).toBe(403);
    expect(await auditEvents(h, { types: ['method_change.disputed'] })).toHaveLength(0);

    // Whoever made the change may also be half-way through a reset: that flow must end too.
    const openFlow = await startFlow(h, dirk.username);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: openFlow.token })).statusCode).toBe(200);

    const opened = await h.app.inject({ method: 'GET', url: fromWork.path });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(opened.body)?.[1] ?? '';
    const post = () =>
      h.app.inject({ method: 'POST', url: fromWork.path, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(opened) }, payload: new URLSearchParams({ _csrf: csrf }).toString() });
    const confirmed = await post();
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.body).toContain('The change was undone');

    // Reverted: the added phone is gone; the earlier methods stay.
    expect(await h.latchkey.store.enrollments.get(phoneId as never)).toBeNull();
    expect((await h.latchkey.store.enrollments.listForAccount(asAccountId(dirk.accountId))).map((record) => record.methodId).sort()).toEqual(['email_code', 'totp']);
    // Frozen: sessions ended, sign-in refused with the helpdesk message, recovery runs as a decoy.
    expect((await call(h, 'GET', '/api/me/methods', undefined, { token: session })).statusCode).toBe(401);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: openFlow.token })).statusCode).toBe(404);
    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: dirk.username, password: dirk.password });
    expect(signIn.statusCode).toBe(403);
    expect(json(signIn)).toMatchObject({ code: 'self_service.frozen' });
    expect(String(json(signIn)['detail'])).toContain('helpdesk');
    const codesBefore = (await messagesTo(h, methods.altEmail)).length;
    const decoy = await startFlow(h, dirk.username);
    expect(decoy.response.statusCode).toBe(201);
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: decoy.token })).statusCode).toBe(200);
    expect((await messagesTo(h, methods.altEmail)).length).toBe(codesBefore);
    expect(await auditEvents(h, { types: ['recovery.refused'], flowId: decoy.body.flow.flowId })).toMatchObject([{ reason: 'self_service.frozen', subject: dirk.accountId }]);

    const disputed = await auditEvents(h, { types: ['method_change.disputed', 'account.self_service_frozen', 'enrollment.removed', 'session.ended'] });
    const mine = disputed.filter((event) => event.subject === dirk.accountId && event.at.getTime() >= h.clock.now().getTime() - 1000);
    expect(mine.map((event) => [event.type, event.reason])).toEqual(
      expect.arrayContaining([
        ['method_change.disputed', null],
        ['enrollment.removed', 'change_disputed'],
        ['account.self_service_frozen', 'method_change.disputed'],
        ['session.ended', null],
      ]),
    );
    const alerts = await alertsOf(dirk.accountId, 'method_change_disputed');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.severity).toBe('high');

    // Single use: the same link, even with a valid form, does nothing more.
    const replay = await post();
    expect(replay.statusCode).toBe(410);
    expect((await h.app.inject({ method: 'GET', url: fromWork.path })).statusCode).toBe(410);
    expect(await auditEvents(h, { types: ['method_change.disputed'] })).toMatchObject([{ outcome: 'success' }, { outcome: 'failure', reason: 'dispute.link_invalid' }]);

    // Only an admin with accounts:write lifts the freeze, and it is audited.
    const reader = await adminToken(h, ['accounts:read']);
    const refused = await call(h, 'POST', `/api/admin/accounts/${dirk.accountId}/unfreeze`, { reason: 'checked with Dirk by phone' }, { token: reader });
    expect(refused.statusCode).toBe(403);
    expect((await call(h, 'POST', `/api/admin/accounts/${dirk.accountId}/unfreeze`, { reason: '' }, { token: await adminToken(h, ['accounts:write']) })).statusCode).toBe(400);
    const writer = await adminToken(h, ['accounts:write']);
    const lifted = await call(h, 'POST', `/api/admin/accounts/${dirk.accountId}/unfreeze`, { reason: 'checked with Dirk by phone' }, { token: writer });
    expect(lifted.statusCode).toBe(200);
    expect(json(lifted)).toEqual({ unfrozen: true });
    expect(await auditEvents(h, { types: ['account.self_service_unfrozen'] })).toMatchObject([{ subject: dirk.accountId, actor: { kind: 'admin_token' }, data: { reason: 'checked with Dirk by phone' } }]);
    expect(json(await call(h, 'POST', '/api/me/sign-in', { username: dirk.username, password: dirk.password }))).toMatchObject({ status: 'gate_required' });
  });

  it('puts a removed method back when the removal is disputed, and refuses an expired link', async () => {
    const erik = await createPerson(h, 'erik');
    const methods = await enrolEmailAndTotp(h, erik);
    const firstSession = await signInWithGate(h, erik, methods);
    await addVerifiedPhone(h, firstSession, '+447700900333');
    const addLink = await disputeLinkTo(h, erik.email);

    h.clock.advance(7 * DAY_SECONDS + 60);
    const session = await signInWithGate(h, erik, methods);
    const emailId = (await h.latchkey.store.enrollments.listForAccount(asAccountId(erik.accountId))).find((record) => record.methodId === 'email_code')?.id;
    expect((await call(h, 'DELETE', `/api/me/methods/${emailId}`, undefined, { token: session })).statusCode).toBe(204);
    // The removed address hears about its own removal, with the link.
    const removeLink = await disputeLinkTo(h, methods.altEmail);
    expect(removeLink.token).not.toBe(addLink.token);

    const opened = await h.app.inject({ method: 'GET', url: removeLink.path });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(opened.body)?.[1] ?? '';
    const postTo = (path: string) =>
      h.app.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieHeader(opened) }, payload: new URLSearchParams({ _csrf: csrf }).toString() });
    expect((await h.app.inject({ method: 'GET', url: addLink.path })).statusCode).toBe(410);
    expect((await postTo(addLink.path)).statusCode).toBe(410);
    expect(await h.latchkey.store.methodChanges.getFreeze(asAccountId(erik.accountId))).toBeNull();

    expect((await postTo(removeLink.path)).statusCode).toBe(200);
    const restored = await h.latchkey.store.enrollments.get(emailId as never);
    expect(restored).toMatchObject({ status: 'active', methodId: 'email_code' });
    expect(await auditEvents(h, { types: ['enrollment.restored'] })).toMatchObject([{ subject: erik.accountId, reason: 'change_disputed', data: { enrollment_id: emailId } }]);
    // Restored as it was (same id, same ciphertext): its address still decrypts for notices.
    expect(JSON.parse(h.latchkey.deps.cipher.decrypt(restored?.secretCiphertext ?? '', enrollmentContext(emailId ?? '')))).toMatchObject({ address: methods.altEmail });
    expect((await h.app.inject({ method: 'GET', url: removeLink.path })).statusCode).toBe(410);
  });

  it('asks for the full gate count after a reset, flags a method change then, and clears the lock-out counters', async () => {
    const fay = await createPerson(h, 'fay');
    const methods = await enrolEmailAndTotp(h, fay);
    await lockBySignIns(h, fay.username);
    expect((await h.latchkey.store.builtinAccounts.get(asAccountId(fay.accountId)))?.lockedAt).not.toBeNull();

    const { grant } = await freshGrant(h, fay, methods);
    const newPassword = 'seven purple otters juggle quietly';
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: newPassword, confirmPassword: newPassword }, { token: grant })).statusCode).toBe(200);
    expect(await h.latchkey.store.builtinAccounts.get(asAccountId(fay.accountId))).toMatchObject({ failedSignIns: 0, lockedAt: null });

    nextTotpStep(h.clock);
    const signIn = json<{ status: string; flowToken: string; flow: { gatesRequired: number } }>(await call(h, 'POST', '/api/me/sign-in', { username: fay.username, password: newPassword }));
    expect(signIn).toMatchObject({ status: 'gate_required', flow: { gatesRequired: 2 } });
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: signIn.flowToken });
    const first = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, methods.altEmail) }, { token: signIn.flowToken });
    const afterFirst = json<{ flowToken: string; sessionToken?: string }>(first);
    expect(afterFirst.sessionToken).toBeUndefined();
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: afterFirst.flowToken });
    const second = json<{ sessionToken?: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(methods.totpSeed, h.clock) }, { token: afterFirst.flowToken }));
    const session = second.sessionToken ?? '';
    expect(session).not.toBe('');

    const { id: phoneId } = await addVerifiedPhone(h, session, '+447700900444');
    const activated = await auditEvents(h, { types: ['enrollment.activated'] });
    expect(activated.find((event) => event.data['enrollment_id'] === phoneId)).toMatchObject({ data: { after_recovery: true, cools_off: true } });
    const alerts = await alertsOf(fay.accountId, 'recent_recovery_method_change');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'high', observed: { added: 'sms_code' } });
  });

  it('needs a recent sign-in to add a method, and a pending phone is no gate', async () => {
    const gil = await createPerson(h, 'gil');
    const methods = await enrolEmailAndTotp(h, gil);
    const session = await signInWithGate(h, gil, methods);
    const phone = '+447700900555';
    const added = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
    expect(json<{ enrollment: { status: string } }>(added).enrollment.status).toBe('pending');
    const flow = await startFlow(h, gil.username);
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'sms_code' }, { token: flow.token });
    expect((await messagesTo(h, phone)).filter((message) => message.purpose !== 'enrollment_code')).toHaveLength(0);
    h.clock.advance(h.latchkey.deps.policy().signIn.stepUpSeconds + 1);
    const stale = await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'gil.other@example.org' }, { token: session });
    expect(stale.statusCode).toBe(403);
    expect(json(stale)).toMatchObject({ code: 'auth.step_up_required' });
  });
});
