import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPrincipal } from '../../src/core/admin/principal.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { ENGINES, allMessages, auditEvents, call, createPerson, enrolEmailAndTotp, json, messagesTo, oathtoolCode, roomyLimits, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { nextTotpStep, normalisedReply } from '../security/support.ts';
import { privilegedRecovery } from './support.ts';

/*
 * Privileged recoveries through the HTTP API, on SQLite and PostgreSQL: the baseline's gates, the
 * notices to every security admin (directory accounts mapped to security_admin by policy adminRoles,
 * plus the configured addresses) and to the person on every channel, exactly one privileged_recovery
 * alert per recovery, and the optional hold: the account is held until a second admin confirms, or
 * the missed deadline is audited and escalated.
 */

const DEADLINE_SECONDS = 600;
/** The password privilegedRecovery sets with recovery code 0. */
const NEW_PASSWORD_0 = 'violet harbour drifts 0 quiet miles';

describe.each(ENGINES)('privileged recovery with confirmation holds on %s', (engine) => {
  let h: Harness;
  let adm: Person;
  let alice: Person;
  let sec2: Person;
  let enrolled: Enrolled;
  let confirmToken = '';
  let readerToken = '';

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [
        roomyLimits,
        (policy) => {
          policy.adminRoles.security_admin = ['secops'];
          policy.privileged.holdForConfirmation = true;
          policy.privileged.confirmationDeadlineSeconds = DEADLINE_SECONDS;
        },
      ],
      env: { LATCHKEY_SECURITY_ADMINS__EMAILS: 'soc@corp.test' },
    });
    adm = await createPerson(h, 'adm', { groups: ['admins'], department: 'IT' });
    alice = await createPerson(h, 'alice');
    await createPerson(h, 'sec1', { groups: ['secops'] });
    sec2 = await createPerson(h, 'sec2', { groups: ['secops', 'admins'] });
    enrolled = await enrolEmailAndTotp(h, adm, { recoveryCodes: true });
    confirmToken = (await h.latchkey.adminTokens.create({ name: 'second admin', scopes: ['privileged:confirm', 'accounts:read'] }, { kind: 'cli', id: 'test' })).token;
    readerToken = (await h.latchkey.adminTokens.create({ name: 'reader', scopes: ['accounts:read'] }, { kind: 'cli', id: 'test' })).token;
  });
  afterAll(async () => {
    await h.close();
  });

  const eventsOf = async (type: AuditRecord['type'], flowId?: string): Promise<AuditRecord[]> => auditEvents(h, { types: [type], ...(flowId ? { flowId } : {}) });
  const holds = async (query = ''): Promise<{ id: string; flowId: string; status: string; purpose: string }[]> => {
    const response = await call(h, 'GET', `/api/admin/privileged-holds${query}`, undefined, { token: readerToken });
    expect(response.statusCode, response.body).toBe(200);
    return json<{ holds: { id: string; flowId: string; status: string; purpose: string }[] }>(response).holds;
  };
  const startIsDecoy = async (identifier: string): Promise<{ decoy: boolean; refused: AuditRecord[]; reply: ReturnType<typeof normalisedReply> }> => {
    const started = await startFlow(h, identifier);
    const [begun] = await eventsOf('recovery.started', started.body.flow.flowId);
    return { decoy: begun?.data['decoy'] === true, refused: await eventsOf('recovery.refused', started.body.flow.flowId), reply: normalisedReply(started.response) };
  };

  it('offers a privileged account only strong gates and refuses email, SMS and security questions by name', async () => {
    const { token, body } = await startFlow(h, 'adm');
    expect(body.flow.methods.map((method) => method.id)).toEqual(['totp', 'recovery_code']);
    expect(body.flow.gatesRequired).toBe(2);
    for (const method of ['email_code', 'sms_code', 'security_questions']) {
      const forced = await call(h, 'POST', '/api/recovery/flow/method', { method }, { token });
      expect(forced.statusCode, method).toBe(422);
      expect(json(forced)['code']).toBe('method.not_allowed');
    }
  });

  it('tells every security admin and the person on every channel after a privileged reset, and raises one privileged_recovery alert', async () => {
    const before = new Set((await allMessages(h)).map((message) => `${message.to}|${message.subject}|${message.text}`));
    const flowId = await privilegedRecovery(h, 'adm', enrolled, 0);
    const sent = (await allMessages(h)).filter((message) => !before.has(`${message.to}|${message.subject}|${message.text}`));

    const adminNotices = sent.filter((message) => message.purpose === 'security_alert');
    // The directory's security admins (secops members) and the configured address; never the account itself.
    expect(adminNotices.map((message) => message.to).sort()).toEqual(['sec1@corp.test', 'sec2@corp.test', 'soc@corp.test']);
    const [hold] = await holds('?status=held');
    expect(hold).toMatchObject({ flowId, status: 'held', purpose: 'reset' });
    for (const notice of adminNotices) {
      expect(notice.channel).toBe('email');
      expect(notice.subject).toBe('Latchkey: privileged account adm had its password reset');
      expect(notice.text).toContain(`POST /api/admin/privileged-holds/${hold?.id}/confirm`);
      expect(notice.text).not.toContain('violet harbour');
    }
    const personNotices = sent.filter((message) => message.purpose === 'recovery_notice').map((message) => message.to).sort();
    expect(personNotices).toEqual([enrolled.altEmail, adm.email].sort());

    const [held] = await eventsOf('privileged.recovery_held', flowId);
    expect(held).toMatchObject({ subject: adm.accountId, tier: 'privileged', reason: 'privileged.hold', data: { hold_id: hold?.id, purpose: 'reset' } });

    await h.latchkey.detectors.worker.runOnce();
    await h.latchkey.detectors.worker.runOnce();
    const alerts = await h.latchkey.store.alerts.list({ limit: 500 });
    const forThisFlow = alerts.filter((alert) => alert.detectorId === 'privileged_recovery' && alert.dedupeKey === `privileged_recovery:${flowId}`);
    expect(forThisFlow).toHaveLength(1);
    // Raised at the start and again at completion: one alert, two occurrences, never a second alert.
    expect(forThisFlow[0]).toMatchObject({ severity: 'high', occurrences: 2, subject: adm.accountId });
    const confirmation = alerts.filter((alert) => alert.detectorId === 'privileged_hold');
    expect(confirmation).toHaveLength(1);
    expect(confirmation[0]).toMatchObject({ severity: 'high', dedupeKey: `privileged_hold:${hold?.id}`, subject: adm.accountId });
    expect(confirmation[0]?.summary).toContain('a second admin must confirm it');
  });

  it('holds the account: a further start runs as a decoy, refused as privileged.held, and looks like any start', async () => {
    const held = await startIsDecoy('adm');
    expect(held.decoy).toBe(true);
    expect(held.refused.map((event) => [event.reason, event.subject])).toEqual([['privileged.held', adm.accountId]]);
    const standard = await startIsDecoy(alice.username);
    expect(standard.decoy).toBe(false);
    expect(held.reply).toEqual(standard.reply);
    const unlock = await startFlow(h, 'adm', 'unlock');
    expect((await eventsOf('recovery.refused', unlock.body.flow.flowId)).map((event) => event.reason)).toEqual(['privileged.held']);
    // Nor may the held account manage its methods: the recovery may have been an attacker's.
    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: 'adm', password: NEW_PASSWORD_0 });
    expect(signIn.statusCode).toBe(403);
    expect(json(signIn)['code']).toBe('self_service.unavailable');
    expect((await eventsOf('sign_in.failed')).at(-1)).toMatchObject({ subject: adm.accountId, reason: 'privileged.held' });
  });

  it('lets only a second admin with privileged:confirm end the hold, never the held account itself', async () => {
    const [hold] = await holds('?status=held');
    const holdId = hold?.id as string;
    const self = sessionPrincipal({ sessionId: 'session-of-adm', accountId: asAccountId(adm.accountId), username: 'adm', roles: new Set(['security_admin']) });
    await expect(h.latchkey.privileged.confirm(self, holdId, 'it was me', { ip: '127.0.0.1', userAgent: null })).rejects.toMatchObject({ code: 'hold.self_confirmation' });

    const noScope = await call(h, 'POST', `/api/admin/privileged-holds/${holdId}/confirm`, { reason: 'looked fine' }, { token: readerToken });
    expect(noScope.statusCode).toBe(403);
    expect(json(noScope)['code']).toBe('auth.forbidden');
    const noReason = await call(h, 'POST', `/api/admin/privileged-holds/${holdId}/confirm`, {}, { token: confirmToken });
    expect(noReason.statusCode).toBe(400);
    expect(json(noReason)['code']).toBe('request.invalid');
    const unknown = await call(h, 'POST', '/api/admin/privileged-holds/00000000-0000-4000-8000-000000000000/confirm', { reason: 'looked fine' }, { token: confirmToken });
    expect(unknown.statusCode).toBe(404);
    expect(json(unknown)['code']).toBe('hold.not_found');
    expect(await eventsOf('privileged.recovery_confirmed')).toEqual([]);

    const confirmed = await call(h, 'POST', `/api/admin/privileged-holds/${holdId}/confirm`, { reason: 'called adm on their desk phone' }, { token: confirmToken });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(json<{ hold: { status: string } }>(confirmed).hold.status).toBe('confirmed');
    const [event] = await eventsOf('privileged.recovery_confirmed');
    expect(event).toMatchObject({ actor: { kind: 'admin_token' }, subject: adm.accountId, outcome: 'success', data: { hold_id: holdId, late: false, reason_text: 'called adm on their desk phone' } });
    const again = await call(h, 'POST', `/api/admin/privileged-holds/${holdId}/confirm`, { reason: 'twice' }, { token: confirmToken });
    expect(again.statusCode).toBe(409);
    expect(json(again)['code']).toBe('hold.wrong_status');

    expect((await startIsDecoy('adm')).decoy).toBe(false);
    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: 'adm', password: NEW_PASSWORD_0 });
    expect(json(signIn)['status']).toBe('gate_required');
  });

  it('audits a hold nobody confirmed by its deadline once, escalates its alert and keeps the account held', async () => {
    const before = new Set((await allMessages(h)).map((message) => `${message.to}|${message.text}`));
    const flowId = await privilegedRecovery(h, 'adm', enrolled, 1, 'unlock');
    const unlockNotices = (await allMessages(h)).filter((message) => message.purpose === 'security_alert' && !before.has(`${message.to}|${message.text}`));
    expect(unlockNotices.map((message) => [message.to, message.subject]).sort()).toEqual(
      ['sec1@corp.test', 'sec2@corp.test', 'soc@corp.test'].map((to) => [to, 'Latchkey: privileged account adm was unlocked']),
    );
    const hold = (await holds('?status=held')).find((candidate) => candidate.flowId === flowId);
    expect(hold?.purpose).toBe('unlock');
    await h.latchkey.detectors.worker.runOnce();

    h.clock.advance(DEADLINE_SECONDS + 1);
    expect((await holds('?status=unconfirmed')).map((candidate) => candidate.id)).toEqual([hold?.id]);
    expect(await h.latchkey.privileged.expireOverdue()).toBe(0);
    const missed = await eventsOf('privileged.recovery_unconfirmed');
    expect(missed).toHaveLength(1);
    expect(missed[0]).toMatchObject({ actor: { kind: 'system', id: 'privileged-holds' }, subject: adm.accountId, reason: 'privileged.unconfirmed', data: { hold_id: hold?.id, purpose: 'unlock' } });

    await h.latchkey.detectors.worker.runOnce();
    const alert = await h.latchkey.store.alerts.findActive(`privileged_hold:${hold?.id}`);
    expect(alert).toMatchObject({ severity: 'critical', occurrences: 2 });

    expect((await startIsDecoy('adm')).refused.map((event) => event.reason)).toEqual(['privileged.held']);
    const late = await call(h, 'POST', `/api/admin/privileged-holds/${hold?.id}/confirm`, { reason: 'back from leave; checked' }, { token: confirmToken });
    expect(late.statusCode).toBe(200);
    expect((await eventsOf('privileged.recovery_confirmed')).map((event) => event.data['late'])).toEqual([false, true]);
    expect((await startIsDecoy('adm')).decoy).toBe(false);
  });

  it('refuses a console session of the held account confirming its own recovery (hold.self_confirmation)', async () => {
    // sec2 is a security admin and, being in `admins`, privileged too.
    const sec2Enrolled = await enrolEmailAndTotp(h, sec2, { recoveryCodes: true });
    const flowId = await privilegedRecovery(h, 'sec2', sec2Enrolled, 0);
    const hold = (await holds('?status=held')).find((candidate) => candidate.flowId === flowId);
    expect(hold).toBeDefined();
    // The other security admins hear of it; the recovered admin gets the person's notice instead.
    const aboutSec2 = (await allMessages(h)).filter((message) => message.subject === 'Latchkey: privileged account sec2 had its password reset');
    expect(aboutSec2.map((message) => message.to).sort()).toEqual(['sec1@corp.test', 'soc@corp.test']);
    const pending = json<{ pendingToken: string }>(await call(h, 'POST', '/api/admin/session', { username: 'sec2', password: NEW_PASSWORD_0 }));
    nextTotpStep(h.clock);
    const session = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: pending.pendingToken, code: oathtoolCode(sec2Enrolled.totpSeed, h.clock) });
    expect(session.statusCode, session.body).toBe(200);
    const own = await call(h, 'POST', `/api/admin/privileged-holds/${hold?.id}/confirm`, { reason: 'it was me' }, { token: json<{ sessionToken: string }>(session).sessionToken });
    expect(own.statusCode).toBe(403);
    expect(json(own)['code']).toBe('hold.self_confirmation');
    expect((await holds('?status=held')).map((candidate) => candidate.id)).toContain(hold?.id);
    const byOther = await call(h, 'POST', `/api/admin/privileged-holds/${hold?.id}/confirm`, { reason: 'verified by phone' }, { token: confirmToken });
    expect(byOther.statusCode).toBe(200);
  });

  it('sends no admin notice for a standard account', async () => {
    const aliceEnrolled = await enrolEmailAndTotp(h, alice);
    const before = (await allMessages(h)).filter((message) => message.purpose === 'security_alert').length;
    const { token } = await startFlow(h, alice.username);
    const { passTwoGates } = await import('../support/harness.ts');
    const grant = await passTwoGates(h, token, aliceEnrolled);
    const done = await call(h, 'POST', '/api/recovery/flow/password', { password: 'amber kettles sing over nine bridges', confirmPassword: 'amber kettles sing over nine bridges' }, { token: grant });
    expect(done.statusCode).toBe(200);
    expect((await allMessages(h)).filter((message) => message.purpose === 'security_alert')).toHaveLength(before);
    expect((await messagesTo(h, alice.email)).map((message) => message.purpose)).toContain('recovery_notice');
  });
});

describe.each(ENGINES)('privileged self-service switched off on %s', (engine) => {
  let h: Harness;
  let adm: Person;

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.tiers.privileged.selfService = false)] });
    adm = await createPerson(h, 'adm', { groups: ['admins'] });
    await createPerson(h, 'alice');
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers a privileged start exactly like any other, runs it as a decoy, audits the refusal and sends nothing', async () => {
    const privileged = await startFlow(h, 'adm');
    const standard = await startFlow(h, 'alice');
    const unknown = await startFlow(h, 'ghost');
    expect(normalisedReply(privileged.response)).toEqual(normalisedReply(standard.response));
    expect(normalisedReply(privileged.response)).toEqual(normalisedReply(unknown.response));
    const refused = await auditEvents(h, { types: ['recovery.refused'], flowId: privileged.body.flow.flowId });
    expect(refused.map((event) => [event.reason, event.subject, event.data['tier']])).toEqual([['self_service.unavailable', adm.accountId, 'privileged']]);

    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: privileged.token });
    expect(chosen.statusCode).toBe(200);
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '123456' }, { token: privileged.token });
    // A decoy never passes a gate: its answers are refused the way a wrong code is.
    expect(answered.statusCode).toBe(422);
    expect(json(answered)['code']).toBe('challenge.invalid');
    expect(await messagesTo(h, adm.email)).toEqual([]);
  });
});
