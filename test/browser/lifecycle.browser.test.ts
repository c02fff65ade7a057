import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { call, createPerson, json, latestCode, messagesTo, oathtoolCode, registerTotp, roomyLimits, signInFresh, type Harness, type Person } from '../support/harness.ts';
import { startPortalHarness } from '../pages/support.ts';
import { helpdeskToken } from '../helpdesk/support.ts';
import { disputeLinkTo } from '../lifecycle/support.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import { checkPage, launchChromium, listen, openPortalPage, type PortalPage } from './support.ts';

/*
 * Changing methods safely, through the portal pages in a real Chromium: the "counts from" date of a
 * method added while an earlier one exists (cooling-off), the "this wasn't me" link of the change
 * notice (its page changes nothing; its button reverts the change and freezes self-service), and a
 * day-one pass that signs a new hire in to /me, where only registering the minimum is allowed.
 * axe-core and a screenshot on every page.
 */

let h: Harness;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  h = await startPortalHarness('sqlite', { policy: [roomyLimits] });
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const heading = async (page: Page): Promise<string> => (await page.locator('h1').innerText()).replace(/\u00ad/g, '');
const methodsOf = async (person: Person): Promise<string[]> => (await h.latchkey.store.enrollments.listForAccount(asAccountId(person.accountId))).map((record) => record.methodId).sort();
/** Chromium logs the status of a page that is itself a 4xx answer; nothing else may be logged. */
const dropStatusLines = (portal: PortalPage): void => {
  const rest = portal.problems.filter((line) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(line));
  portal.problems.length = 0;
  portal.problems.push(...rest);
};

async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(selector).first().click()]);
}

async function passwordSignIn(page: Page, person: Person): Promise<void> {
  await page.goto(`${origin}/me/sign-in`);
  await page.locator('#username').fill(person.username);
  await page.locator('#password').fill(person.password);
  await submit(page, 'main form[action="/me/sign-in"] button[type="submit"]');
}

describe('changing methods in the portal', () => {
  it('shows when a new email counts; the notice link changes nothing until confirmed, then reverts and freezes', async () => {
    const person = await createPerson(h, 'lcara');
    // The authenticator app was registered earlier, on an account with none: it counts at once.
    const seed = await registerTotp(h, await signInFresh(h, person));
    h.clock.advance(30);
    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    const { page } = portal;
    const mail = await openPortalPage(browser, origin, { viewport: 'phone' });
    try {
      await passwordSignIn(page, person);
      await page.waitForURL('**/me/gate');
      await page.locator('input[name="method"][value="totp"]').check();
      await submit(page, 'main form[action="/me/gate/method"] button[type="submit"]');
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form[action="/me/gate/answer"] button[type="submit"]').click()]);
      expect(await heading(page)).toBe('My recovery methods');

      const address = 'lcara.home@example.test';
      await page.locator('#address').fill(address);
      await submit(page, 'form:has(input[name="method"][value="email_code"]) button[type="submit"]');
      await page.locator('#code').fill(await latestCode(h, address));
      const verifiedFrom = h.clock.now().getTime();
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form button[type="submit"]').first().click()]);
      const verifiedBy = h.clock.now().getTime();
      expect(await page.locator('.notice').innerText()).toContain('The method is added.');
      // Cooling-off: the new email says from when it counts; the earlier app does not.
      const stored = await h.latchkey.store.enrollments.listForAccount(asAccountId(person.accountId));
      const emailId = stored.find((record) => record.methodId === 'email_code')?.id;
      expect(emailId).toBeDefined();
      const facts = await page.locator('li.method[data-method="email_code"] .method-facts').innerText();
      const shown = /Counts from (\w{3} \d{1,2}, \d{4}, \d{1,2}:\d{2} [AP]M) UTC/.exec(facts)?.[1] ?? '';
      // 24 hours after the code was entered, shown to the minute.
      const countsFrom = Date.parse(`${shown} UTC`);
      expect(countsFrom, facts).toBeGreaterThan(verifiedFrom + 86_400_000 - 60_000);
      expect(countsFrom, facts).toBeLessThanOrEqual(verifiedBy + 86_400_000);
      expect(await page.locator('li.method[data-method="totp"] .method-facts').innerText()).not.toContain('Counts from');
      await checkPage(portal, 'lifecycle-counts-from');

      // The notice went to the address of record (an earlier channel), not to the new address.
      const link = await disputeLinkTo(h, person.email);
      expect((await messagesTo(h, address)).filter((message) => message.purpose === 'enrollment_notice')).toHaveLength(0);

      // Opened from the mail, in another browser: the page changes nothing, however often it is opened.
      for (let visit = 0; visit < 2; visit += 1) {
        await mail.page.goto(`${origin}${link.path}`);
        expect(await heading(mail.page)).toBe('Was this change not you?');
      }
      await checkPage(mail, 'lifecycle-dispute-page');
      expect(await h.latchkey.store.enrollments.get(emailId as never)).not.toBeNull();
      expect(await methodsOf(person)).toEqual(['email_code', 'totp']);
      expect(await h.latchkey.store.methodChanges.getFreeze(asAccountId(person.accountId))).toBeNull();

      // The button does it: the email is gone, self-service is frozen.
      await submit(mail.page, 'main form[method="post"] button[type="submit"]');
      expect(await heading(mail.page)).toBe('The change was undone');
      await checkPage(mail, 'lifecycle-dispute-done');
      expect(await h.latchkey.store.enrollments.get(emailId as never)).toBeNull();
      expect(await methodsOf(person)).toEqual(['totp']);
      expect(await h.latchkey.store.methodChanges.getFreeze(asAccountId(person.accountId))).not.toBeNull();

      // The session in the first browser ended; signing in again meets the helpdesk message.
      await page.goto(`${origin}/me`);
      await page.waitForURL('**/me/sign-in');
      await passwordSignIn(page, person);
      await page.waitForURL('**/me/sign-in');
      expect(await page.locator('#error-summary').innerText()).toContain('Self-service is paused for this account after a disputed change. Contact the helpdesk.');
      dropStatusLines(portal);
      await checkPage(portal, 'lifecycle-frozen-sign-in');
      expect(portal.foreignRequests).toEqual([]);
      expect(mail.foreignRequests).toEqual([]);
    } finally {
      await portal.close();
      await mail.close();
    }
  });

  it('signs a new hire in with a day-one pass, allows only registering until the minimum is met, then shows /me', async () => {
    const person = await createPerson(h, 'lcnia');
    const personal = 'lcnia@home.example';
    const startDate = new Date(h.clock.now().getTime() + 2 * 86_400_000).toISOString().slice(0, 10);
    const csv = ['username,start_date,manager_email,personal_email', `${person.username},${startDate},boss@corp.test,${personal}`].join('\n');
    const issued = await call(h, 'POST', '/api/admin/dayone/passes', { csv, delivery: 'manager' }, { token: (await helpdeskToken(h)).token });
    expect(issued.statusCode, issued.body).toBe(200);
    expect(json<{ issued: { username: string }[] }>(issued).issued.map((item) => item.username)).toEqual([person.username]);
    const pass = /: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\n/.exec((await messagesTo(h, 'boss@corp.test')).at(-1)?.text ?? '')?.[1] ?? '';
    expect(pass).not.toBe('');
    h.clock.advance((Date.parse(`${startDate}T08:00:00Z`) - h.clock.now().getTime()) / 1000 + 60);

    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    const { page } = portal;
    try {
      await page.goto(`${origin}/me/sign-in`);
      await page.locator('#pass-username').fill(person.username);
      await page.locator('#pass').fill(pass);
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form[action="/me/sign-in/pass"] button[type="submit"]').click()]);
      expect(await page.locator('.prompt').innerText()).toContain('Add 2 more methods: your organisation asks for at least 2.');
      await checkPage(portal, 'lifecycle-dayone-prompt');

      // An authenticator app, from the key on the page.
      await submit(page, 'form:has(input[name="method"][value="totp"]) button[type="submit"]');
      const seed = (await page.locator('#totp-secret').getAttribute('data-secret')) ?? '';
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form button[type="submit"]').first().click()]);
      expect(await page.locator('.prompt').innerText()).toContain('Add one more method');

      // Anything but registering is refused while the minimum is not met: removing the app is.
      await Promise.all([page.waitForURL(/\/me$/), page.locator('li.method[data-method="totp"] form button').click()]);
      expect(await page.locator('#error-summary').innerText()).toContain('Register the required recovery methods first.');
      expect(await methodsOf(person)).toContain('totp');
      dropStatusLines(portal);
      await checkPage(portal, 'lifecycle-dayone-refused');

      // The personal email, with the code sent to it: the minimum is met.
      await page.locator('#address').fill(personal);
      await submit(page, 'form:has(input[name="method"][value="email_code"]) button[type="submit"]');
      await page.locator('#code').fill(await latestCode(h, personal));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form button[type="submit"]').first().click()]);
      expect(await heading(page)).toBe('My recovery methods');
      expect(await page.locator('.prompt').count()).toBe(0);
      expect(await page.locator('li.method[data-method="totp"]').count()).toBe(1);
      expect(await page.locator('li.method[data-method="email_code"]').count()).toBe(1);
      expect(await page.locator('li.method[data-method="temporary_access_pass"]').count()).toBe(0);
      await checkPage(portal, 'lifecycle-dayone-done');
      expect(portal.foreignRequests).toEqual([]);
    } finally {
      await portal.close();
    }
  });
});
