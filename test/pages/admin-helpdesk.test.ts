import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP } from '../../src/server/pages/page-security.ts';
import { auditEvents, createPerson, ENGINES, messagesTo, type Harness, type Person } from '../support/harness.ts';
import { signInAdmin, startConsoleHarness, type ConsoleAdmins, type ConsoleSignIn } from './admin-console.support.ts';
import { loggedHarness } from '../security/checks.support.ts';
import { csrfOf, PageClient } from './page-client.ts';

/*
 * The console's helpdesk and day-one shells and the manager's approval page over HTTP (Fastify's
 * injector), on SQLite and PostgreSQL: page headers and no inline script, who may open them, the
 * policy's pass bounds on the issue form, and the approval link: a browser's GET lands on the page,
 * a script's GET still gets JSON, neither approves; only a POST with the page's CSRF token does, once.
 */

const MANAGER = 'mia.boss@corp.test';

function expectShell(response: LightMyRequestResponse): void {
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['content-security-policy']).toBe(PAGE_CSP);
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
  expect(response.body).not.toMatch(/\sstyle=|<style/);
}

describe.each(ENGINES)('helpdesk console pages (%s)', (engine) => {
  let h: Harness;
  let admins: ConsoleAdmins;
  let agent: ConsoleSignIn;
  let mia: Person;

  const get = (url: string, session?: ConsoleSignIn, headers: Record<string, string> = {}) =>
    h.app.inject({ method: 'GET', url, remoteAddress: '127.0.0.1', headers: { ...(session ? { cookie: session.cookie } : {}), ...headers } });
  const postJson = (url: string, session: ConsoleSignIn, body: unknown) =>
    h.app.inject({ method: 'POST', url, remoteAddress: '127.0.0.1', headers: { cookie: session.cookie, 'x-csrf-token': session.csrf, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  /** Starts a manager approval for mia as the agent; returns the verification id and the mailed link's path. */
  async function requestApproval(): Promise<{ id: string; path: string }> {
    const started = await postJson('/api/admin/helpdesk/verifications', agent, { accountId: mia.accountId, method: 'manager_approval' });
    expect(started.statusCode, started.body).toBe(200);
    const path = /\/api\/helpdesk\/approvals\/[A-Za-z0-9_-]{43}/.exec((await messagesTo(h, MANAGER)).at(-1)?.text ?? '')?.[0];
    if (!path) throw new Error('no approval link was mailed');
    return { id: started.json<{ verification: { id: string } }>().verification.id, path };
  }
  const statusOf = async (id: string): Promise<string> => (await get(`/api/admin/helpdesk/verifications/${id}`, agent)).json<{ verification: { status: string } }>().verification.status;

  beforeAll(async () => {
    ({ h, admins } = await startConsoleHarness(engine, { env: { LATCHKEY_HELPDESK__MANAGER_EMAILS__MIA: MANAGER, LATCHKEY_LOG_LEVEL: 'info' } }));
    mia = await createPerson(h, 'mia');
    agent = await signInAdmin(h, admins.helpdesk);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves the helpdesk and day-one shells to tap:issue with their own script and the policy’s pass bounds', async () => {
    const helpdesk = await get('/admin/helpdesk', agent);
    expectShell(helpdesk);
    expect(helpdesk.body).toMatch(/<script src="\/assets\/admin\.js" defer><\/script>\s*<script src="\/assets\/admin-helpdesk\.js" defer><\/script>/);
    // policy/default.yaml: 10 minutes to 8 hours, 1 hour by default; one use.
    expect(helpdesk.body).toContain('id="issue-lifetime" name="lifetimeMinutes" min="10" max="480" step="1" value="60"');
    expect(helpdesk.body).toContain('id="issue-uses" name="uses" min="1" max="1" step="1" value="1"');
    expect(helpdesk.body).toMatch(/<section id="pass-shown"[^>]*hidden>/);
    const dayOne = await get('/admin/dayone', agent);
    expectShell(dayOne);
    expect(dayOne.body).toContain('type="file" id="dayone-file"');
    expect(dayOne.body).toContain('value="split" checked');
    const german = await get('/admin/helpdesk?lang=de', agent);
    expect(german.body).toContain('Befristeten Zugangspass ausstellen');
    // The script loads from the page's own origin and is served as JavaScript.
    const script = await get('/assets/admin-helpdesk.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.body).not.toContain('innerHTML');
  });

  it('answers an auditor with the 403 page and no navigation to the helpdesk, and a visitor with the sign-in redirect', async () => {
    const auditor = await signInAdmin(h, admins.auditor);
    for (const path of ['/admin/helpdesk', '/admin/dayone']) {
      const page = await get(path, auditor);
      expect(page.statusCode, path).toBe(403);
      expect(page.body).toContain('Not available to your role');
      expect(page.body).not.toContain('admin-helpdesk.js');
      expect(page.body).not.toContain('data-section="helpdesk"');
      expect((await get(path)).headers.location).toBe('/admin/sign-in');
    }
    expect((await get('/api/admin/helpdesk/accounts/mia', auditor)).statusCode).toBe(403);
  });

  it('sends a browser from the mailed link to the approval page; neither GET approves', async () => {
    const { id, path } = await requestApproval();
    const token = path.split('/').at(-1) ?? '';
    const redirected = await get(path, undefined, { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    expect(redirected.statusCode).toBe(303);
    expect(redirected.headers.location).toBe(`/helpdesk/approvals/${token}`);
    const asJson = await get(path, undefined, { accept: 'application/json' });
    expect(asJson.statusCode).toBe(200);
    expect(asJson.json<{ approval: { username: string; status: string } }>().approval).toMatchObject({ username: 'mia', status: 'pending' });

    const manager = new PageClient(h, { 'accept-language': 'en' });
    const page = await manager.get(`/helpdesk/approvals/${token}`);
    expectShell(page);
    expect(page.body).toContain('mia');
    expect(page.body).toContain('id="approve"');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(await statusOf(id)).toBe('pending');
    expect(await auditEvents(h, { types: ['helpdesk.verified'] })).toEqual([]);

    // SECURITY: no token, a wrong token, or another site's form: refused, nothing approved (WEB-3).
    expect((await manager.post(`/helpdesk/approvals/${token}`, {})).statusCode).toBe(403);
    expect((await manager.post(`/helpdesk/approvals/${token}`, { _csrf: 'x'.repeat(43) })).statusCode).toBe(403);
    expect((await manager.post(`/helpdesk/approvals/${token}`, { _csrf: csrfOf(page.body) }, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);
    expect(await statusOf(id)).toBe('pending');

    const approved = await manager.post(`/helpdesk/approvals/${token}`, { _csrf: csrfOf(page.body) });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.body).toContain('The helpdesk may now issue one pass for mia.');
    expect(await statusOf(id)).toBe('verified');
    expect(await auditEvents(h, { types: ['helpdesk.verified'] })).toHaveLength(1);

    // Once only: the used link is gone, on the page and in the JSON API alike.
    expect((await manager.post(`/helpdesk/approvals/${token}`, { _csrf: csrfOf(page.body) })).statusCode).toBe(410);
    const again = await manager.get(`/helpdesk/approvals/${token}?lang=de`);
    expect(again.statusCode).toBe(410);
    expect(again.body).toContain('Dieser Link funktioniert nicht mehr');
    expect((await get(path, undefined, { accept: 'application/json' })).statusCode).toBe(410);
  });

  it('keeps the approval token out of the access log, for the link and for its page (LOG-3)', async () => {
    const { path } = await requestApproval();
    const token = path.split('/').at(-1) ?? '';
    const { lh, log } = await loggedHarness(h);
    try {
      await lh.app.inject({ method: 'GET', url: path, headers: { accept: 'text/html' } });
      await lh.app.inject({ method: 'GET', url: `/helpdesk/approvals/${token}?lang=de` });
      expect(log.text).toContain('/api/helpdesk/approvals/[redacted]');
      expect(log.text).toContain('/helpdesk/approvals/[redacted]?lang=de');
      expect(log.text).not.toContain(token);
    } finally {
      await lh.close();
    }
  });

  it('refuses a malformed token with 400 and an unknown one with the 410 page', async () => {
    expect((await get('/helpdesk/approvals/not-a-token')).statusCode).toBe(400);
    const unknown = await get(`/helpdesk/approvals/${'A'.repeat(43)}`);
    expect(unknown.statusCode).toBe(410);
    expectShell({ ...unknown, statusCode: 200 } as LightMyRequestResponse);
  });
});
