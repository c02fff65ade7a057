import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createPerson, latestCode, oathtoolCode, roomyLimits, type Harness, type Person } from '../support/harness.ts';
import { startPortalHarness } from '../pages/support.ts';
import { checkPage, expectVisibleFocus, launchChromium, listen, openPortalPage, tabTo, type ViewportName } from './support.ts';

/*
 * The travel page of "My recovery methods" in a real Chromium: sign in, register an authenticator
 * app (the code from oathtool), open Travel from /me, see the app among the methods that work
 * without a phone signal, be told which field is wrong, declare a trip with the keyboard and cancel
 * it. Then, past the re-confirmation interval (180 days), sign in with the app, see the prompt,
 * confirm the alternate email with a wrong and then the sent code. axe-core and a screenshot on
 * every page, in English on the desktop and German on a phone.
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

const dayFrom = (days: number): string => new Date(h.clock.now().getTime() + days * 86_400_000).toISOString().slice(0, 10);
const heading = async (page: Page): Promise<string> => (await page.locator('h1').innerText()).replace(/\u00ad/g, '');

async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(selector).first().click()]);
}

async function signIn(page: Page, person: Person): Promise<void> {
  await page.goto(`${origin}/me/sign-in`);
  await page.locator('#username').fill(person.username);
  await page.locator('#password').fill(person.password);
  await Promise.all([page.waitForURL(/\/me(\/gate)?$/), page.locator('main form[action="/me/sign-in"] button[type="submit"]').click()]);
}

describe.each([
  { viewport: 'desktop' as ViewportName, language: 'en-GB', strings: { travel: 'Travel', app: 'Authenticator app', email: 'Alternate email (t•••e@example.test)', countries: 'Countries:', declared: 'Your trip is declared.', cancelled: 'Your trip is cancelled.', status: 'Cancelled' } },
  { viewport: 'phone' as ViewportName, language: 'de-DE', strings: { travel: 'Reisen', app: 'Authenticator-App', email: 'Alternative E-Mail (t•••e@example.test)', countries: 'Länder:', declared: 'Ihre Reise ist angegeben.', cancelled: 'Ihre Reise ist storniert.', status: 'Storniert' } },
])('travel page in the browser ($viewport, $language)', ({ viewport, language, strings }) => {
  it('declares a trip, shows the methods that work without a signal, names a wrong field, cancels the trip; later confirms the stale email is still theirs', async () => {
    const label = `me-travel-${viewport}-${language}`;
    const person = await createPerson(h, `travel${viewport}`);
    const portal = await openPortalPage(browser, origin, { viewport, language });
    const { page } = portal;
    try {
      await signIn(page, person);

      // An authenticator app: works without a phone signal.
      await submit(page, 'form:has(input[name="method"][value="totp"]) button[type="submit"]');
      const seed = (await page.locator('#totp-secret').getAttribute('data-secret')) ?? '';
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form button[type="submit"]').first().click()]);
      // An alternate email: needs a signal, so it is not on the travel list.
      const address = `${person.username}.home@example.test`;
      await page.locator('#address').fill(address);
      await submit(page, 'form:has(input[name="method"][value="email_code"]) button[type="submit"]');
      await page.locator('#code').fill(await latestCode(h, address));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form button[type="submit"]').first().click()]);

      await Promise.all([page.waitForURL('**/me/travel'), page.locator('a[href="/me/travel"]').click()]);
      expect(await heading(page)).toBe(strings.travel);
      await checkPage(portal, `${label}-empty`);
      expect(await page.locator('#no-signal li[data-method="totp"]').innerText()).toContain(strings.app);

      // A wrong country code: 422, the summary names the field and links to it.
      await page.locator('#countries').fill('France');
      await page.locator('#from').fill(dayFrom(3));
      await page.locator('#to').fill(dayFrom(9));
      await submit(page, 'main form[action="/me/travel"] button[type="submit"]');
      expect(await page.locator('#error-summary').innerText()).toContain(strings.countries);
      expect(await page.locator('#countries').getAttribute('aria-invalid')).toBe('true');
      // The page itself is the 422 answer: the only console line is Chromium reporting that status.
      expect(portal.problems).toEqual(['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
      portal.problems.length = 0;
      await checkPage(portal, `${label}-error`);

      // Declared with the keyboard alone: focus the field, type, Enter submits.
      await tabTo(page, '#countries', 60);
      await expectVisibleFocus(page);
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type('FR, JP');
      await Promise.all([page.waitForURL('**/me/travel'), page.keyboard.press('Enter')]);
      expect(await page.locator('.notice').innerText()).toContain(strings.declared);
      expect(await page.locator('li.trip').count()).toBe(1);
      expect(await page.locator('li.trip strong').innerText()).toContain('(JP)');
      await checkPage(portal, `${label}-declared`);

      await submit(page, 'li.trip form button[type="submit"]');
      expect(await page.locator('.notice').innerText()).toContain(strings.cancelled);
      expect(await page.locator('li.trip').innerText()).toContain(strings.status);
      expect(await page.locator('li.trip form').count()).toBe(0);
      await checkPage(portal, `${label}-cancelled`);

      // Past the re-confirmation interval (180 days): signing in with the app, the unused email is due.
      h.clock.advance(181 * 86_400);
      await signIn(page, person);
      await page.locator('input[name="method"][value="totp"]').check();
      await submit(page, 'main form[action="/me/gate/method"] button[type="submit"]');
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main form[action="/me/gate/answer"] button[type="submit"]').click()]);
      expect(await page.locator('.reconfirm-prompt li').count()).toBe(1);
      expect(await page.locator('.reconfirm-prompt').innerText()).toContain(strings.email);
      await checkPage(portal, `${label}-reconfirm-prompt`);
      await submit(page, 'li.method[data-method="email_code"] form[action$="/reconfirm"] button');
      await checkPage(portal, `${label}-reconfirm-code`);
      const code = await latestCode(h, address);
      await page.locator('#code').fill(code === '00000000' ? '11111111' : '00000000');
      await submit(page, 'main form button[type="submit"]');
      expect(await page.locator('#error-summary a[href="#code"]').count()).toBe(1);
      expect(portal.problems).toEqual(['Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)']);
      portal.problems.length = 0;
      await checkPage(portal, `${label}-reconfirm-wrong`);
      await page.locator('#code').fill(code);
      await Promise.all([page.waitForURL('**/reconfirmed'), page.locator('main form button[type="submit"]').click()]);
      expect(await page.locator('.notice').innerText()).toContain(strings.email);
      await checkPage(portal, `${label}-reconfirmed`);
      await Promise.all([page.waitForURL(/\/me$/), page.locator('main a.button[href="/me"]').click()]);
      expect(await page.locator('.reconfirm-prompt').count()).toBe(0);
      expect(portal.foreignRequests).toEqual([]);
    } finally {
      await portal.close();
    }
  });
});
