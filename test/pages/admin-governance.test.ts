import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../../src/server/pages/page-security.ts';
import { ENGINES, auditEvents, call, createPerson, json, type Harness } from '../support/harness.ts';
import { signInAdmin, startConsoleHarness, type ConsoleAdmins, type ConsoleSignIn } from './admin-console.support.ts';

/*
 * The console's governance sections over HTTP (Fastify's injector): page headers and CSP, the
 * section script loaded on these pages only, navigation and 403 pages per role, the action forms
 * only for the permission that may use them, malformed queries as 400s, and the break-glass status
 * API the page reads (policy:read), on SQLite and PostgreSQL.
 */

const get = (h: Harness, url: string, signIn?: ConsoleSignIn): Promise<LightMyRequestResponse> =>
  h.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1', headers: signIn ? { cookie: signIn.cookie } : {} });

const navSections = (page: string): string[] => [...page.matchAll(/data-section="([a-z-]+)"/g)].map((match) => match[1] ?? '');
const GOVERNANCE_PAGES = ['/admin/recovery-paths', '/admin/break-glass', '/admin/privileged-holds'];
const GOVERNANCE_SCRIPT = '<script src="/assets/admin-governance.js" defer></script>';

interface StatusRow {
  username: string;
  status: string;
  custodians: string[];
  threshold: number | null;
  lastDrillAt: string | null;
  nextDrillDue: string | null;
  drillOverdue: boolean;
}

describe.each(ENGINES)('governance pages of the admin console on %s', (engine) => {
  let h: Harness;
  let admins: ConsoleAdmins;
  let security: ConsoleSignIn;
  let helpdesk: ConsoleSignIn;
  let auditor: ConsoleSignIn;
  beforeAll(async () => {
    ({ h, admins } = await startConsoleHarness(engine, { policy: [(policy) => void (policy.breakGlass.accounts = ['bg-admin', 'bg-spare'])] }));
    await createPerson(h, 'bg-admin', { groups: ['break-glass'], department: 'IT' });
    await h.latchkey.breakGlass.service.seal('bg-admin', ['alice', 'bob', 'carol'], 2, { kind: 'cli', id: 'test', ip: null, userAgent: null });
    security = await signInAdmin(h, admins.security);
    helpdesk = await signInAdmin(h, admins.helpdesk);
    auditor = await signInAdmin(h, admins.auditor);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves each section with the page headers, no inline script or style, and its own script only there', async () => {
    for (const path of GOVERNANCE_PAGES) {
      const page = await get(h, path, security);
      expect(page.statusCode, path).toBe(200);
      expect(page.headers['content-security-policy']).toBe(PAGE_CSP);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(page.body).not.toMatch(/\sstyle=|<style/);
      expect(page.body).toContain(GOVERNANCE_SCRIPT);
    }
    expect((await get(h, '/admin/dashboard', security)).body).not.toContain('admin-governance.js');
    const script = await get(h, '/assets/admin-governance.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.body).not.toMatch(/\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write/);
  });

  it('shows a security admin and an auditor all three sections, helpdesk only the holds, and answers the rest with a 403 page', async () => {
    expect(navSections((await get(h, '/admin/dashboard', security)).body)).toEqual(expect.arrayContaining(['recovery-paths', 'break-glass', 'privileged-holds']));
    expect(navSections((await get(h, '/admin/dashboard', auditor)).body)).toEqual(expect.arrayContaining(['recovery-paths', 'break-glass', 'privileged-holds']));
    const helpdeskNav = navSections((await get(h, '/admin/dashboard', helpdesk)).body);
    expect(helpdeskNav).toContain('privileged-holds');
    expect(helpdeskNav).not.toContain('recovery-paths');
    expect(helpdeskNav).not.toContain('break-glass');
    for (const path of ['/admin/recovery-paths', '/admin/break-glass']) {
      const page = await get(h, path, helpdesk);
      expect(page.statusCode, path).toBe(403);
      expect(page.body).toContain('Not available to your role');
    }
    expect((await get(h, '/admin/privileged-holds', helpdesk)).statusCode).toBe(200);
    expect((await get(h, '/admin/break-glass')).headers.location).toBe('/admin/sign-in');
  });

  it('draws the opening form for breakglass:operate only; an auditor gets the read-only notice', async () => {
    const forSecurity = (await get(h, '/admin/break-glass', security)).body;
    expect(forSecurity).toContain('id="breakglass-start"');
    expect(forSecurity).toContain('id="breakglass-join"');
    // No form can put a share in a URL, even without the script.
    expect(forSecurity).not.toMatch(/<form(?![^>]*method="post")[^>]*id="breakglass-/);
    const forAuditor = (await get(h, '/admin/break-glass', auditor)).body;
    expect(forAuditor).not.toContain('id="breakglass-start"');
    expect(forAuditor).toContain('id="breakglass-read-only"');
    const opening = '0b6f2a3c-5d4e-4f60-8a71-9b8c7d6e5f40';
    expect((await get(h, `/admin/break-glass?opening=${opening}`, security)).body).toContain(`data-opening="${opening}"`);
  });

  it('refuses malformed queries with a 400, not a 500', async () => {
    for (const path of ['/admin/break-glass?opening=not-an-id', '/admin/privileged-holds?status=everything', '/admin/recovery-paths?tier=standard', '/admin/recovery-paths?lang=xx']) {
      expect((await get(h, path, security)).statusCode, path).toBe(400);
    }
  });

  it('reports break-glass status to policy:read (custodians, next drill, overdue), refuses helpdesk, and flags an overdue drill', async () => {
    const read = async (signIn: ConsoleSignIn) => h.app.inject({ method: 'GET', url: '/api/admin/breakglass/status', remoteAddress: '127.0.0.1', headers: { cookie: signIn.cookie } });
    const response = await read(auditor);
    expect(response.statusCode, response.body).toBe(200);
    const rows = json<{ accounts: StatusRow[] }>(response).accounts;
    expect(rows.map((row) => [row.username, row.status, row.custodians.join(' '), row.threshold, row.drillOverdue])).toEqual([
      ['bg-admin', 'sealed', 'alice bob carol', 2, false],
      ['bg-spare', 'unsealed', '', null, false],
    ]);
    expect(Date.parse(rows[0]?.nextDrillDue ?? '') - h.clock.now().getTime()).toBeGreaterThan(89 * 86_400_000);
    const refused = await read(helpdesk);
    expect(refused.statusCode).toBe(403);
    expect(json(refused)['code']).toBe('auth.forbidden');
    expect((await auditEvents(h, { types: ['admin.access_denied'] })).length).toBeGreaterThan(0);
    // The token of an API client with policy:read reads the same; past the drill interval the drill is overdue.
    const token = (await h.latchkey.adminTokens.create({ name: 'governance reader', scopes: ['policy:read'] }, { kind: 'cli', id: 'test' })).token;
    h.clock.advance(91 * 86_400);
    const later = json<{ accounts: StatusRow[] }>(await call(h, 'GET', '/api/admin/breakglass/status', undefined, { token })).accounts;
    expect(later[0]?.drillOverdue).toBe(true);
  });
});
