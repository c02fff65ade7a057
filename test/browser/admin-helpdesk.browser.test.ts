import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { auditEvents, call, createPerson, json, latestCode, messagesTo, oathtoolCode, signInFresh, startFlow, type Harness, type Person } from '../support/harness.ts';
import { startConsoleHarness, type ConsoleAdmin, type ConsoleAdmins } from '../pages/admin-console.support.ts';
import { checkPage, expectVisibleFocus, launchChromium, listen, openPortalPage, tabTo, type PageWindow, type PortalPage } from './support.ts';

/*
 * The console's helpdesk pages in a real Chromium against a real server on loopback: a helpdesk
 * agent signs in with a real TOTP code, looks up a person who lost their authenticator app, sends a
 * code to the one method left, types the code the person reads out, issues a Temporary Access Pass
 * (shown once, gone on reload), and the person signs in with it through the API; a revoke, an
 * out-of-band check, a privileged account refused, the manager's approval link page (GET changes
 * nothing, POST approves), and day-one passes from a CSV file. axe-core on every page, EN and DE.
 */

const MANAGER = 'lena.boss@corp.test';
const HEADER = 'username,start_date,manager_email,personal_email';

let h: Harness;
let admins: ConsoleAdmins;
let browser: Browser;
let origin: string;
let lena: Person;
let lenaHome: string;
let agent: PortalPage;

/** Registers a verified alternate email only: the person's one method once the phone is gone. */
async function enrolEmailOnly(person: Person): Promise<string> {
  const session = await signInFresh(h, person);
  const address = `${person.username}.home@example.org`;
  const added = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address }, { token: session }));
  const verified = await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { code: await latestCode(h, address) }, { token: session });
  expect(verified.statusCode, verified.body).toBe(200);
  return address;
}

async function signIn(portal: PortalPage, admin: ConsoleAdmin): Promise<void> {
  const { page } = portal;
  await page.goto(`${origin}/admin/sign-in`);
  await page.locator('#username').fill(admin.username);
  await page.locator('#password').fill(admin.password);
  await page.locator('#sign-in-password button[type="submit"]').click();
  await page.locator('#code').waitFor({ state: 'visible' });
  h.clock.advance(30);
  await page.locator('#code').fill(oathtoolCode(admin.totpSeed, h.clock));
  await page.locator('#sign-in-code button[type="submit"]').click();
  await page.waitForURL('**/admin/dashboard');
}

async function lookUp(identifier: string): Promise<void> {
  await agent.page.locator('#identifier').fill(identifier);
  await agent.page.locator('#helpdesk-lookup button[type="submit"]').click();
  await agent.page.locator('#person-title', { hasText: identifier }).waitFor();
}

/** Issues a pass from the verified step; returns the pass the page shows once. */
async function issueFromPage(minutes: number): Promise<string> {
  const { page } = agent;
  await page.locator('#helpdesk-issue').waitFor({ state: 'visible' });
  await page.locator('#issue-lifetime').fill(String(minutes));
  await page.locator('#issue-form button[type="submit"]').click();
  await page.locator('#pass-shown').waitFor({ state: 'visible' });
  return (await page.locator('#pass-value').getAttribute('data-pass')) ?? '';
}

beforeAll(async () => {
  ({ h, admins } = await startConsoleHarness('sqlite', { env: { [`LATCHKEY_HELPDESK__MANAGER_EMAILS__LENA`]: MANAGER } }));
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
  lena = await createPerson(h, 'lena', { department: 'Sales' });
  lenaHome = await enrolEmailOnly(lena);
  // Her self-service attempt fails at the email gate (she mistyped): the agent must see it.
  const flow = await startFlow(h, lena.username);
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: flow.token });
  expect((await call(h, 'POST', '/api/recovery/flow/answer', { code: '00000000' }, { token: flow.token })).statusCode).toBe(422);
  agent = await openPortalPage(browser, origin, { viewport: 'desktop', language: 'en-GB' });
  await signIn(agent, admins.helpdesk);
});
afterAll(async () => {
  await agent?.close();
  await browser?.close();
  await h?.close();
});

describe('the helpdesk page', () => {
  it('replaces a lost device: code to the remaining method, a pass shown once, and the person signs in with it', async () => {
    const { page } = agent;
    await page.goto(`${origin}/admin/helpdesk`);
    expect(await page.locator('.console-nav a[aria-current="page"]').getAttribute('data-section')).toBe('helpdesk');
    await checkPage(agent, 'admin-helpdesk-en');
    await lookUp('lena');
    expect(await page.locator('#person-facts').innerText()).toContain('standard');
    expect(await page.locator('table[data-table="methods"]').innerText()).toContain('email_code');
    // The failed gate of her attempt, as the audit trail recorded it, and never the code she typed.
    await page.locator('table[data-table="attempts"] li[data-gate="email_code"][data-outcome="failed"]').waitFor();
    expect(await page.locator('main').innerText()).not.toContain('00000000');

    await page.locator('#verify-method').selectOption('method_code');
    await page.locator('#verify-start').click();
    await page.locator('#verify-code').waitFor({ state: 'visible' });
    expect(await page.locator('#code-sent').innerText()).toContain('email_code');
    await checkPage(agent, 'admin-helpdesk-code-en');
    await page.locator('#verify-code').fill(await latestCode(h, lenaHome));
    await page.locator('#verify-code-form button[type="submit"]').click();

    const pass = await issueFromPage(30);
    expect(pass).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    expect(await page.locator('#pass-value .pass-group').allTextContents()).toEqual(pass.split('-'));
    expect(await page.locator('#pass-warning').innerText()).toContain('shown only this once');
    // Focus moves to the pass, so a screen reader announces it and the warning with it.
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.id)).toBe('pass-shown');
    await page.locator('#live-pass').waitFor();
    await checkPage(agent, 'admin-helpdesk-pass-en');
    const issued = (await auditEvents(h, { types: ['tap.issued'] })).at(-1);
    expect(issued?.actor).toMatchObject({ id: admins.helpdesk.accountId });

    // Gone on reload: the page never had the pass but from the issuing POST.
    await page.reload();
    expect(await page.locator('#pass-shown').isHidden()).toBe(true);
    expect(await page.content()).not.toContain(pass.replaceAll('-', ''));
    expect(await page.content()).not.toContain(pass);

    const signedIn = await call(h, 'POST', '/api/me/sign-in/pass', { username: 'lena', pass });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(json<{ status: string }>(signedIn).status).toBe('signed_in');
    expect(agent.problems).toEqual([]);
  });

  it('records an out-of-band check, issues a pass, and revokes it so it no longer signs in', async () => {
    const { page } = agent;
    await page.goto(`${origin}/admin/helpdesk`);
    await lookUp('lena');
    await page.locator('#verify-method').selectOption('out_of_band');
    await page.locator('#verify-reason').fill('Checked her staff badge in person at the desk');
    await page.locator('#verify-ticket').fill('HD-2001');
    await page.locator('#verify-start').click();
    const pass = await issueFromPage(15);
    await page.locator('#revoke-pass-reason').fill('Issued by mistake');
    await page.locator('#revoke-pass button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-status').innerText()).toContain('revoked');
    expect(await page.locator('#live-pass').count()).toBe(0);
    expect(await page.locator('#pass-shown').isHidden()).toBe(true);
    expect((await call(h, 'POST', '/api/me/sign-in/pass', { username: 'lena', pass })).statusCode).toBe(401);
    expect(await auditEvents(h, { types: ['tap.revoked'] })).toHaveLength(1);
  });

  it('shows a helpdesk agent that a privileged account is not theirs to serve, and the API refuses a forced request', async () => {
    const { page } = agent;
    await page.goto(`${origin}/admin/helpdesk`);
    await lookUp(admins.security.username);
    const refusal = page.locator('#helpdesk-refusal');
    expect(await refusal.innerText()).toContain('a privileged account or an admin needs a security admin');
    expect(await page.locator('#helpdesk-verify').isHidden()).toBe(true);
    const forced = await page.evaluate(async (accountId) => {
      const body = (globalThis as unknown as { document: { body: { getAttribute(name: string): string } } }).document.body;
      const response = await fetch('/api/admin/helpdesk/verifications', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': body.getAttribute('data-csrf') }, body: JSON.stringify({ accountId, method: 'method_code' }) });
      return { status: response.status, code: ((await response.json()) as { code: string }).code };
    }, admins.security.accountId);
    expect(forced).toEqual({ status: 403, code: 'helpdesk.forbidden' });
    // The browser logs the refused request it was told to make; nothing else may be there.
    expect(agent.problems).toEqual(['Failed to load resource: the server responded with a status of 403 (Forbidden)']);
    agent.problems.length = 0;
  });

  it('asks the manager by email; the link page changes nothing on GET, approves on POST, and the agent sees it', async () => {
    const { page } = agent;
    await page.goto(`${origin}/admin/helpdesk`);
    await lookUp('lena');
    await page.locator('#verify-method').selectOption('manager_approval');
    await page.locator('#verify-start').click();
    await expect.poll(() => page.locator('#approval-status').getAttribute('data-status')).toBe('pending');
    expect(await page.locator('#approval-status').innerText()).not.toContain(MANAGER);

    const mail = (await messagesTo(h, MANAGER)).at(-1);
    const link = /\/api\/helpdesk\/approvals\/[A-Za-z0-9_-]{43}/.exec(mail?.text ?? '')?.[0];
    expect(link).toBeDefined();
    const manager = await openPortalPage(browser, origin, { viewport: 'phone', language: 'de-DE' });
    try {
      await manager.page.goto(`${origin}${link ?? ''}`);
      await manager.page.waitForURL('**/helpdesk/approvals/**');
      await checkPage(manager, 'approval-de');
      await manager.page.goto(`${manager.page.url()}?lang=en`);
      await checkPage(manager, 'approval-en');
      expect(await manager.page.locator('main').innerText()).toContain('lena');
      // Two GETs (the link and the page) approved nothing.
      expect(await page.locator('#approval-status').getAttribute('data-status')).toBe('pending');
      expect(await auditEvents(h, { types: ['helpdesk.verified'] })).toHaveLength(2);
      await manager.page.locator('#approve').click();
      await manager.page.locator('#approved').waitFor();
      await checkPage(manager, 'approval-done-en');
    } finally {
      await manager.close();
    }
    await page.locator('#helpdesk-issue').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#approval-status').getAttribute('data-status')).toBe('verified');
  });
});

describe('the day-one page', () => {
  it('shows the bad line and issues nothing, then issues a good file with both halves in the outbox', async () => {
    await createPerson(h, 'nia');
    await createPerson(h, 'oli');
    const start = new Date(h.clock.now().getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
    const { page } = agent;
    await page.goto(`${origin}/admin/dayone`);
    await checkPage(agent, 'admin-dayone-en');
    const upload = (rows: string[]) => page.locator('#dayone-file').setInputFiles({ name: 'new-hires.csv', mimeType: 'text/csv', buffer: Buffer.from([HEADER, ...rows].join('\n')) });

    await upload([`nia,${start},boss@corp.test,nia@home.example`, `oli,${start},not-an-address,oli@home.example`]);
    await page.locator('#dayone-form button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-error').innerText()).toContain('line 3: manager_email');
    expect(await auditEvents(h, { types: ['dayone.batch_issued'] })).toEqual([]);
    expect(await messagesTo(h, 'boss@corp.test')).toEqual([]);
    // The browser logs the refused upload (422); nothing else may be there.
    expect(agent.problems).toEqual(['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
    agent.problems.length = 0;
    await checkPage(agent, 'admin-dayone-error-en');

    await upload([`nia,${start},boss@corp.test,nia@home.example`, `oli,${start},boss@corp.test,oli@home.example`]);
    await page.locator('#dayone-form button[type="submit"]').click();
    await page.locator('#dayone-issued').waitFor();
    expect(await page.locator('#console-error').isHidden()).toBe(true);
    expect(await page.locator('table[data-table="dayone"] tbody tr').count()).toBe(2);
    const toManager = await messagesTo(h, 'boss@corp.test');
    expect(toManager.map((message) => message.subject).join('\n')).toContain('part 1 of 2');
    expect(toManager).toHaveLength(2);
    const toNia = (await messagesTo(h, 'nia@home.example')).at(-1);
    expect(toNia?.subject).toContain('part 2 of 2');
    // The operator never sees a pass: neither half is on the page.
    const half = /\b([0-9A-Z]{4}-[0-9A-Z]{4})\b/.exec(toNia?.text ?? '')?.[1] ?? 'missing';
    expect(await page.content()).not.toContain(half);
    await checkPage(agent, 'admin-dayone-done-en');
  });

  it('renders both pages accessibly in German', async () => {
    const { page } = agent;
    await page.goto(`${origin}/admin/dayone?lang=de`);
    expect(await page.locator('.console-nav').innerText()).toContain('Erster Arbeitstag');
    await checkPage(agent, 'admin-dayone-de');
    await page.goto(`${origin}/admin/helpdesk`);
    // By keyboard alone: Tab to the field, type, Enter; then Tab on to the verification choice.
    await tabTo(page, '#identifier');
    await expectVisibleFocus(page);
    await page.keyboard.type('lena');
    await page.keyboard.press('Enter');
    await page.locator('#helpdesk-verify').waitFor({ state: 'visible' });
    await tabTo(page, '#verify-method', 40);
    await expectVisibleFocus(page);
    expect(await page.locator('main').innerText()).not.toMatch(/\badmin\.[a-z_]+\./);
    await checkPage(agent, 'admin-helpdesk-de');
    await page.goto(`${origin}/admin/helpdesk?lang=en`);
  });
});
