import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { CustodianShare } from '../../src/core/breakglass/custody.ts';
import { auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, signInFresh, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { startConsoleHarness, type ConsoleAdmin, type ConsoleAdmins } from '../pages/admin-console.support.ts';
import { privilegedRecovery } from '../privileged/support.ts';
import { checkPage, launchChromium, listen, openPortalPage, type PortalPage } from './support.ts';

/*
 * The console's governance sections in a real Chromium against a real server on loopback: the
 * default policy's recovery paths and findings, an emergency opening of a sealed break-glass account
 * with two of three shares entered by two custodians in their own sessions (the password shown once,
 * binding in the built-in directory, no share left in the page, a URL or the audit log), a held
 * privileged recovery confirmed by a second admin after the page showed the refusal of a
 * self-confirmation, and an auditor who reads but has no action. axe-core in English and German.
 */

/** The password privilegedRecovery sets with recovery code 0. */
const NEW_PASSWORD_0 = 'violet harbour drifts 0 quiet miles';
/** One alternate address two people registered: an account finding, never shown. */
const SHARED_ADDRESS = 'family.inbox@example.org';

let h: Harness;
let admins: ConsoleAdmins;
let browser: Browser;
let origin: string;
/** A second security admin: a custodian, and privileged (group admins), so it has a held recovery of its own. */
let secTwo: ConsoleAdmin;
let adm: Person;
let bg: Person;
let shares: CustodianShare[] = [];

beforeAll(async () => {
  ({ h, admins } = await startConsoleHarness('sqlite', { policy: [(policy) => void (policy.privileged.holdForConfirmation = true)] }));
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
  bg = await createPerson(h, 'bg-admin', { groups: ['break-glass'], department: 'IT' });
  const sealed = await h.latchkey.breakGlass.service.seal(bg.username, [admins.security.username, 'sec.two', 'carol'], 2, { kind: 'cli', id: 'test', ip: null, userAgent: null });
  shares = sealed.shares;
  adm = await createPerson(h, 'adm', { groups: ['admins'], department: 'IT' });
  const admMethods = await enrolEmailAndTotp(h, adm, { recoveryCodes: true });
  const two = await createPerson(h, 'sec.two', { groups: ['sec-admins', 'admins'], department: 'Security' });
  const twoMethods: Enrolled = await enrolEmailAndTotp(h, two, { recoveryCodes: true });
  await privilegedRecovery(h, adm.username, admMethods, 0);
  await privilegedRecovery(h, two.username, twoMethods, 0);
  secTwo = { ...two, password: NEW_PASSWORD_0, totpSeed: twoMethods.totpSeed };
  for (const name of ['dana', 'erik']) {
    const session = await signInFresh(h, await createPerson(h, name));
    const added = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: SHARED_ADDRESS }, { token: session }));
    const verified = await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { code: await latestCode(h, SHARED_ADDRESS) }, { token: session });
    expect(verified.statusCode, verified.body).toBe(200);
  }
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

/** Signs in through the console's page with password and a current TOTP code, at a fresh time step. */
async function signIn(admin: ConsoleAdmin): Promise<PortalPage> {
  const portal = await openPortalPage(browser, origin, { viewport: 'desktop', language: 'en-GB' });
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
  return portal;
}

const navSections = (page: Page): Promise<string[]> => page.locator('.console-nav a').evaluateAll((links) => links.map((link) => (link as unknown as { dataset: { section: string } }).dataset.section));
const tableRow = (page: Page, table: string, first: string) => page.locator(`table[data-table="${table}"] tbody tr`).filter({ has: page.locator('th', { hasText: first }) });

/** Every way a share could be written: as printed, and without dashes or spaces. */
const shareForms = (share: CustodianShare): string[] => [share.code, share.code.replaceAll('-', ''), share.code.replaceAll('-', ' ')];

describe('governance pages for a security admin', () => {
  let portal: PortalPage;
  let second: PortalPage;
  const requested: string[] = [];
  beforeAll(async () => {
    [portal, second] = await Promise.all([signIn(admins.security), signIn(secTwo)]);
    for (const { page } of [portal, second]) page.on('request', (request) => requested.push(`${request.url()} ${request.postData() ?? ''}`));
  });
  afterAll(async () => {
    await portal?.close();
    await second?.close();
  });

  it('lists every recovery path of the default policy per tier with its findings, in English and German', async () => {
    const { page } = portal;
    expect(await navSections(page)).toEqual(expect.arrayContaining(['recovery-paths', 'break-glass', 'privileged-holds']));
    await page.goto(`${origin}/admin/recovery-paths`);
    await page.locator('table[data-table="account-findings"], #account-findings .empty').first().waitFor();
    await page.locator('table[data-table="paths-standard"]').waitFor();
    // The nine standard combinations (passkeys included) and the helpdesk path; one privileged combination; no break-glass path.
    expect(await page.locator('table[data-table="paths-standard"] tbody tr').count()).toBe(10);
    await expect.poll(() => tableRow(page, 'paths-standard', 'totp + sms_code').locator('[data-finding]').evaluateAll((items) => items.map((item) => (item as unknown as { dataset: { finding: string } }).dataset.finding))).toEqual(['path.same_device']);
    expect(await tableRow(page, 'paths-privileged', 'totp + recovery_code').locator('[data-finding="path.privileged_not_phishing_resistant"] [data-severity="warning"]').count()).toBe(1);
    expect(await page.locator('[data-tier="standard"] [data-finding="helpdesk.out_of_band_verification"]').count()).toBe(1);
    expect(await page.locator('[data-tier="break_glass"] [data-finding="tier.no_self_service"]').count()).toBe(1);
    expect(await page.locator('[data-table="paths-break_glass"]').innerText()).toBe('No way to recover by self-service or through the helpdesk.');
    // Exactly the four findings the API counts for the shipped default, no more drawn than it reports.
    expect(await page.locator('#paths-results [data-finding]').count()).toBe(4);
    expect(await page.locator('#paths-version').innerText()).toContain('4 findings');
    // Account findings: the shared address is named by the accounts holding it, never by itself.
    const shared = page.locator('table[data-table="account-findings"] tbody tr').filter({ has: page.locator('[data-finding="account.shared_channel"]') });
    expect(await shared.innerText()).toMatch(/dana \(standard\), erik \(standard\)/);
    expect(await page.content()).not.toContain(SHARED_ADDRESS);
    await checkPage(portal, 'admin-governance-paths-en');
    await page.goto(`${origin}/admin/recovery-paths?lang=de`);
    await page.locator('table[data-table="paths-privileged"]').waitFor();
    expect(await page.locator('main').innerText()).toContain('Wiederherstellungswege der Stufe privileged');
    expect(await page.locator('main').innerText()).not.toMatch(/\b(admin|error)\.[a-z_]+\./);
    await checkPage(portal, 'admin-governance-paths-de');
    await page.goto(`${origin}/admin/break-glass?lang=de`);
    await tableRow(page, 'breakglass-status', 'bg-admin').waitFor();
    await checkPage(portal, 'admin-governance-break-glass-de');
    await page.goto(`${origin}/admin/privileged-holds?lang=de`);
    await page.locator('#hold-confirm').waitFor();
    await checkPage(portal, 'admin-governance-holds-de');
    await page.goto(`${origin}/admin/dashboard?lang=en`);
    expect(portal.foreignRequests).toEqual([]);
  });

  it('opens the break-glass account with two of three shares from two custodians, shows the password once, and keeps no share anywhere', async () => {
    const [first, own, third] = shares;
    if (!first || !own || !third) throw new Error('the seal made three shares');
    const { page } = portal;
    await page.goto(`${origin}/admin/break-glass`);
    const row = tableRow(page, 'breakglass-status', 'bg-admin');
    await row.waitFor();
    expect(await row.innerText()).toContain('sealed');
    expect(await row.innerText()).toContain('sec.admin, sec.two, carol');
    await checkPage(portal, 'admin-governance-break-glass-en');

    await page.locator('#breakglass-account').fill('bg-admin');
    await page.locator('#breakglass-reason').fill('SSO down, INC-4711');
    await page.locator('#breakglass-start button[type="submit"]').click();
    await page.locator('#breakglass-opening-id').waitFor();
    const openingId = await page.locator('#breakglass-opening-id').innerText();
    expect(await page.locator('#breakglass-progress').innerText()).toBe('0 of 2 shares received: 2 more needed.');
    // Keyboard: the share field has the focus, is a password field and is submitted with Enter.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string; type: string } } }).document.activeElement.id)).toBe('breakglass-share-input');
    expect(await page.locator('#breakglass-share-input').getAttribute('type')).toBe('password');
    await page.keyboard.type(first.code);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#breakglass-progress').innerText()).toBe('1 of 2 shares received: 1 more needed.');
    expect(await page.locator('#breakglass-share-input').inputValue()).toBe('');
    await checkPage(portal, 'admin-governance-break-glass-opening');

    // The same operator cannot give a second share: the API refuses it and the page says why.
    await page.locator('#breakglass-share-input').fill(third.code);
    await page.locator('#breakglass-share button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-error').innerText()).toContain('each share must come from a different custodian');
    expect(await page.locator('#breakglass-share-input').inputValue()).toBe('');
    portal.problems.length = 0;

    // The second custodian follows the link to the opening in their own session.
    const other = second.page;
    await other.goto(`${origin}/admin/break-glass?opening=${openingId}`);
    await other.locator('#breakglass-share-input').fill(own.code);
    await other.locator('#breakglass-share button[type="submit"]').click();
    await other.locator('#breakglass-password').waitFor();
    const password = await other.locator('#breakglass-password').innerText();
    expect(password).toHaveLength(40);
    expect(await other.locator('#breakglass-reveal').innerText()).toContain('Shown once');
    expect(await other.locator('#breakglass-progress').innerText()).toBe('Enough shares: the account is open.');
    expect(await other.locator('#breakglass-share-input').count()).toBe(0);
    await expect.poll(() => tableRow(other, 'breakglass-status', 'bg-admin').innerText()).toContain('opened');
    await second.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    await other.locator('#breakglass-copy').click();
    await expect.poll(() => other.locator('#console-status').innerText()).toBe('Password copied.');
    expect(await other.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(password);
    await checkPage(second, 'admin-governance-break-glass-revealed');

    // The shown password binds in the built-in directory.
    const lookup = await h.latchkey.deps.directory.findByIdentifier(bg.username);
    if (lookup.kind !== 'one') throw new Error('bg-admin not found');
    expect(await h.latchkey.deps.directory.verifyPassword(lookup.account.id, password)).toBe('valid');

    // Gone on reload: the password lived only in the page's memory.
    await other.reload();
    await tableRow(other, 'breakglass-status', 'bg-admin').waitFor();
    expect(await other.locator('#breakglass-password').count()).toBe(0);
    expect(await other.content()).not.toContain(password);

    // No share in either page, in any URL, or in the audit log; no share or password in the audit log.
    const audit = JSON.stringify(await auditEvents(h));
    for (const share of [first, own, third]) {
      for (const form of shareForms(share)) {
        expect(await page.content()).not.toContain(form);
        expect(await other.content()).not.toContain(form);
        expect(audit).not.toContain(form);
        expect(requested.filter((line) => line.split(' ')[0]?.includes(form))).toEqual([]);
      }
    }
    expect(audit).not.toContain(password);
    const opened = await auditEvents(h, { types: ['breakglass.opened'] });
    expect(opened.map((event) => event.data['shares_from'])).toEqual(['sec.admin sec.two']);
  });

  it('shows the refusal of a self-confirmation, then confirms a held recovery as a second admin', async () => {
    const other = second.page;
    await other.goto(`${origin}/admin/privileged-holds`);
    await other.locator('#hold-confirm').waitFor();
    expect(await other.locator('table[data-table="holds"] tbody tr').count()).toBe(2);
    await other.locator('#hold-id').selectOption((await other.locator('#hold-id option', { hasText: /^sec\.two ·/ }).getAttribute('value')) ?? '');
    await other.locator('#hold-reason').fill('it was me');
    await other.locator('#hold-confirm button[type="submit"]').click();
    await expect.poll(() => other.locator('#console-error').innerText()).toContain('Another administrator must confirm this held recovery.');
    second.problems.length = 0;

    const { page } = portal;
    await page.goto(`${origin}/admin/privileged-holds`);
    const admRow = tableRow(page, 'holds', 'adm');
    await admRow.waitFor();
    expect(await admRow.innerText()).toContain('held');
    await page.locator('#hold-id').selectOption((await page.locator('#hold-id option', { hasText: /^adm ·/ }).getAttribute('value')) ?? '');
    await page.locator('#hold-reason').fill('called adm on the desk phone');
    await page.locator('#hold-confirm button[type="submit"]').click();
    await expect.poll(() => page.locator('#console-status').innerText()).toBe('Confirmed the recovery of adm.');
    await page.locator('#hold-status').selectOption('confirmed');
    await page.locator('#holds-filter button[type="submit"]').click();
    await expect.poll(() => tableRow(page, 'holds', 'adm').innerText()).toContain('confirmed');
    await checkPage(portal, 'admin-governance-holds-en');
    const [confirmed] = await auditEvents(h, { types: ['privileged.recovery_confirmed'] });
    expect(confirmed).toMatchObject({ subject: adm.accountId, outcome: 'success', actor: { kind: 'admin' }, data: { reason_text: 'called adm on the desk phone', late: false } });
  });
});

describe('governance pages for an auditor', () => {
  it('shows recovery paths, break-glass status and holds, but no opening, no share field and no confirm; a forced opening is refused', async () => {
    // Past the drill interval and every hold's deadline: the page must flag both.
    h.clock.advance(91 * 86_400);
    const portal = await signIn(admins.auditor);
    const { page } = portal;
    try {
      expect(await navSections(page)).toEqual(expect.arrayContaining(['recovery-paths', 'break-glass', 'privileged-holds']));
      await page.goto(`${origin}/admin/recovery-paths`);
      await page.locator('table[data-table="paths-standard"]').waitFor();
      await page.goto(`${origin}/admin/break-glass`);
      await tableRow(page, 'breakglass-status', 'bg-admin').waitFor();
      expect(await tableRow(page, 'breakglass-status', 'bg-admin').locator('[data-flag="drill_overdue"]').innerText()).toBe('Drill overdue');
      expect(await page.locator('#breakglass-read-only').isVisible()).toBe(true);
      expect(await page.locator('#breakglass-start, #breakglass-join, #breakglass-share-input').count()).toBe(0);
      await checkPage(portal, 'admin-governance-break-glass-auditor');
      const forced = await page.evaluate(async () => {
        const doc = (globalThis as unknown as { document: { body: { getAttribute(name: string): string | null } } }).document;
        const response = await fetch('/api/admin/breakglass/openings', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': doc.body.getAttribute('data-csrf') ?? '' }, body: JSON.stringify({ account: 'bg-admin', reason: 'just looking' }) });
        return response.status;
      });
      expect(forced).toBe(403);
      await page.goto(`${origin}/admin/privileged-holds?status=`);
      await page.locator('table[data-table="holds"]').waitFor();
      expect(await tableRow(page, 'holds', 'sec.two').innerText()).toContain('deadline missed');
      expect(await page.locator('#hold-confirm').count()).toBe(0);
    } finally {
      await portal.close();
    }
  });
});
