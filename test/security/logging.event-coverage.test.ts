import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditRecord } from '../../src/core/audit/events.ts';
import type { MessageChannel } from '../../src/core/ports/message-channel.ts';
import { OutboxWorker } from '../../src/server/workers/outbox-worker.ts';
import { ENGINES, auditEvents, call, createPerson, json, latestCode, oathtoolCode, roomyLimits, startHarness, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { adminToken, createAccount } from './checks.support.ts';

/*
 * LOG-1 and LOG-2: a scripted life of an account (enrolment, sign-in, recovery with failures,
 * rate limits, lockout and unlock, admin reads, delivery) leaves one audit event per step, with its
 * outcome, and every event carries who, what, when (UTC), where (the socket address, never a
 * spoofed X-Forwarded-For) and the flow it belongs to.
 */

const CLIENT = { ip: '10.1.2.3', headers: { 'x-forwarded-for': '6.6.6.6', 'user-agent': 'latchkey-audit-test/1.0' } };
const NEW_PASSWORD = 'seven marbled owls guard the orchard';

/** Events that this script cannot produce, with the suite that does. */
const COVERED_ELSEWHERE: Partial<Record<AuditEventType, string>> = {
  'recovery.interrupted': 'test/api/crash-safety.test.ts (a process killed between grant and directory write)',
  'audit.exported': 'test/security/logging.tamper-evidence.test.ts (the CLI export)',
  'recovery.risk_refused': 'test/monitoring/detectors/realtime.test.ts (a start from a deny-listed or detector-flagged address)',
  'audit.checkpointed': 'test/evidence/evidence.test.ts (checkpoint cadence by count and by hours)',
  'audit.purged': 'test/evidence/evidence.test.ts (retention purge after every sink acknowledged)',
  'audit_export.stalled': 'test/export/http-export.test.ts (a sink answering 503, then recovering)',
  'audit_export.resumed': 'test/export/http-export.test.ts (a sink answering 503, then recovering)',
  'audit_export.failed': 'test/export/http-export.test.ts (a sink refusing a batch with 400)',
  'directory.unavailable': 'test/directory/samba-ad.api.test.ts (the domain controller stopped mid-flow)',
  'alert.raised': 'test/alerts/alerts-api.test.ts (findings raised through the alert service)',
  'alert.escalated': 'test/alerts/alerts-api.test.ts (a repeat at a higher severity)',
  'alert.acknowledged': 'test/alerts/alerts-api.test.ts (the status machine through the API)',
  'alert.resolved': 'test/alerts/alerts-api.test.ts (the status machine through the API)',
  'alert.suppressed': 'test/alerts/alerts-api.test.ts (the global delivery cap)',
  'alert.delivered': 'test/alerts/alert-delivery.test.ts (SMTP, webhook and rsyslog deliveries)',
  'alert.delivery_failed': 'test/alerts/alert-delivery.test.ts (a webhook answering 503, then 400)',
  'admin.alerts_queried': 'test/alerts/alerts-api.test.ts (listing alerts with a token)',
  'admin.report_queried': 'test/reports/usage-report.test.ts (the usage report through the API)',
  'report.generated': 'test/reports/report-cli.test.ts (latchkey report usage)',
  'admin.signed_in': 'test/admin-identity/admin-session.test.ts (console sign-in with password and TOTP)',
  'admin.sign_in_failed': 'test/admin-identity/admin-session.test.ts (wrong password, non-admin, wrong code)',
  'admin.signed_out': 'test/admin-identity/admin-session.test.ts (sign-out)',
  'admin.access_denied': 'test/admin-identity/admin-session.test.ts (a role without the permission)',
  'sim_swap.detected': 'test/sim-swap/sim-swap-flow.test.ts (a number the CAMARA-shaped server reports swapped)',
  'sim_swap.check_unavailable': 'test/sim-swap/sim-swap-flow.test.ts (the SIM swap gateway down)',
  'travel.declared': 'test/travel/travel-api.test.ts (a declared trip)',
  'travel.cancelled': 'test/travel/travel-api.test.ts (a cancelled trip)',
  'recovery.stepped_up': 'test/travel/travel-api.test.ts (a recovery from outside a declared trip)',
  'recovery.enrollment_skipped': 'test/lifecycle/method-changes.api.test.ts (a method in its cooling-off)',
  'method_change.disputed': 'test/lifecycle/method-changes.api.test.ts (the "this wasn\'t me" link)',
  'enrollment.restored': 'test/lifecycle/method-changes.api.test.ts (a disputed removal reverted)',
  'enrollment.reconfirmed': 'test/lifecycle/reconfirmation.api.test.ts (a stale method confirmed)',
  'account.self_service_frozen': 'test/lifecycle/method-changes.api.test.ts (a dispute freezes self-service)',
  'account.self_service_unfrozen': 'test/lifecycle/method-changes.api.test.ts (an admin lifts the freeze)',
  'admin.policy_queried': 'test/policy-paths/governance.test.ts (account findings read through the API)',
  'privileged.recovery_held': 'test/privileged/privileged-recovery.api.test.ts (a privileged reset under holdForConfirmation)',
  'privileged.recovery_confirmed': 'test/privileged/privileged-recovery.api.test.ts (a second admin confirms, on time and late)',
  'privileged.recovery_unconfirmed': 'test/privileged/privileged-recovery.api.test.ts (the deadline passes unconfirmed)',
  'honeytoken.touched': 'test/honeytoken/honeytoken.api.test.ts (starts, sign-in and admin lookup naming a honeytoken)',
  'helpdesk.account_viewed': 'test/helpdesk/lost-device.test.ts (the agent looks the person up)',
  'helpdesk.verification_started': 'test/helpdesk/lost-device.test.ts (a code to the remaining method)',
  'helpdesk.verified': 'test/helpdesk/lost-device.test.ts (the right code; the manager approval in test/tap/tap.test.ts)',
  'helpdesk.verification_failed': 'test/helpdesk/lost-device.test.ts (a wrong code)',
  'helpdesk.issue_refused': 'test/helpdesk/privileged.test.ts (privileged, own-account and break-glass refusals)',
  'tap.issued': 'test/helpdesk/lost-device.test.ts (a pass after a verified code)',
  'tap.used': 'test/tap/tap.test.ts (sign-in, limited use and recovery gate)',
  'tap.revoked': 'test/tap/tap.test.ts (replaced by a new pass, revoked by an operator)',
  'tap.expired': 'test/tap/tap.test.ts (a pass presented after its lifetime)',
  'dayone.batch_issued': 'test/dayone/day-one.test.ts (a clean new-hire file)',
  'registration.required': 'test/dayone/day-one.test.ts (forced registration after a day-one sign-in)',
  'breakglass.sealed': 'test/breakglass/scenario.ts (run by builtin.test.ts and openldap.test.ts: seal a break-glass account)',
  'breakglass.opened': 'test/breakglass/scenario.ts (emergency opening with M of N shares, CLI and console)',
  'breakglass.open_refused': 'test/breakglass/scenario.ts (M−1 shares, shares of an old seal)',
  'breakglass.share_received': 'test/breakglass/scenario.ts (console opening, one share per operator)',
  'breakglass.resealed': 'test/breakglass/scenario.ts (the watch re-seals after the emergency window)',
  'breakglass.shares_released': 'test/breakglass/scenario.ts (worker-made shares released once)',
  'breakglass.drilled': 'test/breakglass/scenario.ts (a drill with signed evidence)',
  'breakglass.watch_mismatch': 'test/breakglass/scenario.ts (out-of-band password and group changes)',
};

describe('events covered by other suites', () => {
  it.each(Object.entries(COVERED_ELSEWHERE))('%s is asserted in the suite named for it', (type, where) => {
    const file = where.split(' ')[0] ?? '';
    expect(existsSync(file), `${file} (named for ${type}) does not exist`).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(type);
  });
});

describe.each(ENGINES)('audit event coverage on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let erin: Person;
  let started = new Date();
  const flows: Record<string, string> = {};
  const by = (token?: string) => ({ ...CLIENT, ...(token ? { token } : {}) });

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.rateLimits.messagesPerRecipient = { points: 4, windowSeconds: 3600 })] });
    started = h.clock.now();
    alice = await createPerson(h, 'alice');
    erin = await createPerson(h, 'erin');
    await createPerson(h, 'carl');
    await createAccount(h, { username: 'glass', groups: ['break-glass'] });
    const altEmail = 'alice.home@example.org';

    // Sign-in: a failure, then a success; enrolment with a wrong code, then right ones; a
    // replacement and a removal; a second sign-in through a gate; a sign-out.
    await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: 'not the password' }, by());
    const session = json<{ sessionToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password }, by())).sessionToken;
    const email = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: altEmail }, by(session)));
    await call(h, 'POST', `/api/me/methods/${email.enrollment.id}/verify`, { code: '00000000' }, by(session));
    await call(h, 'POST', `/api/me/methods/${email.enrollment.id}/verify`, { code: await latestCode(h, altEmail) }, by(session));
    const totp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, by(session)));
    await call(h, 'POST', `/api/me/methods/${totp.enrollment.id}/verify`, { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, by(session));
    await call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, by(session));
    await call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, by(session));
    const spare = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'alice.spare@example.org' }, by(session)));
    expect((await call(h, 'DELETE', `/api/me/methods/${spare.enrollment.id}`, undefined, by(session))).statusCode).toBe(204);
    const gate = json<{ flowToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: alice.password }, by())).flowToken;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, by(gate));
    const gated = json<{ sessionToken?: string }>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, altEmail) }, by(gate)));
    expect(gated.sessionToken).toBeDefined();
    expect((await call(h, 'POST', '/api/me/sign-out', {}, by(session))).statusCode).toBe(204);
    h.clock.advance(30);

    // An open flow the reset will supersede; then a reset with an exhausted code, a wrong code,
    // two gates, a weak password and success (which also ends the gated sign-in's session).
    flows['open'] = json<{ flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'alice@corp.test' }, by())).flow.flowId;
    const reset = json<{ flowToken: string; flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'alice' }, by()));
    flows['reset'] = reset.flow.flowId;
    let token = reset.flowToken;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, by(token));
    for (let attempt = 0; attempt < 5; attempt += 1) await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, by(token));
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, by(token));
    await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, by(token));
    token = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, altEmail) }, by(token))).flowToken ?? '';
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, by(token));
    token = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, by(token))).flowToken ?? '';
    await call(h, 'POST', '/api/recovery/flow/password', { password: 'Password1234567', confirmPassword: 'Password1234567' }, by(token));
    expect((await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, by(token))).statusCode).toBe(200);

    // Over the per-recipient message budget (4 an hour: the gate's code and the reset's two came
    // first), the second code of this flow is not sent.
    const flood = json<{ flowToken: string; flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'alice' }, by()));
    flows['flood'] = flood.flow.flowId;
    for (let attempt = 0; attempt < 2; attempt += 1) await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, by(flood.flowToken));

    // An unknown identifier, a break-glass account and an expired flow.
    flows['ghost'] = json<{ flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost' }, by())).flow.flowId;
    flows['glass'] = json<{ flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'glass' }, by())).flow.flowId;
    const expiring = json<{ flowToken: string; flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'erin' }, by()));
    flows['expired'] = expiring.flow.flowId;
    h.clock.advance(h.latchkey.deps.policy().tiers.standard.flowTtlSeconds + 1);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, by(expiring.flowToken))).statusCode).toBe(410);

    // erin registers an app and recovery codes, locks herself out, and unlocks through a flow.
    const erinSession = json<{ sessionToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: erin.password }, by())).sessionToken;
    const erinTotp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, by(erinSession)));
    await call(h, 'POST', `/api/me/methods/${erinTotp.enrollment.id}/verify`, { code: oathtoolCode(erinTotp.shownOnce.secret, h.clock) }, by(erinSession));
    const erinCodes = json<{ shownOnce: { codes: string[] } }>(await call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, by(erinSession))).shownOnce.codes;
    for (let attempt = 0; attempt < 5; attempt += 1) await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: 'not erin password' }, by());
    h.clock.advance(30);
    const unlock = json<{ flowToken: string; flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'erin', purpose: 'unlock' }, by()));
    flows['unlock'] = unlock.flow.flowId;
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, by(unlock.flowToken));
    const afterTotp = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(erinTotp.shownOnce.secret, h.clock) }, by(unlock.flowToken))).flowToken ?? '';
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, by(afterTotp));
    const granted = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: erinCodes[0] }, by(afterTotp))).flowToken ?? '';
    expect((await call(h, 'POST', '/api/recovery/flow/unlock', {}, by(granted))).statusCode).toBe(200);

    // Admin reads, a token's creation and revocation, delivery, and a delivery that fails.
    const admin = await adminToken(h);
    for (const url of ['/api/admin/audit?limit=5', '/api/admin/accounts', `/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, '/api/admin/outbox']) expect((await call(h, 'GET', url, undefined, by(admin))).statusCode).toBe(200);
    const revoked = await h.latchkey.adminTokens.create({ name: 'short-lived', scopes: ['audit:read'] }, { kind: 'cli', id: 'test' });
    expect(await h.latchkey.adminTokens.revoke(revoked.record.id, { kind: 'cli', id: 'test' })).toBe(true);
    await h.latchkey.worker.drain();
    const carl = json<{ sessionToken: string }>(await call(h, 'POST', '/api/me/sign-in', { username: 'carl', password: 'carl walks past seven quiet lanterns' }, by())).sessionToken;
    expect((await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'carl.home@example.org' }, by(carl))).statusCode).toBe(201);
    const failing: MessageChannel = { kind: 'email', name: 'failing-relay', send: () => Promise.reject(new Error('relay down')) };
    await new OutboxWorker({ store: h.latchkey.store, cipher: h.latchkey.deps.cipher, clock: h.clock, channels: { email: failing, sms: failing }, maxAttempts: 1, pollIntervalMs: 60_000 }).drain();
  });
  afterAll(async () => {
    await h.close();
  });

  const ofFlow = async (name: string) => (await auditEvents(h, { flowId: flows[name] as string })).map((event) => `${event.type}:${event.outcome}`);

  it('LOG-1 records each step of a reset with its outcome: choice, failures, exhaustion, gates, rejected and accepted password, completion', async () => {
    expect(await ofFlow('reset')).toEqual([
      'recovery.started:info',
      'recovery.method_chosen:info',
      'challenge.issued:info',
      'message.queued:info',
      'challenge.failed:failure',
      'challenge.failed:failure',
      'challenge.failed:failure',
      'challenge.failed:failure',
      'challenge.exhausted:failure',
      'recovery.method_chosen:info',
      'challenge.issued:info',
      'message.queued:info',
      'challenge.failed:failure',
      'challenge.passed:success',
      'recovery.method_chosen:info',
      'challenge.issued:info',
      'challenge.passed:success',
      'recovery.gates_satisfied:success',
      'password.rejected:failure',
      'grant.claimed:info',
      'password.reset:success',
      'recovery.completed:success',
      'session.ended:info',
      'message.queued:info',
      'message.queued:info',
    ]);
    expect(await ofFlow('open')).toEqual(['recovery.started:info', 'recovery.superseded:info']);
  });

  it('LOG-1 records rate limits, decoys, refusals, expiry, lockout and unlock', async () => {
    expect(await ofFlow('flood')).toEqual(['recovery.started:info', 'recovery.method_chosen:info', 'challenge.issued:info', 'message.queued:info', 'recovery.method_chosen:info', 'challenge.issued:info', 'recovery.rate_limited:failure']);
    const ghost = await auditEvents(h, { flowId: flows['ghost'] as string });
    expect(ghost.map((event) => [event.type, event.data['decoy'], event.subject])).toEqual([['recovery.started', true, null]]);
    expect(await ofFlow('glass')).toEqual(['recovery.started:info', 'recovery.refused:failure']);
    expect(await ofFlow('expired')).toEqual(['recovery.started:info', 'recovery.expired:failure']);
    expect((await ofFlow('unlock')).slice(-5)).toEqual(['grant.claimed:info', 'account.unlocked:success', 'recovery.completed:success', 'session.ended:info', 'message.queued:info']);
    const locked = await auditEvents(h, { types: ['account.locked'] });
    expect(locked.filter((event) => event.subject === erin.accountId).map((event) => event.outcome)).toEqual(['info']);
  });

  it('LOG-1 records sign-in, enrolment, removal and session termination, each with its outcome', async () => {
    const of = async (type: AuditEventType) => (await auditEvents(h, { types: [type] })).filter((event) => event.subject === alice.accountId).map((event) => `${event.outcome}:${event.reason ?? ''}:${String(event.data['method'] ?? event.data['reason'] ?? '')}`);
    expect(await of('sign_in.failed')).toEqual(['failure:auth.failed:']);
    expect(await of('sign_in.succeeded')).toEqual(['success::', 'success::']);
    expect(await of('enrollment.verification_failed')).toEqual(['failure:challenge.invalid:email_code']);
    expect(await of('enrollment.started')).toEqual(['info::email_code', 'info::totp', 'info::recovery_code', 'info::recovery_code', 'info::email_code']);
    expect(await of('enrollment.activated')).toEqual(['success::email_code', 'success::totp', 'success::recovery_code', 'success::recovery_code']);
    expect(await of('enrollment.removed')).toEqual(['success:replaced:recovery_code', 'success::email_code']);
    expect((await auditEvents(h, { types: ['recovery.started'] })).filter((event) => event.data['purpose'] === 'sign_in' && event.subject === alice.accountId)).toHaveLength(1);
    expect(await of('session.ended')).toEqual(['info::sign_out', 'info::recovery']);
  });

  it('LOG-1 records admin reads, token life cycle and message delivery, and the script reached every event type of the catalog', async () => {
    const all = await auditEvents(h);
    const seen = new Set(all.map((event) => event.type));
    const missing = (Object.keys(AUDIT_EVENT_TYPES) as AuditEventType[]).filter((type) => !seen.has(type) && !(type in COVERED_ELSEWHERE));
    expect(missing).toEqual([]);
    for (const type of ['admin.audit_queried', 'admin.accounts_queried', 'admin.outbox_queried'] as const) {
      expect(all.filter((event) => event.type === type).every((event) => event.actor.kind === 'admin_token' && event.ip === CLIENT.ip && event.outcome === 'success'), type).toBe(true);
    }
    const failed = all.filter((event) => event.type === 'message.failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((event) => event.outcome === 'failure' && event.data['via'] === 'failing-relay')).toBe(true);
  });

  it('LOG-2 gives every event from a request the socket address (not X-Forwarded-For), the user agent, a UTC time, an actor and, in a flow, its flow id', async () => {
    const fromRequests = (await auditEvents(h)).filter((event) => event.ip !== null && event.ip !== '127.0.0.1');
    expect(fromRequests.length).toBeGreaterThan(80);
    const finished = new Date(h.clock.now().getTime() + 1000);
    for (const event of fromRequests) {
      const label = `${event.seq} ${event.type}`;
      expect(event.ip, label).toBe('10.1.2.3');
      expect(event.userAgent, label).toBe('latchkey-audit-test/1.0');
      expect(event.at.toISOString(), label).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(event.at.getTime(), label).toBeGreaterThanOrEqual(started.getTime() - 1000);
      expect(event.at.getTime(), label).toBeLessThanOrEqual(finished.getTime());
      expect(['success', 'failure', 'info'], label).toContain(event.outcome);
      expect(['person', 'anonymous', 'admin_token'], label).toContain(event.actor.kind);
      if (event.actor.kind !== 'anonymous') expect(event.actor.id, label).toEqual(expect.any(String));
      if (event.type.startsWith('recovery.') || event.type.startsWith('challenge.') || event.type === 'grant.claimed' || event.type === 'password.reset') expect(event.flowId, label).toEqual(expect.any(String));
      if (event.actor.kind === 'person') expect(event.subject, label).toBe(event.actor.id);
    }
    expect(JSON.stringify(await auditEvents(h))).not.toContain('6.6.6.6');
  });

  it('LOG-2 serves every entry through the admin API in one documented shape, times in UTC', async () => {
    const token = await adminToken(h, ['audit:read']);
    const entry = z
      .object({
        seq: z.number().int().positive(),
        id: z.uuid(),
        at: z.iso.datetime({ offset: false }),
        type: z.enum(Object.keys(AUDIT_EVENT_TYPES) as [AuditEventType, ...AuditEventType[]]),
        actor: z.object({ kind: z.enum(['person', 'anonymous', 'admin_token', 'cli', 'system']), id: z.string().nullable() }).strict(),
        subject: z.string().nullable(),
        outcome: z.enum(['success', 'failure', 'info']),
        reason: z.string().nullable(),
        ip: z.string().nullable(),
        userAgent: z.string().nullable(),
        department: z.string().nullable(),
        tier: z.enum(['standard', 'privileged', 'break_glass']).nullable(),
        flowId: z.uuid().nullable(),
        data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
        prevHash: z.string().regex(/^[0-9a-f]{64}$/),
        hash: z.string().regex(/^[0-9a-f]{64}$/),
      })
      .strict();
    let after = 0;
    let count = 0;
    for (;;) {
      const page = json<{ events: AuditRecord[]; nextAfter: number | null }>(await call(h, 'GET', `/api/admin/audit?limit=200&after=${after}`, undefined, { token }));
      for (const event of page.events) {
        const parsed = entry.safeParse(event);
        expect(parsed.success, `${JSON.stringify(event)}: ${parsed.error?.message ?? ''}`).toBe(true);
      }
      count += page.events.length;
      if (page.nextAfter === null) break;
      after = page.nextAfter;
    }
    expect(count).toBeGreaterThan(100);
  });
});

describe.each(ENGINES)('client address behind a trusted proxy on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, env: { LATCHKEY_TRUSTED_PROXIES: '10.9.9.9' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('LOG-2 records the forwarded client only when the request came from the trusted proxy', async () => {
    const viaProxy = json<{ flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost' }, { ip: '10.9.9.9', headers: { 'x-forwarded-for': '203.0.113.7' } }));
    const direct = json<{ flow: { flowId: string } }>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost' }, { ip: '10.1.2.3', headers: { 'x-forwarded-for': '203.0.113.7' } }));
    expect((await auditEvents(h, { flowId: viaProxy.flow.flowId }))[0]?.ip).toBe('203.0.113.7');
    expect((await auditEvents(h, { flowId: direct.flow.flowId }))[0]?.ip).toBe('10.1.2.3');
  });
});
