import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../../src/server/pages/page-security.ts';
import { auditCsv } from '../../src/server/http/routes/admin.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import { ENGINES, auditEvents, type Harness } from '../support/harness.ts';
import { signInAdmin, startConsoleHarness, type ConsoleAdmins, type ConsoleSignIn } from './admin-console.support.ts';
import { parseSetCookies } from './page-client.ts';

/*
 * The admin console's shell pages over HTTP (Fastify's injector): headers, CSP, cookies, the
 * redirect to sign-in and its "session ended" message, navigation per role, 403 pages for sections a
 * role does not open, and the audit API's CSV and JSONL downloads the console links to.
 */

const get = (h: Harness, url: string, signIn?: ConsoleSignIn, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
  h.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1', headers: { ...(signIn ? { cookie: signIn.cookie } : {}), ...headers } });

const navSections = (page: string): string[] => [...page.matchAll(/data-section="([a-z][a-z-]*)"/g)].map((match) => match[1] ?? '');

function expectPageHeaders(response: LightMyRequestResponse): void {
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['content-security-policy']).toBe(PAGE_CSP);
  expect(String(response.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
  expect(response.headers['referrer-policy']).toBe('no-referrer');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['cross-origin-opener-policy']).toBe('same-origin');
  expect(response.headers['cache-control']).toBe('no-store');
  // No inline script or style anywhere: every <script> has a src, no style attribute or element.
  expect(response.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  expect(response.body).not.toMatch(/\sstyle=|<style/);
}

describe('admin console pages over plain http', () => {
  let h: Harness;
  let admins: ConsoleAdmins;
  beforeAll(async () => {
    ({ h, admins } = await startConsoleHarness('sqlite'));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends a visitor without a session from /admin to the sign-in page, which has the page headers and no cookie secrets', async () => {
    const root = await get(h, '/admin');
    expect(root.statusCode).toBe(303);
    expect(root.headers.location).toBe('/admin/dashboard');
    const dashboard = await get(h, '/admin/dashboard');
    expect(dashboard.statusCode).toBe(303);
    expect(dashboard.headers.location).toBe('/admin/sign-in');
    const signIn = await get(h, '/admin/sign-in');
    expect(signIn.statusCode).toBe(200);
    expectPageHeaders(signIn);
    expect(signIn.body).toContain('<script src="/assets/admin.js" defer></script>');
    expect(signIn.body).toContain('id="sign-in-password"');
    expect(signIn.body).toContain('data-csrf=""');
    expect(navSections(signIn.body)).toEqual([]);
  });

  it('serves the console script and stylesheet as files of the page origin', async () => {
    const script = await get(h, '/assets/admin.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.body).toContain('/api/admin/');
    // Built with DOM methods only: nothing parses data as markup.
    expect(script.body).not.toMatch(/\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write/);
    const style = await get(h, '/assets/admin.css');
    expect(style.statusCode).toBe(200);
    expect(style.headers['content-type']).toContain('text/css');
  });

  it('shows a security admin every section, the session CSRF token for the script and never the session token', async () => {
    const session = await signInAdmin(h, admins.security);
    const dashboard = await get(h, '/admin/dashboard', session);
    expect(dashboard.statusCode).toBe(200);
    expectPageHeaders(dashboard);
    expect(navSections(dashboard.body)).toEqual(['dashboard', 'accounts', 'helpdesk', 'dayone', 'audit', 'policy', 'alerts', 'outbox', 'recovery-paths', 'break-glass', 'privileged-holds']);
    expect(dashboard.body).toContain(`data-csrf="${session.csrf}"`);
    expect(dashboard.body).toContain('policy:write');
    expect(dashboard.body).not.toContain(session.cookie.split('=')[1] ?? 'lk_as_');
    for (const path of ['/admin/accounts', '/admin/audit', '/admin/policy', '/admin/alerts', '/admin/outbox', `/admin/accounts/${admins.helpdesk.accountId}`]) {
      const page = await get(h, path, session);
      expect(page.statusCode, path).toBe(200);
      expectPageHeaders(page);
    }
    expect((await get(h, '/admin/policy', session)).body).toContain('id="policy-editor"');
    // Signed in already: the sign-in page sends the admin on.
    expect((await get(h, '/admin/sign-in', session)).headers.location).toBe('/admin/dashboard');
  });

  it('shows helpdesk only accounts, alerts and the outbox, and answers the audit log and policy with a 403 page', async () => {
    const session = await signInAdmin(h, admins.helpdesk);
    const dashboard = await get(h, '/admin/dashboard', session);
    expect(navSections(dashboard.body)).toEqual(['dashboard', 'accounts', 'helpdesk', 'dayone', 'alerts', 'outbox', 'privileged-holds']);
    expect(dashboard.body).toContain('Usage charts need the reports:read permission.');
    for (const path of ['/admin/audit', '/admin/policy']) {
      const page = await get(h, path, session);
      expect(page.statusCode, path).toBe(403);
      expectPageHeaders(page);
      expect(page.body).toContain('Not available to your role');
    }
  });

  it('gives an auditor the policy page without the editor', async () => {
    const session = await signInAdmin(h, admins.auditor);
    const policy = await get(h, '/admin/policy', session);
    expect(policy.statusCode).toBe(200);
    expect(policy.body).not.toContain('id="policy-editor"');
    expect(navSections(policy.body)).toEqual(['dashboard', 'accounts', 'audit', 'policy', 'alerts', 'outbox', 'recovery-paths', 'break-glass', 'privileged-holds']);
    expect(policy.body).not.toContain('accounts:write');
  });

  it('sends an idled-out session to sign-in with "session ended", and drops its cookie there', async () => {
    const session = await signInAdmin(h, admins.security);
    h.clock.advance(h.latchkey.config.admin.sessionIdleSeconds + 1);
    const dashboard = await get(h, '/admin/dashboard', session);
    expect(dashboard.statusCode).toBe(303);
    expect(dashboard.headers.location).toBe('/admin/sign-in?reason=expired');
    const signIn = await get(h, '/admin/sign-in?reason=expired', session);
    expect(signIn.statusCode).toBe(200);
    expect(signIn.body).toContain('Your console session has ended. Sign in again.');
    const cleared = parseSetCookies(signIn).find((cookie) => cookie.name === 'lk_admin');
    expect(cleared?.attributes.get('max-age')).toBe('0');
  });

  it('speaks German when asked, and refuses an unknown language or query field with a 400 page, not a 500', async () => {
    const german = await get(h, '/admin/sign-in', undefined, { 'accept-language': 'de-DE,de;q=0.9' });
    expect(german.body).toContain('<html lang="de">');
    expect(german.body).toContain('Bei der Admin-Konsole anmelden');
    expect((await get(h, '/admin/sign-in?lang=xx')).statusCode).toBe(400);
    expect((await get(h, '/admin/sign-in?reason=<script>')).statusCode).toBe(400);
    expect((await get(h, '/admin/sign-in?next=https://evil.test')).statusCode).toBe(400);
  });
});

describe('admin console pages behind TLS (publicUrl is https)', () => {
  let h: Harness;
  let admins: ConsoleAdmins;
  beforeAll(async () => {
    ({ h, admins } = await startConsoleHarness('sqlite', { env: { LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test' } }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('uses a __Host- Secure session cookie and sends HSTS on the console pages', async () => {
    const session = await signInAdmin(h, admins.security);
    expect(session.setCookie).toMatch(/^__Host-lk_admin=lk_as_/);
    for (const attribute of ['HttpOnly', 'SameSite=Strict', 'Secure', 'Path=/']) expect(session.setCookie).toContain(attribute);
    const dashboard = await get(h, '/admin/dashboard', session);
    expect(dashboard.statusCode).toBe(200);
    expect(dashboard.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const signIn = await get(h, '/admin/sign-in?lang=de');
    for (const cookie of parseSetCookies(signIn)) {
      expect(cookie.name.startsWith('__Host-'), cookie.name).toBe(true);
      expect(cookie.attributes.has('secure')).toBe(true);
      expect(cookie.attributes.has('httponly')).toBe(true);
    }
  });
});

describe.each(ENGINES)('audit downloads for the console on %s', (engine) => {
  let h: Harness;
  let admins: ConsoleAdmins;
  beforeAll(async () => {
    ({ h, admins } = await startConsoleHarness(engine));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('downloads the filtered audit log as CSV with a header row, guarded by audit:read and audited with the format', async () => {
    const session = await signInAdmin(h, admins.auditor);
    const csv = await get(h, '/api/admin/audit?format=csv&type=admin.signed_in', session);
    expect(csv.statusCode, csv.body).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe('attachment; filename="audit.csv"');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('seq,id,at,type,outcome,reason,actor_kind,actor_id,subject,ip,user_agent,department,tier,flow_id,data,prev_hash,hash');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines.slice(1)) expect(line).toContain(',admin.signed_in,success,');
    expect(csv.body).toContain(admins.auditor.accountId);
    const recorded = (await auditEvents(h, { types: ['admin.audit_queried'] })).at(-1);
    expect(recorded).toMatchObject({ actor: { kind: 'admin', id: admins.auditor.accountId }, data: { count: lines.length - 1, format: 'csv' } });
    const helpdesk = await signInAdmin(h, admins.helpdesk);
    expect((await get(h, '/api/admin/audit?format=csv', helpdesk)).statusCode).toBe(403);
  });

  it('downloads JSONL, one event per line with its hash, and pages a download with x-next-after', async () => {
    const session = await signInAdmin(h, admins.security);
    const jsonl = await get(h, '/api/admin/audit?format=jsonl&limit=2', session);
    expect(jsonl.statusCode, jsonl.body).toBe(200);
    expect(jsonl.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const events = jsonl.body.trim().split('\n').map((line) => JSON.parse(line) as { seq: number; hash: string; type: string });
    expect(events).toHaveLength(2);
    expect(events[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(jsonl.headers['x-next-after']).toBe(String(events[1]?.seq));
    const next = await get(h, `/api/admin/audit?format=jsonl&limit=2&after=${events[1]?.seq}`, session);
    expect((JSON.parse(next.body.split('\n')[0] ?? '{}') as { seq: number }).seq).toBeGreaterThan(events[1]?.seq ?? 0);
  });

  it('keeps JSON pages at 500 events and refuses an unknown format with a 400 naming the field', async () => {
    const session = await signInAdmin(h, admins.security);
    const tooMany = await get(h, '/api/admin/audit?limit=501', session);
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.body).toContain('limit');
    expect((await get(h, '/api/admin/audit?format=csv&limit=501', session)).statusCode).toBe(200);
    const unknown = await get(h, '/api/admin/audit?format=xml', session);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toContain('format');
  });

  it('tells the console which channels keep their messages in the dev outbox', async () => {
    const session = await signInAdmin(h, admins.helpdesk);
    const outbox = await get(h, '/api/admin/outbox', session);
    expect(outbox.statusCode).toBe(200);
    expect(outbox.json<{ devChannels: string[] }>().devChannels).toEqual(['email', 'sms']);
  });
});

describe('admin console with real channels configured', () => {
  let h: Harness;
  let admins: ConsoleAdmins;
  beforeAll(async () => {
    // Nothing is sent in this suite: the relay and receiver addresses only make both channels real.
    ({ h, admins } = await startConsoleHarness('sqlite', {
      env: {
        LATCHKEY_SMTP__HOST: '127.0.0.1',
        LATCHKEY_SMTP__FROM: 'latchkey@corp.test',
        LATCHKEY_SMS__PROVIDER: 'webhook',
        LATCHKEY_SMS__URL: 'http://127.0.0.1:9/sms',
        LATCHKEY_SMS__HMAC_SECRET: 'a test secret for the sms webhook that is long enough',
      },
    }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('has no dev outbox section: nothing stays there to read', async () => {
    const session = await signInAdmin(h, admins.security);
    const dashboard = await get(h, '/admin/dashboard', session);
    expect(navSections(dashboard.body)).toEqual(['dashboard', 'accounts', 'helpdesk', 'dayone', 'audit', 'policy', 'alerts', 'recovery-paths', 'break-glass', 'privileged-holds']);
    expect((await get(h, '/admin/outbox', session)).statusCode).toBe(403);
    expect((await get(h, '/api/admin/outbox', session)).json<{ devChannels: string[] }>().devChannels).toEqual([]);
  });
});

describe('audit CSV cells', () => {
  it('prefixes a text cell a spreadsheet would run as a formula, and leaves numbers alone', () => {
    const record = {
      seq: 7, id: 'evt-7', at: new Date('2026-11-26T10:00:00Z'), type: 'admin.access_denied', outcome: 'failure', reason: '=HYPERLINK("https://evil.test")',
      actor: { kind: 'admin', id: 'builtin:1' }, subject: null, ip: '-1+1', userAgent: '@SUM(A1:A9)', department: '+Sales', tier: null, flowId: null,
      data: { permission: 'policy:write' }, prevHash: 'a'.repeat(64), hash: 'b'.repeat(64),
    } as unknown as AuditRecord;
    const [, row] = auditCsv([record]).trim().split('\n');
    expect(row).toContain(`"'=HYPERLINK(""https://evil.test"")"`);
    expect(row).toContain(`'@SUM(A1:A9)`);
    expect(row).toContain(`'+Sales`);
    expect(row).toContain(`'-1+1`);
    expect(row?.startsWith('7,evt-7,2026-11-26T10:00:00.000Z,admin.access_denied,failure,')).toBe(true);
  });
});
