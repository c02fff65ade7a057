import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { MAX_SECOND_FACTOR_ATTEMPTS } from '../../src/core/admin/admin-sessions.ts';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, expectProblem, json, registerTotp, messagesTo, oathtoolCode, roomyLimits, signInFresh, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';

/*
 * Admin identity over the real API: directory accounts with roles from policy adminRoles sign in
 * with password and a real TOTP code (computed by oathtool), and every admin route asks the
 * principal's permissions. Runs on SQLite and, when configured, PostgreSQL.
 */

const ROLE_GROUPS = { security_admin: ['sec-admins'], helpdesk: ['helpdesk'], auditor: ['auditors'] };

/** Registers only an authenticator app (fresh account, so the password alone opens the self-service session). */
async function enrolTotp(h: Harness, person: Person): Promise<string> {
  return registerTotp(h, await signInFresh(h, person));
}

interface SignedIn {
  readonly sessionToken: string;
  readonly csrfToken: string;
  readonly cookie: string;
  readonly setCookie: string;
  readonly body: { admin: { roles: string[]; permissions: string[]; accountId: string } };
}

describe.each(ENGINES)('admin identity on %s', (engine) => {
  let h: Harness;
  let sec: Person;
  let hd: Person;
  let aud: Person;
  let plain: Person;
  let alice: Person;
  let root: Person;
  let seeds: Map<string, string>;
  let aliceMethods: Enrolled;

  /** Moves the clock to a fresh TOTP step: every step can be used once per enrollment (TOK-14). */
  const nextStep = (): void => h.clock.advance(30);

  const passwordStep = (person: Person, password = person.password) => call(h, 'POST', '/api/admin/session', { username: person.username, password });

  async function signIn(person: Person): Promise<SignedIn> {
    nextStep();
    const pending = await passwordStep(person);
    expect(pending.statusCode, pending.body).toBe(202);
    const { pendingToken } = json<{ pendingToken: string }>(pending);
    const done = await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken, code: oathtoolCode(seeds.get(person.username) ?? '', h.clock) });
    expect(done.statusCode, done.body).toBe(200);
    const body = json<SignedIn['body'] & { sessionToken: string; csrfToken: string }>(done);
    const setCookie = String(done.headers['set-cookie']);
    return { sessionToken: body.sessionToken, csrfToken: body.csrfToken, cookie: setCookie.split(';')[0] ?? '', setCookie, body };
  }

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.adminRoles = ROLE_GROUPS)] });
    sec = await createPerson(h, 'sec.admin', { groups: ['sec-admins'] });
    hd = await createPerson(h, 'hd.one', { groups: ['CN=Helpdesk,OU=Groups,DC=corp,DC=test'] });
    aud = await createPerson(h, 'aud.one', { groups: ['auditors'] });
    plain = await createPerson(h, 'plain.person');
    alice = await createPerson(h, 'alice');
    root = await createPerson(h, 'root.admin', { groups: ['admins'] });
    seeds = new Map();
    for (const person of [sec, hd, aud, plain, root]) seeds.set(person.username, await enrolTotp(h, person));
    aliceMethods = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => {
    await h.close();
  });

  describe('sign-in', () => {
    it('signs an admin in with password and a real TOTP code, sets a strict HttpOnly cookie and audits admin.signed_in', async () => {
      const signed = await signIn(sec);
      expect(signed.sessionToken).toMatch(/^lk_as_[A-Za-z0-9_-]{43}$/);
      expect(signed.setCookie).toMatch(/^lk_admin=lk_as_/);
      expect(signed.setCookie).toContain('HttpOnly');
      expect(signed.setCookie).toContain('SameSite=Strict');
      expect(signed.setCookie).toContain('Path=/');
      // Plain http in this test: Secure would stop the browser sending it back (it is set under TLS).
      expect(signed.setCookie).not.toContain('Secure');
      expect(signed.body.admin.roles).toEqual(['security_admin']);
      expect(signed.body.admin.permissions).toContain('policy:write');
      const events = await auditEvents(h, { types: ['admin.signed_in'] });
      const last = events[events.length - 1];
      expect(last).toMatchObject({ actor: { kind: 'admin', id: sec.accountId }, subject: sec.accountId, outcome: 'success', data: { roles: 'security_admin', second_factor: 'totp' } });
      // The token is stored only as a keyed hash.
      const rows = await kyselyOf(h.latchkey.store).selectFrom('admin_sessions').selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(signed.sessionToken);
    });

    it('answers an unknown account, a wrong password and a non-admin’s right password with the same 401', async () => {
      const bodies: unknown[] = [];
      for (const response of [await passwordStep(sec, 'not the password at all, clearly'), await call(h, 'POST', '/api/admin/session', { username: 'nobody.here', password: 'whatever it is, it is wrong' }), await passwordStep(plain)]) {
        const body = expectProblem(response, 401, 'auth.failed');
        bodies.push(body);
      }
      expect(bodies[1]).toEqual(bodies[0]);
      expect(bodies[2]).toEqual(bodies[0]);
      const failed = (await auditEvents(h, { types: ['admin.sign_in_failed'] })).slice(-3);
      expect(failed.map((event) => event.reason)).toEqual(['auth.failed', 'auth.failed', 'auth.failed']);
      expect(failed[2]).toMatchObject({ actor: { kind: 'person', id: plain.accountId } });
    });

    it('refuses an admin with no authenticator app and tells them to register one in the portal', async () => {
      const bare = await createPerson(h, 'sec.bare', { groups: ['sec-admins'] });
      const body = expectProblem(await passwordStep(bare), 403, 'auth.second_factor_missing');
      expect(String(body['detail'])).toMatch(/register one/);
      expect((await auditEvents(h, { types: ['admin.sign_in_failed'] })).at(-1)).toMatchObject({ reason: 'auth.second_factor_missing', subject: bare.accountId });
    });

    it('refuses a wrong code, a replayed code and, after five wrong codes, the pending sign-in itself', async () => {
      nextStep();
      const { pendingToken } = json<{ pendingToken: string }>(await passwordStep(hd));
      const wrong = (code: string) => call(h, 'POST', '/api/admin/session/second-factor', { pendingToken, code });
      const good = oathtoolCode(seeds.get(hd.username) ?? '', h.clock);
      const bad = good === '000000' ? '111111' : '000000';
      expect(expectProblem(await wrong(bad), 422, 'challenge.invalid')).toMatchObject({ attemptsLeft: MAX_SECOND_FACTOR_ATTEMPTS - 1 });
      // The pending token is not a session.
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: pendingToken }), 401, 'auth.required');
      for (let attempt = 2; attempt < MAX_SECOND_FACTOR_ATTEMPTS; attempt += 1) expectProblem(await wrong(bad), 422, 'challenge.invalid');
      expectProblem(await wrong(bad), 401, 'auth.required');
      // Gone: even the right code no longer opens it.
      expectProblem(await wrong(good), 401, 'auth.required');
      const reasons = (await auditEvents(h, { types: ['admin.sign_in_failed'] })).slice(-MAX_SECOND_FACTOR_ATTEMPTS).map((event) => event.reason);
      expect(reasons).toEqual([...Array<string>(MAX_SECOND_FACTOR_ATTEMPTS - 1).fill('challenge.invalid'), 'challenge.exhausted']);

      // A code that signed in once cannot sign in again in the same step.
      nextStep();
      const first = json<{ pendingToken: string }>(await passwordStep(hd));
      const second = json<{ pendingToken: string }>(await passwordStep(hd));
      const code = oathtoolCode(seeds.get(hd.username) ?? '', h.clock);
      expect((await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: first.pendingToken, code })).statusCode).toBe(200);
      expectProblem(await call(h, 'POST', '/api/admin/session/second-factor', { pendingToken: second.pendingToken, code }), 422, 'challenge.invalid');
    });

    it('rate-limits the password step like the self-service sign-in', async () => {
      const strict = await startHarness({ engine, policy: [roomyLimits, (policy) => void ((policy.adminRoles = ROLE_GROUPS), (policy.rateLimits.perIdentifier = { points: 2, windowSeconds: 60 }))] });
      try {
        const person = await createPerson(strict, 'sec.limited', { groups: ['sec-admins'] });
        const attempt = () => call(strict, 'POST', '/api/admin/session', { username: person.username, password: 'a wrong password, again and again' });
        expectProblem(await attempt(), 401, 'auth.failed');
        expectProblem(await attempt(), 401, 'auth.failed');
        expectProblem(await attempt(), 429, 'rate.limited');
        expect((await auditEvents(strict, { types: ['admin.sign_in_failed'] })).at(-1)).toMatchObject({ reason: 'rate.limited' });
      } finally {
        await strict.close();
      }
    });
  });

  describe('sessions', () => {
    it('accepts the session as a bearer token without CSRF, and as a cookie only with the CSRF header for changes', async () => {
      const signed = await signIn(sec);
      const who = json<{ admin: { username: string }; csrfToken: string }>(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }));
      expect(who).toMatchObject({ admin: { username: sec.username }, csrfToken: signed.csrfToken });
      expect(json<{ csrfToken: string }>(await call(h, 'GET', '/api/admin/session', undefined, { headers: { cookie: signed.cookie } })).csrfToken).toBe(signed.csrfToken);

      const unlock = (headers: Record<string, string>) => call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(alice.accountId)}/unlock`, { reason: 'caller verified by phone' }, { headers });
      expectProblem(await unlock({ cookie: signed.cookie }), 403, 'auth.forbidden');
      expectProblem(await unlock({ cookie: signed.cookie, 'x-csrf-token': 'forged' }), 403, 'auth.forbidden');
      expectProblem(await unlock({ cookie: signed.cookie, 'x-csrf-token': signed.csrfToken, 'sec-fetch-site': 'cross-site' }), 403, 'auth.forbidden');
      expect((await unlock({ cookie: signed.cookie, 'x-csrf-token': signed.csrfToken, 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
      expect((await unlock({ authorization: `Bearer ${signed.sessionToken}` })).statusCode).toBe(200);
    });

    it('ends a session after 15 idle minutes', async () => {
      const signed = await signIn(aud);
      h.clock.advance(14 * 60);
      expect((await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken })).statusCode).toBe(200);
      h.clock.advance(15 * 60);
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }), 401, 'auth.required');
    });

    it('ends a session 8 hours after sign-in however busy it is', async () => {
      const signed = await signIn(aud);
      for (let minutes = 10; minutes < 8 * 60; minutes += 10) {
        h.clock.advance(10 * 60);
        expect((await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken })).statusCode).toBe(200);
      }
      h.clock.advance(10 * 60);
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }), 401, 'auth.required');
    });

    it('ends the session within five minutes of the account leaving its admin group, and audits why', async () => {
      const leaver = await createPerson(h, 'sec.leaver', { groups: ['sec-admins'] });
      seeds.set(leaver.username, await enrolTotp(h, leaver));
      const signed = await signIn(leaver);
      const db = kyselyOf(h.latchkey.store);
      await db.updateTable('builtin_accounts').set({ groups: JSON.stringify(['staff']) }).where('id', '=', asAccountId(leaver.accountId)).execute();
      h.clock.advance(60);
      // Still inside the recheck interval: the roles read at sign-in stand.
      expect((await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken })).statusCode).toBe(200);
      h.clock.advance(5 * 60);
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }), 401, 'auth.required');
      expect((await auditEvents(h, { types: ['admin.signed_out'] })).at(-1)).toMatchObject({ subject: leaver.accountId, data: { reason: 'roles_removed' } });
      // And the password step now answers as for anyone else.
      expectProblem(await passwordStep(leaver), 401, 'auth.failed');
    });

    it('ends the session of an account the directory disabled, and audits why', async () => {
      const disabled = await createPerson(h, 'aud.disabled', { groups: ['auditors'] });
      seeds.set(disabled.username, await enrolTotp(h, disabled));
      const signed = await signIn(disabled);
      await h.latchkey.store.builtinAccounts.setEnabled(asAccountId(disabled.accountId), false);
      h.clock.advance(5 * 60);
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }), 401, 'auth.required');
      expect((await auditEvents(h, { types: ['admin.signed_out'] })).at(-1)).toMatchObject({ subject: disabled.accountId, data: { reason: 'account_disabled' } });
    });

    it('names the cookie __Host-lk_admin and marks it Secure when the portal is served over TLS', async () => {
      const tls = await startHarness({ engine, policy: [roomyLimits, (policy) => void (policy.adminRoles = ROLE_GROUPS)], env: { LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test' } });
      try {
        const person = await createPerson(tls, 'sec.tls', { groups: ['sec-admins'] });
        const seed = await enrolTotp(tls, person);
        tls.clock.advance(30);
        const { pendingToken } = json<{ pendingToken: string }>(await call(tls, 'POST', '/api/admin/session', { username: person.username, password: person.password }));
        const done = await call(tls, 'POST', '/api/admin/session/second-factor', { pendingToken, code: oathtoolCode(seed, tls.clock) });
        expect(done.statusCode, done.body).toBe(200);
        const cookie = String(done.headers['set-cookie']);
        expect(cookie).toMatch(/^__Host-lk_admin=lk_as_/);
        expect(cookie).toContain('Secure');
        expect(cookie).toContain('HttpOnly');
        expect(cookie).toContain('SameSite=Strict');
      } finally {
        await tls.close();
      }
    });

    it('signs out (cookie sessions with their CSRF token), clears the cookie and audits admin.signed_out', async () => {
      const signed = await signIn(hd);
      expectProblem(await call(h, 'DELETE', '/api/admin/session', undefined, { headers: { cookie: signed.cookie } }), 403, 'auth.forbidden');
      const out = await call(h, 'DELETE', '/api/admin/session', undefined, { headers: { cookie: signed.cookie, 'x-csrf-token': signed.csrfToken } });
      expect(out.statusCode).toBe(204);
      expect(String(out.headers['set-cookie'])).toMatch(/^lk_admin=;.*Max-Age=0/);
      expectProblem(await call(h, 'GET', '/api/admin/session', undefined, { token: signed.sessionToken }), 401, 'auth.required');
      expect((await auditEvents(h, { types: ['admin.signed_out'] })).at(-1)).toMatchObject({ actor: { kind: 'admin', id: hd.accountId }, data: { reason: 'sign_out' } });
    });
  });

  describe('store', () => {
    it('activates a pending session for exactly one of many concurrent callers, and counts every failure', async () => {
      const now = h.clock.now();
      const id = `race-${engine}`;
      await h.latchkey.store.adminSessions.insert({ id, tokenHash: `pending-${engine}`, accountId: asAccountId(sec.accountId), username: sec.username, stage: 'awaiting_second_factor', roles: ['security_admin'], failedAttempts: 0, createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + 300_000), rolesCheckedAt: now });
      const failures = await Promise.all(Array.from({ length: 10 }, () => h.latchkey.store.adminSessions.recordFailure(id)));
      expect([...failures].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const wins = await Promise.all(Array.from({ length: 20 }, (_, index) => h.latchkey.store.adminSessions.activate(id, `active-${engine}-${index}`, ['security_admin'], now, new Date(now.getTime() + 3_600_000))));
      expect(wins.filter(Boolean)).toHaveLength(1);
      const winner = wins.indexOf(true);
      expect((await h.latchkey.store.adminSessions.findByTokenHash(`active-${engine}-${winner}`))?.stage).toBe('active');
      expect(await h.latchkey.store.adminSessions.findByTokenHash(`pending-${engine}`)).toBeNull();
      expect(await h.latchkey.store.adminSessions.delete(id)).toBe(true);
      expect(await h.latchkey.store.adminSessions.recordFailure(id)).toBe(0);
    });
  });

  describe('roles on the admin API', () => {
    it('lets helpdesk view, unlock and revoke on a standard account, with the admin as actor and the reason audited', async () => {
      const { sessionToken } = await signIn(hd);
      const id = encodeURIComponent(alice.accountId);
      for (let attempt = 0; attempt < h.latchkey.deps.policy().signIn.lockoutThreshold; attempt += 1) await call(h, 'POST', '/api/me/sign-in', { username: alice.username, password: 'not alice’s password, sorry' });
      const before = json<{ account: { locked: boolean; enrollments: { id: string; method: string; label: string }[]; recentEvents: { type: string }[]; adminRoles: string[] } }>(await call(h, 'GET', `/api/admin/accounts/${id}`, undefined, { token: sessionToken }));
      expect(before.account.locked).toBe(true);
      expect(before.account.adminRoles).toEqual([]);
      expect(before.account.recentEvents.map((event) => event.type)).toContain('account.locked');
      expect(JSON.stringify(before.account.enrollments)).not.toContain(aliceMethods.altEmail);

      expect(json(await call(h, 'POST', `/api/admin/accounts/${id}/unlock`, { reason: 'caller verified by video' }, { token: sessionToken }))).toMatchObject({ unlocked: true, wasLocked: true });
      expect((await h.latchkey.deps.directory.readLockState(asAccountId(alice.accountId))).locked).toBe(false);
      expect((await auditEvents(h, { types: ['account.unlocked'] })).at(-1)).toMatchObject({ actor: { kind: 'admin', id: hd.accountId }, subject: alice.accountId, reason: 'admin.action', data: { reason_text: 'caller verified by video', was_locked: true } });

      expectProblem(await call(h, 'POST', `/api/admin/accounts/${id}/unlock`, { reason: '   ' }, { token: sessionToken }), 400, 'request.invalid');
      // PRIV-2: no admin route takes a password, not even smuggled into a known body (mass assignment).
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${id}/unlock`, { reason: 'and set this', password: 'chosen by the helpdesk 123' }, { token: sessionToken }), 400, 'request.invalid');

      const email = before.account.enrollments.find((enrollment) => enrollment.method === 'email_code');
      expect(email).toBeDefined();
      const revoked = await call(h, 'POST', `/api/admin/accounts/${id}/methods/${email?.id ?? ''}/revoke`, { reason: 'reported lost mailbox' }, { token: sessionToken });
      expect(revoked.statusCode, revoked.body).toBe(204);
      expect((await h.latchkey.store.enrollments.listForAccount(asAccountId(alice.accountId))).map((enrollment) => enrollment.methodId)).not.toContain('email_code');
      expect((await auditEvents(h, { types: ['enrollment.removed'] })).at(-1)).toMatchObject({ actor: { kind: 'admin', id: hd.accountId }, reason: 'admin.revoked', data: { method: 'email_code', reason_text: 'reported lost mailbox' } });
      // The removed address hears about it (SESS-4).
      expect((await messagesTo(h, aliceMethods.altEmail)).at(-1)?.subject).toMatch(/removed/);
    });

    it('refuses helpdesk on privileged accounts and on its own, and audits each refusal', async () => {
      const { sessionToken } = await signIn(hd);
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(root.accountId)}/unlock`, { reason: 'asked nicely' }, { token: sessionToken }), 403, 'auth.forbidden');
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(sec.accountId)}/unlock`, { reason: 'asked nicely' }, { token: sessionToken }), 403, 'auth.forbidden');
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(hd.accountId)}/unlock`, { reason: 'myself' }, { token: sessionToken }), 403, 'auth.forbidden');
      const denied = (await auditEvents(h, { types: ['admin.access_denied'] })).slice(-3);
      expect(denied.map((event) => event.data['refusal'])).toEqual(['target_privileged', 'target_privileged', 'own_account']);
      expect(denied.every((event) => event.actor.kind === 'admin' && event.actor.id === hd.accountId)).toBe(true);
      // A security admin may act on the privileged account.
      const admin = await signIn(sec);
      expect((await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(root.accountId)}/unlock`, { reason: 'verified in person' }, { token: admin.sessionToken })).statusCode).toBe(200);
    });

    it('keeps helpdesk out of the audit log, alert handling and policy, with 403s audited as admin.access_denied', async () => {
      const { sessionToken } = await signIn(hd);
      const alertId = '00000000-0000-4000-8000-000000000000';
      expectProblem(await call(h, 'GET', '/api/admin/audit', undefined, { token: sessionToken }), 403, 'auth.forbidden');
      expectProblem(await call(h, 'POST', `/api/admin/alerts/${alertId}/resolve`, { reason: 'nothing to see' }, { token: sessionToken }), 403, 'auth.forbidden');
      expect((await call(h, 'GET', '/api/admin/alerts', undefined, { token: sessionToken })).statusCode).toBe(200);
      const current = h.latchkey.deps.policy();
      const weakened = JSON.stringify({ ...current, tiers: { ...current.tiers, standard: { ...current.tiers.standard, gatesRequired: 1 } } });
      const policyWrite = await h.app.inject({ method: 'PUT', url: '/api/admin/policy', headers: { authorization: `Bearer ${sessionToken}`, 'content-type': 'application/json' }, payload: { text: weakened, reason: 'fewer calls for us', force: true } });
      expectProblem(policyWrite, 403, 'auth.forbidden');
      expect(h.latchkey.deps.policy().tiers.standard.gatesRequired).toBe(current.tiers.standard.gatesRequired);
      const denied = (await auditEvents(h, { types: ['admin.access_denied'] })).filter((event) => event.actor.id === hd.accountId);
      expect(denied.map((event) => event.data['permission'])).toEqual(expect.arrayContaining(['audit:read', 'alerts:write', 'policy:write']));
      expect(denied.find((event) => event.data['permission'] === 'alerts:write')).toMatchObject({ reason: 'auth.forbidden', data: { method: 'POST', route: '/api/admin/alerts/:id/resolve' } });
    });

    it('refuses an auditor every admin route that changes state, read from the route table, and lets it read', async () => {
      const { sessionToken } = await signIn(aud);
      const spec = (await h.app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
      const signInRoutes = new Set(['POST /api/admin/session', 'POST /api/admin/session/passkey', 'POST /api/admin/session/second-factor', 'DELETE /api/admin/session']);
      const writes: { method: string; url: string }[] = [];
      for (const [path, operations] of Object.entries(spec.paths)) {
        if (!path.startsWith('/api/admin/')) continue;
        for (const method of Object.keys(operations).map((name) => name.toUpperCase())) {
          if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || signInRoutes.has(`${method} ${path}`)) continue;
          writes.push({ method, url: path.replace(/\{([^}]+)\}/g, (_match, name: string) => (name.toLowerCase().includes('id') ? '00000000-0000-4000-8000-000000000000' : '1')) });
        }
      }
      expect(writes.map((route) => `${route.method} ${route.url.split('/').slice(0, 4).join('/')}`)).toEqual(expect.arrayContaining(['POST /api/admin/accounts', 'POST /api/admin/alerts']));
      for (const route of writes) {
        const response = await h.app.inject({ method: route.method as 'POST', url: route.url, headers: { authorization: `Bearer ${sessionToken}`, 'content-type': 'application/json' }, payload: '{}' });
        expect(response.statusCode, `${route.method} ${route.url}: ${response.body}`).toBe(403);
        expect(response.json<{ code: string }>().code).toBe('auth.forbidden');
      }
      for (const url of ['/api/admin/audit', '/api/admin/accounts', '/api/admin/alerts', '/api/admin/outbox', '/api/admin/session']) {
        expect((await call(h, 'GET', url, undefined, { token: sessionToken })).statusCode, url).toBe(200);
      }
    });

    it('reads the audit log as a security admin and records the read with the admin as actor', async () => {
      const { sessionToken } = await signIn(sec);
      const page = json<{ events: { type: string }[] }>(await call(h, 'GET', '/api/admin/audit?type=admin.signed_in', undefined, { token: sessionToken }));
      expect(page.events.length).toBeGreaterThan(0);
      expect((await auditEvents(h, { types: ['admin.audit_queried'] })).at(-1)).toMatchObject({ actor: { kind: 'admin', id: sec.accountId } });
    });

    it('treats an API token as a principal with its scopes as permissions and audits its 403', async () => {
      const { token, record } = await h.latchkey.adminTokens.create({ name: 'alerts', scopes: ['alerts:read', 'alerts:write'] }, { kind: 'cli', id: 'test' });
      expect((await call(h, 'GET', '/api/admin/alerts', undefined, { token })).statusCode).toBe(200);
      // An empty body: the permission is checked before the schema, so the answer is 403, not 400.
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(alice.accountId)}/unlock`, {}, { token }), 403, 'auth.forbidden');
      expect((await auditEvents(h, { types: ['admin.access_denied'] })).at(-1)).toMatchObject({ actor: { kind: 'admin_token', id: record.id }, data: { permission: 'accounts:write', route: '/api/admin/accounts/:id/unlock' } });
      // A read-only token meets the read-only gate on every state-changing route.
      const reader = await h.latchkey.adminTokens.create({ name: 'reader', scopes: ['alerts:read'] }, { kind: 'cli', id: 'test' });
      expectProblem(await call(h, 'POST', `/api/admin/accounts/${encodeURIComponent(alice.accountId)}/unlock`, {}, { token: reader.token }), 403, 'auth.forbidden');
      expect((await auditEvents(h, { types: ['admin.access_denied'] })).at(-1)).toMatchObject({ actor: { kind: 'admin_token', id: reader.record.id }, data: { permission: 'a write permission' } });
    });
  });
});
