import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { asAccountId } from '../../src/core/account/ids.ts';
import { auditEvents, call, createPerson, enrolEmailAndTotp, oathtoolCode, passTwoGates, startFlow, type Harness, type Person } from '../support/harness.ts';
import { lockAccount } from '../pages/support.ts';
import { startConsoleHarness, type ConsoleAdmin, type ConsoleAdmins } from '../pages/admin-console.support.ts';
import { checkPage, launchChromium, listen, openPortalPage, type PageWindow, type PortalPage } from './support.ts';

/*
 * The admin console in a real Chromium against a real server on loopback: sign-in with password
 * and a real TOTP code (oathtool), every section for a security admin with axe-core in English and
 * German, the dashboard charts against seeded resets, an unlock with a reason end to end, the audit
 * log filtered and downloaded as CSV and JSONL, and what helpdesk and auditor see and may do.
 */

let h: Harness;
let admins: ConsoleAdmins;
let browser: Browser;
let origin: string;
let alice: Person;
let bob: Person;
let carol: Person;

const ALERT_SUMMARY = '12 failed gates for one account within 15 minutes';
const HOSTILE_DEPARTMENT = '<img src=/x onerror=alert(1)>=HYPERLINK("x")';

beforeAll(async () => {
  ({ h, admins } = await startConsoleHarness('sqlite'));
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
  alice = await createPerson(h, 'alice', { department: 'Sales' });
  bob = await createPerson(h, 'bob', { department: 'Finance' });
  carol = await createPerson(h, 'carol', { department: 'Finance' });
  const aliceMethods = await enrolEmailAndTotp(h, alice);
  await enrolEmailAndTotp(h, bob);
  // A completed reset for alice (Sales): the dashboard must show it on today's column.
  const started = await startFlow(h, alice.email);
  const granted = await passTwoGates(h, started.token, aliceMethods);
  const reset = await call(h, 'POST', '/api/recovery/flow/password', { password: 'purple otter juggles seven lanterns', confirmPassword: 'purple otter juggles seven lanterns' }, { token: granted });
  expect(reset.statusCode, reset.body).toBe(200);
  await createPerson(h, 'mallory', { department: HOSTILE_DEPARTMENT });
  await lockAccount(h, bob.username);
  await lockAccount(h, carol.username);
  await h.latchkey.alerts.raise({ detectorId: 'repeated_failures', severity: 'high', dedupeKey: 'repeated_failures:test', summary: ALERT_SUMMARY, subject: asAccountId(bob.accountId), ip: '203.0.113.9', department: 'Finance', observed: { failures: 12 }, baseline: null, eventIds: [], at: h.clock.now() });
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** Signs in through the console's own page: username and password, then a current TOTP code. */
async function signIn(portal: PortalPage, admin: ConsoleAdmin, label: string, options: { wrongCodeFirst?: boolean } = {}): Promise<void> {
  const { page } = portal;
  await page.goto(`${origin}/admin`);
  await page.waitForURL('**/admin/sign-in');
  if (label) await checkPage(portal, `${label}-sign-in`);
  await page.locator('#username').fill(admin.username);
  await page.locator('#password').fill(admin.password);
  await page.locator('#sign-in-password button[type="submit"]').click();
  await page.locator('#code').waitFor({ state: 'visible' });
  if (label) await checkPage(portal, `${label}-sign-in-code`);
  h.clock.advance(30);
  if (options.wrongCodeFirst) {
    // A code from three steps ahead is outside the one-step drift window: refused, with the tries left.
    await page.locator('#code').fill(oathtoolCode(admin.totpSeed, h.clock, 3));
    await page.locator('#sign-in-code button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-error').innerText()).toContain('Tries left: 4');
    expect(page.url()).toContain('/admin/sign-in');
    portal.problems.length = 0;
  }
  await page.locator('#code').fill(oathtoolCode(admin.totpSeed, h.clock));
  await page.locator('#sign-in-code button[type="submit"]').click();
  await page.waitForURL('**/admin/dashboard');
}

const navSections = (page: Page): Promise<string[]> => page.locator('.console-nav a').evaluateAll((links) => links.map((link) => (link as unknown as { dataset: { section: string } }).dataset.section));
const tableRow = (page: Page, table: string, first: string) => page.locator(`table[data-${table.startsWith('chart') ? 'chart' : 'table'}="${table}"] tr`).filter({ has: page.locator('th', { hasText: first }) });

/** Every console page once, in the current language, each checked (axe-core, console, screenshot). */
async function visitEverySection(portal: PortalPage, label: string, query = ''): Promise<void> {
  const { page } = portal;
  const views: [string, string][] = [
    ['dashboard', '#chart-daily svg'],
    ['accounts', 'table[data-table="accounts"]'],
    [`accounts/${alice.accountId}`, 'table[data-table="recent-events"]'],
    ['audit', 'table[data-table="audit"]'],
    ['policy', 'table[data-table="policy-versions"]'],
    ['alerts', 'table[data-table="alerts"]'],
    ['outbox', 'table[data-table="outbox"]'],
  ];
  for (const [path, ready] of views) {
    await page.goto(`${origin}/admin/${path}${query}`);
    await page.locator(ready).first().waitFor();
    await checkPage(portal, `${label}-${path.startsWith('accounts/') ? 'account' : path}`);
    // Every string the script draws comes from the catalog: no bare message key on screen.
    expect(await page.locator('main').innerText()).not.toMatch(/\b(admin|error)\.[a-z_]+\./);
  }
}

describe('admin console for a security admin', () => {
  let portal: PortalPage;
  beforeAll(async () => {
    portal = await openPortalPage(browser, origin, { viewport: 'desktop', language: 'en-GB' });
    await signIn(portal, admins.security, 'admin-en');
  });
  afterAll(async () => {
    await portal?.close();
  });

  it('renders every section accessibly in English and in German', async () => {
    await visitEverySection(portal, 'admin-en');
    expect(await navSections(portal.page)).toEqual(['dashboard', 'accounts', 'helpdesk', 'dayone', 'audit', 'policy', 'alerts', 'outbox', 'recovery-paths', 'break-glass', 'privileged-holds']);
    await visitEverySection(portal, 'admin-de', '?lang=de');
    expect(await portal.page.getAttribute('html', 'lang')).toBe('de');
    expect(await portal.page.locator('.console-nav').innerText()).toContain('Audit-Protokoll');
    await portal.page.goto(`${origin}/admin/dashboard?lang=en`);
    expect(portal.foreignRequests).toEqual([]);
  });

  it('draws the seeded reset on today’s column and in the department and coverage tables, and lists the open alert', async () => {
    const { page } = portal;
    await page.goto(`${origin}/admin/dashboard`);
    const today = h.clock.now().toISOString().slice(0, 10);
    const bar = page.locator(`#chart-daily rect[data-day="${today}"][data-series="reset-completed"]`);
    await expect.poll(() => bar.getAttribute('data-value')).toBe('1');
    expect(Number(await bar.getAttribute('height'))).toBeGreaterThan(0);
    expect(await page.locator(`#chart-daily rect[data-day="${today}"][data-series="unlock-completed"]`).getAttribute('data-value')).toBe('0');
    expect(await page.locator('#chart-daily-desc').innerText()).toContain('1 resets (0 failed)');
    expect(await tableRow(page, 'chart-daily', today).locator('td').allTextContents()).toEqual(['1', '0', '0', '0']);
    expect(await tableRow(page, 'chart-department', 'Sales').locator('td').allTextContents()).toEqual(['1', '0', '0', '0']);
    expect(await tableRow(page, 'chart-method', 'email_code').locator('td').allTextContents()).toEqual(['1', '0']);
    expect(await tableRow(page, 'chart-method', 'totp').locator('td').allTextContents()).toEqual(['1', '0']);
    // alice (Sales) has two methods: covered; in Finance bob is covered and carol is not.
    expect(await tableRow(page, 'chart-coverage-department', 'Sales').locator('td').allTextContents()).toEqual(['1', '1', '100 %']);
    expect(await tableRow(page, 'chart-coverage-department', 'Finance').locator('td').allTextContents()).toEqual(['2', '1', '50 %']);
    expect(await page.locator('#chart-coverage-department rect[data-label="Finance"][data-series="covered"]').getAttribute('data-value')).toBe('1');
    expect(await page.locator('#open-alerts table').innerText()).toContain(ALERT_SUMMARY);
  });

  it('shows directory data as text: a department that looks like markup stays text', async () => {
    const { page } = portal;
    await page.goto(`${origin}/admin/accounts`);
    await page.locator('#query').fill('mallory');
    await page.locator('#account-search button[type="submit"]').click();
    await expect.poll(() => tableRow(page, 'accounts', 'mallory').locator('td').nth(1).innerText()).toBe(HOSTILE_DEPARTMENT);
    expect(await page.locator('main img').count()).toBe(0);
    expect(portal.problems).toEqual([]);
  });

  it('unlocks a locked account with a reason, end to end', async () => {
    const { page } = portal;
    expect((await h.latchkey.deps.directory.readLockState(asAccountId(bob.accountId))).locked).toBe(true);
    await page.goto(`${origin}/admin/accounts`);
    await page.locator('#query').fill('bob');
    await page.locator('#account-search button[type="submit"]').click();
    await page.locator('table[data-table="accounts"] a', { hasText: 'bob' }).click();
    await page.waitForURL((url) => decodeURIComponent(url.pathname) === `/admin/accounts/${bob.accountId}`);
    await page.locator('#unlock-form').waitFor();
    await checkPage(portal, 'admin-en-account-locked');
    await page.locator('#unlock-reason').fill('Called the helpdesk from his desk phone, identity checked');
    await page.locator('#unlock-form button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-status').innerText()).toBe('The account is unlocked.');
    expect(await page.locator('#unlock-form').count()).toBe(0);
    expect((await h.latchkey.deps.directory.readLockState(asAccountId(bob.accountId))).locked).toBe(false);
    const unlocked = (await auditEvents(h, { types: ['account.unlocked'] })).at(-1);
    expect(unlocked).toMatchObject({ subject: bob.accountId, reason: 'admin.action', actor: { kind: 'admin', id: admins.security.accountId } });
    expect(await page.locator('table[data-table="recent-events"]').innerText()).toContain('account.unlocked');
  });

  it('filters the audit log and downloads it as CSV and JSONL', async () => {
    const { page } = portal;
    await page.goto(`${origin}/admin/audit`);
    await page.locator('#since').fill('2020-01-01T00:00');
    await page.locator('#type').selectOption('password.reset');
    await page.locator('#audit-filter button[type="submit"]').click();
    await expect.poll(() => page.locator('table[data-table="audit"] tbody tr').count()).toBe(1);
    expect(await page.locator('table[data-table="audit"] tbody').innerText()).toContain(alice.accountId);
    const csvDownload = page.waitForEvent('download');
    await page.locator('#download-csv').click();
    const csv = readFileSync(await (await csvDownload).path(), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^seq,id,at,type,outcome,/);
    expect(csv).toHaveLength(2);
    expect(csv[1]).toContain(`,password.reset,success,`);
    expect(csv[1]).toContain(alice.accountId);
    const jsonlDownload = page.waitForEvent('download');
    await page.locator('#download-jsonl').click();
    const lines = readFileSync(await (await jsonlDownload).path(), 'utf8').trim().split('\n');
    expect(lines.map((line) => JSON.parse(line) as { type: string; subject: string })).toEqual([expect.objectContaining({ type: 'password.reset', subject: alice.accountId })]);
    expect((await auditEvents(h, { types: ['admin.audit_queried'] })).slice(-2).map((event) => event.data['format'])).toEqual(['csv', 'jsonl']);
  });

  it('simulates and publishes a policy change from the editor, shows its diff, and acknowledges an alert with a reason', async () => {
    const { page } = portal;
    await page.goto(`${origin}/admin/policy`);
    await expect.poll(() => page.locator('#policy-text').inputValue()).toContain('organisationName');
    await page.locator('#policy-simulate').click();
    await page.locator('#simulation').waitFor();
    expect(await page.locator('#simulation').innerText()).toContain('stranded: 0');
    const text = await page.locator('#policy-text').inputValue();
    await page.locator('#policy-text').fill(text.replace(/^organisationName: .*$/m, 'organisationName: Latchkey Console Test'));
    await page.locator('#policy-reason').fill('Name the organisation as the console shows it');
    await page.locator('#policy-publish').click();
    await expect.poll(() => page.locator('#console-status').innerText()).toBe('Version 2 is published.');
    await expect.poll(() => page.locator('table[data-table="policy-versions"]').innerText()).toContain('Name the organisation as the console shows it');
    await page.locator('button[data-version="2"]').click();
    await expect.poll(() => page.locator('#policy-diff').innerText()).toContain('+organisationName: Latchkey Console Test');
    expect(h.latchkey.deps.policy().organisationName).toBe('Latchkey Console Test');
    await checkPage(portal, 'admin-en-policy-published');
    await page.goto(`${origin}/admin/alerts`);
    await page.locator('#alert-action').waitFor();
    await page.locator('#alert-reason').fill('Looking into it with the account owner');
    await page.locator('#alert-action button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-status').innerText()).toBe('The alert is now acknowledged.');
  });

  it('signs out, and a later visit asks to sign in again', async () => {
    const { page } = portal;
    await page.goto(`${origin}/admin/dashboard`);
    await page.locator('#sign-out').click();
    await page.waitForURL('**/admin/sign-in?reason=signed_out');
    expect(await page.locator('#sign-in-notice').innerText()).toBe('You are signed out.');
    await page.goto(`${origin}/admin/accounts`);
    await page.waitForURL('**/admin/sign-in');
  });
});

describe('admin console per role', () => {
  it('lets helpdesk revoke a method and see the unlock form, and shows it neither the audit log nor the policy', async () => {
    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    try {
      await signIn(portal, admins.helpdesk, '', { wrongCodeFirst: true });
      const { page } = portal;
      expect(await navSections(page)).toEqual(['dashboard', 'accounts', 'helpdesk', 'dayone', 'alerts', 'outbox', 'privileged-holds']);
      // Helpdesk may revoke a standard account's method, with a reason; the person is told.
      await page.goto(`${origin}/admin/accounts/${bob.accountId}`);
      await page.locator('#revoke-form').waitFor();
      const before = await h.latchkey.store.enrollments.listForAccount(asAccountId(bob.accountId));
      const email = before.find((enrollment) => enrollment.methodId === 'email_code');
      await page.locator('#revoke-enrollment').selectOption(email?.id ?? '');
      await page.locator('#revoke-reason').fill('Reported the alternate address as lost');
      await page.locator('#revoke-form button[type="submit"]').click();
      await expect.poll(() => page.locator('#console-status').innerText()).toBe('The method is revoked; the person has been told.');
      const after = await h.latchkey.store.enrollments.listForAccount(asAccountId(bob.accountId));
      expect(after.some((enrollment) => enrollment.id === email?.id && enrollment.status === 'active')).toBe(false);
      expect((await auditEvents(h, { types: ['enrollment.removed'] })).at(-1)).toMatchObject({ subject: bob.accountId, reason: 'admin.revoked', actor: { kind: 'admin', id: admins.helpdesk.accountId } });
      await page.goto(`${origin}/admin/accounts/${carol.accountId}`);
      await page.locator('#unlock-form').waitFor();
      await checkPage(portal, 'admin-helpdesk-account');
      const policy = await page.goto(`${origin}/admin/policy`);
      expect(policy?.status()).toBe(403);
      expect(await page.locator('h1').innerText()).toBe('Not available to your role');
      expect(await page.locator('#policy-editor').count()).toBe(0);
      const audit = await page.goto(`${origin}/admin/audit`);
      expect(audit?.status()).toBe(403);
    } finally {
      await portal.close();
    }
  });

  it('gives the auditor no action buttons, and a forced POST from the page gets 403', async () => {
    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    try {
      await signIn(portal, admins.auditor, '');
      const { page } = portal;
      await page.goto(`${origin}/admin/accounts/${carol.accountId}`);
      await page.locator('table[data-table="recent-events"]').waitFor();
      await checkPage(portal, 'admin-auditor-account');
      expect(await page.locator('#account-facts').innerText()).toContain('yes');
      expect(await page.locator('#unlock-form, #revoke-form').count()).toBe(0);
      await page.goto(`${origin}/admin/alerts`);
      await page.locator('table[data-table="alerts"], #alerts-results .empty').first().waitFor();
      expect(await page.locator('#alert-action').count()).toBe(0);
      await page.goto(`${origin}/admin/policy`);
      await page.locator('table[data-table="policy-versions"]').waitFor();
      expect(await page.locator('#policy-editor, #policy-publish').count()).toBe(0);
      // The only buttons left are the diff viewers of the history: nothing that changes anything.
      expect(await page.locator('main button:not([data-version])').count()).toBe(0);
      expect(await page.locator('main button[data-version]').count()).toBeGreaterThan(0);
      // The buttons are only a courtesy: the API refuses the auditor even with a valid CSRF token.
      const status = await page.evaluate(async (target) => {
        const view = globalThis as unknown as PageWindow & { document: { body: { getAttribute(name: string): string | null } } };
        const response = await fetch(`/api/admin/accounts/${target}/unlock`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': view.document.body.getAttribute('data-csrf') ?? '' },
          body: JSON.stringify({ reason: 'forced from the console page' }),
        });
        return response.status;
      }, carol.accountId);
      expect(status).toBe(403);
      expect((await h.latchkey.deps.directory.readLockState(asAccountId(carol.accountId))).locked).toBe(true);
      const denied = (await auditEvents(h, { types: ['admin.access_denied'] })).at(-1);
      expect(denied).toMatchObject({ actor: { kind: 'admin', id: admins.auditor.accountId } });
    } finally {
      await portal.close();
    }
  });

  it('sends an admin whose session idled out back to sign-in with a message (phone, German)', async () => {
    const portal = await openPortalPage(browser, origin, { viewport: 'phone', language: 'de-DE' });
    try {
      await signIn(portal, admins.auditor, 'admin-phone-de');
      const { page } = portal;
      await checkPage(portal, 'admin-phone-de-dashboard');
      h.clock.advance(h.latchkey.config.admin.sessionIdleSeconds + 1);
      await page.locator('.console-nav a[data-section="accounts"]').click();
      await page.waitForURL('**/admin/sign-in?reason=expired');
      expect(await page.locator('#sign-in-notice').innerText()).toBe('Ihre Sitzung in der Konsole ist abgelaufen. Melden Sie sich erneut an.');
      await checkPage(portal, 'admin-phone-de-expired');
    } finally {
      await portal.close();
    }
  });
});

