import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { sessionPrincipal } from '../../src/core/admin/principal.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { ENGINES, allMessages, auditEvents, call, createPerson, json, roomyLimits, startFlow, startHarness, type Harness, type Person } from '../support/harness.ts';
import { normalisedReply } from '../security/support.ts';

/*
 * Honeytoken accounts through the HTTP API, on SQLite and PostgreSQL: a recovery start, a sign-in or
 * an admin lookup naming one is audited with the source address and raises exactly one
 * high-severity `honeytoken_touch` alert, while the caller's reply (and its timing envelope) is the
 * one any other account gets, and nothing is sent anywhere.
 */

const PROBER = '203.0.113.66';

describe.each(ENGINES)('honeytoken accounts on %s', (engine) => {
  let h: Harness;
  let trap: Person;
  let groupTrap: Person;
  let alice: Person;

  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [
        roomyLimits,
        (policy) => {
          policy.honeytokens = { usernames: ['svc-backup-admin', 'Ghost.Finance@corp.test'], groups: ['decoy-accounts'] };
        },
      ],
    });
    trap = await createPerson(h, 'svc-backup-admin', { groups: ['admins'], department: 'IT' });
    groupTrap = await createPerson(h, 'payroll-export', { groups: ['decoy-accounts'] });
    alice = await createPerson(h, 'alice');
  });
  afterAll(async () => {
    await h.close();
  });

  const touches = async (): Promise<AuditRecord[]> => auditEvents(h, { types: ['honeytoken.touched'] });
  const honeytokenAlerts = async () => (await h.latchkey.store.alerts.list({ limit: 500, detectorId: 'honeytoken_touch' })).sort((a, b) => a.firstSeenAt.getTime() - b.firstSeenAt.getTime());

  it('raises exactly one high alert with the source address for a reset start, and answers like a real account', async () => {
    const probed = await startFlow(h, 'svc-backup-admin', 'reset', { ip: PROBER });
    const real = await startFlow(h, alice.username, 'reset', { ip: '198.51.100.7' });
    expect(probed.response.statusCode).toBe(201);
    expect(normalisedReply(probed.response)).toEqual(normalisedReply(real.response));

    const [touch, ...more] = await touches();
    expect(more).toEqual([]);
    expect(touch).toMatchObject({ subject: trap.accountId, ip: PROBER, outcome: 'failure', reason: 'honeytoken', flowId: probed.body.flow.flowId, data: { via: 'recovery_start', purpose: 'reset' } });
    const [started] = await auditEvents(h, { types: ['recovery.started'], flowId: probed.body.flow.flowId });
    expect(started?.data['decoy']).toBe(true);

    await h.latchkey.detectors.worker.runOnce();
    await h.latchkey.detectors.worker.runOnce();
    const alerts = await h.latchkey.store.alerts.list({ limit: 500 });
    expect(alerts.filter((alert) => alert.detectorId === 'honeytoken_touch')).toHaveLength(1);
    expect(alerts.find((alert) => alert.detectorId === 'honeytoken_touch')).toMatchObject({ severity: 'high', ip: PROBER, subject: trap.accountId, occurrences: 1 });
    // The trap sits in a privileged group, but it is no privileged recovery: nothing else fires for its flow.
    expect(alerts.filter((alert) => alert.dedupeKey.endsWith(probed.body.flow.flowId))).toEqual([]);
  });

  it('goes on like any decoy: methods can be chosen, no code is ever sent, no gate ever passes', async () => {
    const sent = (await allMessages(h)).length;
    const { token } = await startFlow(h, 'svc-backup-admin@corp.test', 'reset', { ip: PROBER });
    const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token, ip: PROBER });
    expect(chosen.statusCode).toBe(200);
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: '12345678' }, { token, ip: PROBER });
    expect(answered.statusCode).toBe(422);
    expect(json(answered)['code']).toBe('challenge.invalid');
    expect((await allMessages(h)).length).toBe(sent);
    // The work e-mail spelling of the trap trips the wire too.
    expect((await touches()).map((touch) => touch.subject)).toEqual([trap.accountId, trap.accountId]);
  });

  it('trips on a listed name that has no account, on a group member and on an unlock', async () => {
    const ghost = await startFlow(h, 'ghost.finance@CORP.test', 'reset', { ip: PROBER });
    const unknown = await startFlow(h, 'nobody-at-all', 'reset', { ip: PROBER });
    expect(normalisedReply(ghost.response)).toEqual(normalisedReply(unknown.response));
    await startFlow(h, 'payroll-export', 'unlock', { ip: PROBER });
    const recent = (await touches()).slice(-2);
    expect(recent.map((touch) => [touch.subject, touch.data['via'], touch.data['purpose'], touch.ip])).toEqual([
      [null, 'recovery_start', 'reset', PROBER],
      [groupTrap.accountId, 'recovery_start', 'unlock', PROBER],
    ]);
  });

  it('refuses a sign-in with the right password exactly like a wrong one, and trips the wire', async () => {
    const right = await call(h, 'POST', '/api/me/sign-in', { username: trap.username, password: trap.password }, { ip: PROBER });
    const wrong = await call(h, 'POST', '/api/me/sign-in', { username: alice.username, password: 'not the password at all' }, { ip: PROBER });
    expect(normalisedReply(right)).toEqual(normalisedReply(wrong));
    expect(right.statusCode).toBe(401);
    const last = (await touches()).at(-1);
    expect(last).toMatchObject({ subject: trap.accountId, ip: PROBER, data: { via: 'sign_in' } });
  });

  it('trips on an admin API lookup of the account by a token holder', async () => {
    const { token } = await h.latchkey.adminTokens.create({ name: 'helpdesk tool', scopes: ['accounts:read'] }, { kind: 'cli', id: 'test' });
    const looked = await call(h, 'GET', `/api/admin/accounts/${encodeURIComponent(trap.accountId)}`, undefined, { token, ip: '192.0.2.44' });
    expect(looked.statusCode, looked.body).toBe(200);
    const normal = await call(h, 'GET', `/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, undefined, { token, ip: '192.0.2.44' });
    expect(normal.statusCode).toBe(200);
    // A security admin, who maintains the tripwires, may look without tripping one.
    const securityAdmin = sessionPrincipal({ sessionId: 'console', accountId: asAccountId(alice.accountId), username: 'alice', roles: new Set(['security_admin']) });
    await h.latchkey.adminQueries.account({ principal: securityAdmin, ip: '192.0.2.45', userAgent: null }, trap.accountId);
    const adminTouches = (await touches()).filter((touch) => touch.data['via'] === 'admin_lookup');
    expect(adminTouches.map((touch) => [touch.subject, touch.ip, touch.actor.kind])).toEqual([[trap.accountId, '192.0.2.44', 'admin_token']]);

    await h.latchkey.detectors.worker.runOnce();
    const alerts = await honeytokenAlerts();
    // One alert per touch so far: reset start, e-mail spelling, listed name, group unlock, sign-in, admin lookup.
    expect(alerts.map((alert) => [alert.severity, alert.ip])).toEqual([
      ['high', PROBER],
      ['high', PROBER],
      ['high', PROBER],
      ['high', PROBER],
      ['high', PROBER],
      ['high', '192.0.2.44'],
    ]);
  });

  it('trips on an admin accounts listing that shows a honeytoken, once per honeytoken shown, and answers with the listing as usual', async () => {
    const { token } = await h.latchkey.adminTokens.create({ name: 'sweeper', scopes: ['accounts:read'] }, { kind: 'cli', id: 'test' });
    const before = (await touches()).length;
    const clean = await call(h, 'GET', `/api/admin/accounts?query=${encodeURIComponent(alice.username)}`, undefined, { token, ip: '192.0.2.55' });
    expect(json<{ accounts: { username: string }[] }>(clean).accounts.map((account) => account.username)).toEqual([alice.username]);
    expect((await touches()).length).toBe(before);

    const swept = await call(h, 'GET', '/api/admin/accounts?limit=500', undefined, { token, ip: '192.0.2.55' });
    expect(swept.statusCode, swept.body).toBe(200);
    expect(json<{ accounts: { username: string }[] }>(swept).accounts.map((account) => account.username)).toEqual(expect.arrayContaining([trap.username, groupTrap.username, alice.username]));
    const listed = (await touches()).slice(before);
    expect(listed.map((touch) => [touch.subject, touch.ip, touch.actor.kind, touch.data['via'], touch.data['listing']]).sort()).toEqual(
      [
        [trap.accountId, '192.0.2.55', 'admin_token', 'admin_lookup', true],
        [groupTrap.accountId, '192.0.2.55', 'admin_token', 'admin_lookup', true],
      ].sort(),
    );

    // A security admin's listing shows the same accounts and trips nothing.
    const securityAdmin = sessionPrincipal({ sessionId: 'console', accountId: asAccountId(alice.accountId), username: 'alice', roles: new Set(['security_admin']) });
    const shown = await h.latchkey.adminQueries.accounts({ principal: securityAdmin, ip: '192.0.2.56', userAgent: null }, { limit: 500 });
    expect(shown.map((account) => account.username)).toEqual(expect.arrayContaining([trap.username, groupTrap.username]));
    expect((await touches()).length).toBe(before + 2);
  });

  it('answers a honeytoken start within the same timing envelope as a real account', async () => {
    const elapsed = async (identifier: string): Promise<number> => {
      const started = performance.now();
      const response = await call(h, 'POST', '/api/recovery/flows', { identifier, purpose: 'reset' }, { ip: '198.51.100.99' });
      expect(response.statusCode).toBe(201);
      return performance.now() - started;
    };
    const trapTimes: number[] = [];
    const realTimes: number[] = [];
    for (let i = 0; i < 15; i += 1) {
      trapTimes.push(await elapsed('svc-backup-admin'));
      realTimes.push(await elapsed(alice.username));
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const floor = h.latchkey.config.startResponseFloorMs;
    expect(median(trapTimes)).toBeGreaterThanOrEqual(floor);
    expect(median(realTimes)).toBeGreaterThanOrEqual(floor);
    // Both are held to the start floor; the alert is raised off the request path, so it adds nothing.
    expect(Math.abs(median(trapTimes) - median(realTimes))).toBeLessThan(15);
  });
});
