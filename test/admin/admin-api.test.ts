import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/core/audit/chain.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import type { AdminScope } from '../../src/core/ports/store.ts';
import type { OutboxEntry } from '../../src/core/app/admin-queries.ts';
import { ENGINES, allMessages, auditEvents, call, createPerson, enrolEmailAndTotp, expectProblem, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';

const ALL_SCOPES: AdminScope[] = ['accounts:read', 'audit:read', 'outbox:read'];
const ENDPOINTS: { url: string; scope: AdminScope }[] = [
  { url: '/api/admin/accounts', scope: 'accounts:read' },
  { url: '/api/admin/accounts/builtin:00000000-0000-4000-8000-000000000000', scope: 'accounts:read' },
  { url: '/api/admin/audit', scope: 'audit:read' },
  { url: '/api/admin/outbox', scope: 'outbox:read' },
];

interface AuditPage {
  events: AuditRecord[];
  nextAfter: number | null;
}

interface AccountDetail {
  id: string;
  username: string;
  tier: string;
  locked: boolean;
  lockedSince: string | null;
  enrollments: { id: string; method: string; status: string; label: string; createdAt: string; lastUsedAt: string | null }[];
}

describe.each(ENGINES)('admin API on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let aliceMethods: Enrolled;
  let admin: Person;
  let full: string;
  let fullId: string;

  const token = async (scopes: AdminScope[], ttlDays?: number): Promise<{ token: string; id: string }> => {
    const created = await h.latchkey.adminTokens.create({ name: `test ${scopes.join(' ')}`, scopes, ...(ttlDays ? { ttlDays } : {}) }, { kind: 'cli', id: 'test' });
    return { token: created.token, id: created.record.id };
  };
  const get = (url: string, bearer: string, options: { ip?: string; headers?: Record<string, string> } = {}): Promise<LightMyRequestResponse> => call(h, 'GET', url, undefined, { token: bearer, ...options });
  const audit = async (query: string, bearer = full): Promise<AuditPage> => {
    const response = await get(`/api/admin/audit?${query}`, bearer);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<AuditPage>();
  };

  beforeAll(async () => {
    h = await startHarness({ engine });
    alice = await createPerson(h, 'alice');
    aliceMethods = await enrolEmailAndTotp(h, alice, { recoveryCodes: true });
    admin = await createPerson(h, 'root.admin', { groups: ['admins'], department: 'IT' });
    await createPerson(h, 'bruno', { department: 'Sales' });
    ({ token: full, id: fullId } = await token(ALL_SCOPES));
  });
  afterAll(async () => {
    await h.close();
  });

  describe('tokens', () => {
    it('refuses every admin endpoint without a token, or with a malformed one, with 401 auth.required', async () => {
      for (const { url } of ENDPOINTS) {
        expectProblem(await call(h, 'GET', url), 401, 'auth.required');
        expectProblem(await call(h, 'GET', url, undefined, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } }), 401, 'auth.required');
        expectProblem(await get(url, 'not-a-latchkey-token'), 401, 'auth.required');
        expectProblem(await call(h, 'GET', url, undefined, { headers: { authorization: full } }), 401, 'auth.required');
      }
    });

    it('refuses a well-formed token that was never issued with 401', async () => {
      const forged = `lk_admin_${Buffer.alloc(32, 7).toString('base64url')}`;
      for (const { url } of ENDPOINTS) expectProblem(await get(url, forged), 401, 'auth.required');
    });

    it('refuses a token once it is revoked', async () => {
      const { token: bearer, id } = await token(ALL_SCOPES);
      expect((await get('/api/admin/audit?limit=1', bearer)).statusCode).toBe(200);

      expect(await h.latchkey.adminTokens.revoke(id, { kind: 'cli', id: 'test' })).toBe(true);

      for (const { url } of ENDPOINTS) expectProblem(await get(url, bearer), 401, 'auth.required');
      const revoked = (await auditEvents(h, { types: ['admin_token.revoked'] })).filter((event) => event.data['token_id'] === id);
      expect(revoked).toHaveLength(1);
    });

    it('refuses a token once it has expired, by the server clock', async () => {
      const { token: bearer } = await token(['audit:read'], 1);
      expect((await get('/api/admin/audit?limit=1', bearer)).statusCode).toBe(200);

      h.clock.advance(86_400 + 1);

      expectProblem(await get('/api/admin/audit?limit=1', bearer), 401, 'auth.required');
      expect((await get('/api/admin/audit?limit=1', full)).statusCode).toBe(200);
    });

    it('refuses with 403 auth.forbidden, naming the scope, a token that lacks the scope of the endpoint', async () => {
      for (const { url, scope } of ENDPOINTS) {
        const { token: bearer } = await token(ALL_SCOPES.filter((candidate) => candidate !== scope));
        const body = expectProblem(await get(url, bearer), 403, 'auth.forbidden');
        expect(body['detail']).toContain(scope);
      }
    });

    it('records when a token was last used, and never stores the token itself', async () => {
      const { token: bearer, id } = await token(['outbox:read']);
      expect((await h.latchkey.store.adminTokens.list()).find((record) => record.id === id)?.lastUsedAt).toBeNull();

      expect((await get('/api/admin/outbox?limit=1', bearer)).statusCode).toBe(200);

      const record = (await h.latchkey.store.adminTokens.list()).find((candidate) => candidate.id === id);
      expect(record?.lastUsedAt).toBeInstanceOf(Date);
      expect(JSON.stringify(await h.latchkey.store.adminTokens.list())).not.toContain(bearer.slice('lk_admin_'.length));
    });
  });

  describe('accounts', () => {
    it('lists accounts with their tier and lock state, and nothing secret', async () => {
      const response = await get('/api/admin/accounts', full);

      expect(response.statusCode).toBe(200);
      const { accounts } = response.json<{ accounts: Record<string, unknown>[] }>();
      expect(accounts.map((account) => account['username'])).toEqual(expect.arrayContaining(['alice', 'root.admin', 'bruno']));
      expect(accounts.find((account) => account['username'] === 'root.admin')).toMatchObject({ id: admin.accountId, tier: 'privileged', groups: ['admins'], department: 'IT', enabled: true, locked: false });
      expect(accounts.find((account) => account['username'] === 'alice')).toMatchObject({ id: alice.accountId, tier: 'standard' });
      for (const account of accounts) expect(Object.keys(account).sort()).toEqual(['department', 'displayName', 'enabled', 'groups', 'id', 'locked', 'tier', 'username']);
      expect(response.body).not.toContain('$argon2');
      expect(response.body).not.toContain(alice.password);
    });

    it('pages accounts by username with `after`, and searches with `query`', async () => {
      const first = (await get('/api/admin/accounts?limit=1', full)).json<{ accounts: { username: string }[] }>().accounts;
      expect(first).toHaveLength(1);
      const next = (await get(`/api/admin/accounts?limit=1&after=${encodeURIComponent(first[0]?.username ?? '')}`, full)).json<{ accounts: { username: string }[] }>().accounts;
      expect(next).toHaveLength(1);
      expect(next[0]?.username).not.toBe(first[0]?.username);
      expect((next[0]?.username ?? '') > (first[0]?.username ?? '')).toBe(true);

      const found = (await get('/api/admin/accounts?query=brun', full)).json<{ accounts: { username: string }[] }>().accounts;
      expect(found.map((account) => account.username)).toEqual(['bruno']);
    });

    it('searches through the directory port: wildcard and filter syntax in the query match only literally, and each listing is audited with its count', async () => {
      for (const query of ['%', '_', '*', '*)(uid=*', "' or 1=1 --", '\\']) {
        const response = await get(`/api/admin/accounts?query=${encodeURIComponent(query)}`, full);
        expect(response.statusCode, query).toBe(200);
        expect(response.json<{ accounts: unknown[] }>().accounts, query).toEqual([]);
      }
      const found = (await get('/api/admin/accounts?query=ROOT.AD', full)).json<{ accounts: { id: string }[] }>().accounts;
      expect(found.map((account) => account.id)).toEqual([admin.accountId]);
      const [queried] = (await auditEvents(h, { types: ['admin.accounts_queried'] })).slice(-1);
      expect(queried).toMatchObject({ outcome: 'success', actor: { kind: 'admin_token', id: fullId }, data: { count: 1 } });
      // The built-in directory keeps no phone of record: the account view says so with null.
      const detail = (await get(`/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, full)).json<{ account: { directoryPhone: string | null } }>();
      expect(detail.account.directoryPhone).toBeNull();
    });

    it('shows one account with its methods by kind and masked label, never an address, seed, code or ciphertext', async () => {
      const response = await get(`/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, full);

      expect(response.statusCode).toBe(200);
      const { account } = response.json<{ account: AccountDetail }>();
      expect(account).toMatchObject({ id: alice.accountId, username: 'alice', tier: 'standard', locked: false, lockedSince: null });
      expect(account.enrollments.map((enrollment) => enrollment.method).sort()).toEqual(['email_code', 'recovery_code', 'totp']);
      for (const enrollment of account.enrollments) {
        expect(Object.keys(enrollment).sort()).toEqual(['createdAt', 'id', 'label', 'lastUsedAt', 'method', 'status']);
        expect(enrollment.status).toBe('active');
      }
      const emailLabel = account.enrollments.find((enrollment) => enrollment.method === 'email_code')?.label ?? '';
      expect(emailLabel).toMatch(/^a.*•.*@example\.org$/u);

      const text = response.body;
      expect(text).not.toContain(aliceMethods.altEmail);
      expect(text).not.toContain('alice.home');
      expect(text).not.toContain(aliceMethods.totpSeed);
      expect(aliceMethods.recoveryCodes.length).toBeGreaterThan(0);
      for (const code of aliceMethods.recoveryCodes) expect(text).not.toContain(code);
      for (const message of await allMessages(h)) {
        const code = /\b(\d{6,10})\b/.exec(message.text)?.[1];
        if (code) expect(text).not.toContain(code);
      }
      expect(text).not.toMatch(/ciphertext|secret|hash|password/i);
    });

    it('shows that an account is locked, and since when', async () => {
      const locked = await createPerson(h, 'lockme');
      for (let attempt = 0; attempt < 5; attempt += 1) await call(h, 'POST', '/api/me/sign-in', { username: 'lockme', password: 'not the password at all, no' });

      const { account } = (await get(`/api/admin/accounts/${encodeURIComponent(locked.accountId)}`, full)).json<{ account: AccountDetail }>();

      expect(account.locked).toBe(true);
      expect(Number.isNaN(Date.parse(account.lockedSince ?? ''))).toBe(false);
    });

    it('answers 404 for an account that does not exist', async () => {
      expectProblem(await get('/api/admin/accounts/builtin:00000000-0000-4000-8000-000000000000', full), 404, 'route.not_found');
    });
  });

  describe('audit trail', () => {
    it('filters by one or several event types', async () => {
      const created = await audit('type=account.created&limit=500');
      expect(created.events.length).toBeGreaterThanOrEqual(3);
      expect(new Set(created.events.map((event) => event.type))).toEqual(new Set(['account.created']));
      expect(created.events.map((event) => event.subject)).toEqual(expect.arrayContaining([alice.accountId, admin.accountId]));

      const several = await audit('type=account.created&type=enrollment.activated&limit=500');
      expect(new Set(several.events.map((event) => event.type))).toEqual(new Set(['account.created', 'enrollment.activated']));
    });

    it('filters by outcome, subject and client address', async () => {
      await call(h, 'POST', '/api/me/sign-in', { username: 'bruno', password: 'a wrong password for bruno here' }, { ip: '203.0.113.77' });
      await startFlow(h, 'bruno', 'reset', { ip: '203.0.113.77' });

      const failures = await audit('outcome=failure&limit=500');
      expect(failures.events.length).toBeGreaterThan(0);
      expect(new Set(failures.events.map((event) => event.outcome))).toEqual(new Set(['failure']));
      expect(failures.events.map((event) => event.type)).toContain('sign_in.failed');

      const aboutAlice = await audit(`subject=${encodeURIComponent(alice.accountId)}&limit=500`);
      expect(aboutAlice.events.length).toBeGreaterThan(3);
      expect(new Set(aboutAlice.events.map((event) => event.subject))).toEqual(new Set([alice.accountId]));
      expect(aboutAlice.events.map((event) => event.type)).toEqual(expect.arrayContaining(['account.created', 'enrollment.activated']));

      const fromAddress = await audit('ip=203.0.113.77&limit=500');
      expect(fromAddress.events.map((event) => event.type)).toEqual(expect.arrayContaining(['sign_in.failed', 'recovery.started']));
      expect(new Set(fromAddress.events.map((event) => event.ip))).toEqual(new Set(['203.0.113.77']));

      const combined = await audit('ip=203.0.113.77&outcome=failure&type=sign_in.failed&limit=500');
      expect(combined.events).toHaveLength(1);
    });

    it('filters by a time window with since and until', async () => {
      h.clock.advance(60);
      const since = h.clock.now();
      const inWindow = await createPerson(h, 'window.person');
      h.clock.advance(60);
      const until = h.clock.now();
      h.clock.advance(60);
      await createPerson(h, 'after.window');

      const page = await audit(`type=account.created&since=${since.toISOString()}&until=${until.toISOString()}&limit=500`);

      expect(page.events.map((event) => event.subject)).toEqual([inWindow.accountId]);
      for (const event of page.events) {
        expect(Date.parse(String(event.at))).toBeGreaterThanOrEqual(since.getTime());
        expect(Date.parse(String(event.at))).toBeLessThanOrEqual(until.getTime());
      }
      expect((await audit(`type=account.created&since=${new Date(until.getTime() + 1).toISOString()}&limit=500`)).events.map((event) => event.subject)).not.toContain(inWindow.accountId);
    });

    it('pages with `after`: each page continues where the last ended, nextAfter is null at the end, and nothing is skipped or repeated', async () => {
      const expected = (await auditEvents(h, { types: ['account.created'] })).map((event) => event.seq);
      expect(expected.length).toBeGreaterThanOrEqual(4);

      const seen: number[] = [];
      let after: number | null = 0;
      let pages = 0;
      while (after !== null) {
        const page = await audit(`type=account.created&limit=2${after ? `&after=${after}` : ''}`);
        seen.push(...page.events.map((event) => event.seq));
        if (page.events.length === 2) expect(page.nextAfter).toBe(page.events[1]?.seq);
        else expect(page.nextAfter).toBeNull();
        after = page.nextAfter;
        pages += 1;
        expect(pages).toBeLessThan(50);
      }

      expect(seen).toEqual(expected);
      expect(pages).toBe(Math.floor(expected.length / 2) + 1);
    });

    it('refuses an unknown event type, a bad time and an unknown filter with 400', async () => {
      expectProblem(await get('/api/admin/audit?type=secrets.dumped', full), 400, 'request.invalid');
      expectProblem(await get('/api/admin/audit?since=last-tuesday', full), 400, 'request.invalid');
      expectProblem(await get('/api/admin/audit?actor=me', full), 400, 'request.invalid');
      expectProblem(await get('/api/admin/audit?after=-1', full), 400, 'request.invalid');
    });

    it('offers no way to change or delete the trail: other methods on the audit endpoint answer 404', async () => {
      for (const method of ['DELETE', 'PATCH', 'PUT', 'POST'] as const) {
        const response = await h.app.inject({ method, url: '/api/admin/audit', headers: { authorization: `Bearer ${full}`, 'content-type': 'application/json' }, payload: '{}' });
        expectProblem(response, 404, 'route.not_found');
      }
      const deleted = await h.app.inject({ method: 'DELETE', url: `/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, headers: { authorization: `Bearer ${full}` } });
      expectProblem(deleted, 404, 'route.not_found');
      expect(await verifyChain(h.latchkey.store.audit.iterate())).toMatchObject({ ok: true });
    });
  });

  describe('outbox', () => {
    it('lists messages with masked recipients and, for the dev outbox, the text; filters by status and account', async () => {
      const { messages } = (await get('/api/admin/outbox?limit=500', full)).json<{ messages: OutboxEntry[] }>();
      const toAlice = messages.filter((message) => message.to === aliceMethods.altEmail);
      expect(toAlice.length).toBeGreaterThan(0);
      for (const message of toAlice) expect(message.recipient).not.toContain('alice.home');
      expect(toAlice.some((message) => message.purpose === 'enrollment_code' && /\d{8}/.test(message.text ?? ''))).toBe(true);

      const aliceOnly = (await get(`/api/admin/outbox?limit=500&account=${encodeURIComponent(alice.accountId)}`, full)).json<{ messages: OutboxEntry[] }>().messages;
      const aliceRecords = await h.latchkey.store.outbox.list({ accountId: alice.accountId as never, limit: 500 });
      expect(aliceOnly.map((message) => message.id)).toEqual(aliceRecords.map((record) => record.id));

      await h.latchkey.worker.drain();
      expect((await get('/api/admin/outbox?status=pending', full)).json<{ messages: OutboxEntry[] }>().messages).toEqual([]);
      const delivered = (await get('/api/admin/outbox?status=delivered&limit=500', full)).json<{ messages: OutboxEntry[] }>().messages;
      expect(delivered.length).toBeGreaterThan(0);
      expect(new Set(delivered.map((message) => message.deliveredVia))).toEqual(new Set(['dev-outbox']));
    });
  });

  describe('every admin read is audited', () => {
    it('records who read what, from where: accounts, one account, the audit trail and the outbox', async () => {
      const { token: bearer, id } = await token(ALL_SCOPES);
      const options = { ip: '198.51.100.9', headers: { 'user-agent': 'audit-probe/1.0' } };

      expect((await get('/api/admin/accounts', bearer, options)).statusCode).toBe(200);
      expect((await get(`/api/admin/accounts/${encodeURIComponent(alice.accountId)}`, bearer, options)).statusCode).toBe(200);
      expect((await get('/api/admin/audit?type=account.created&limit=3', bearer, options)).statusCode).toBe(200);
      expect((await get('/api/admin/outbox?limit=2', bearer, options)).statusCode).toBe(200);

      const reads = (await auditEvents(h, { types: ['admin.accounts_queried', 'admin.audit_queried', 'admin.outbox_queried'] })).filter((event) => event.actor.id === id);
      expect(reads.map((event) => event.type)).toEqual(['admin.accounts_queried', 'admin.accounts_queried', 'admin.audit_queried', 'admin.outbox_queried']);
      for (const event of reads) {
        expect(event).toMatchObject({ actor: { kind: 'admin_token', id }, outcome: 'success', ip: '198.51.100.9', userAgent: 'audit-probe/1.0' });
      }
      expect(reads[1]?.data).toEqual({ account: alice.accountId });
      expect(reads[2]?.data).toEqual({ count: 3 });
      expect(reads[3]?.data).toEqual({ count: 2 });
      // The token of the reads in this suite's other tests is a different actor.
      expect(fullId).not.toBe(id);
    });
  });
});
