import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { auditEvents, call, createPerson, oathtoolCode, roomyLimits, type Harness, type Person } from '../support/harness.ts';
import { startPortalHarness } from '../pages/support.ts';
import { allowPasskeys } from '../methods/webauthn.soft-authenticator.ts';
import { checkPage, expectVisibleFocus, launchChromium, openPortalPage, tabTo, type PortalPage, type ViewportName } from './support.ts';

/*
 * "My recovery methods" and passkeys in a real Chromium against a real server on loopback, with
 * Chromium's own virtual authenticator (DevTools protocol: ctap2, internal, resident key, user
 * verification): register an authenticator app (the code computed by oathtool from the key on the
 * page), a passkey and recovery codes (shown once, downloaded), remove one with step-up through the
 * passkey, sign out; then Forgot password with the passkey as the first gate and the app as the
 * second. axe-core and a screenshot on every page, in English on the desktop and German on a phone.
 *
 * WebAuthn needs a secure context: http://localhost is one, 127.0.0.1 is not a valid RP id. The
 * server listens on 127.0.0.1 and the browser opens localhost; the port is chosen before the server
 * is composed, because the RP origins are configuration (a brief window in which another process
 * could take the port: the test then fails to listen, it never talks to a stranger).
 */

let h: Harness;
let browser: Browser;
let origin: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  h = await startPortalHarness('sqlite', { policy: [roomyLimits, allowPasskeys], env: { LATCHKEY_WEBAUTHN__RP_ID: 'localhost', LATCHKEY_WEBAUTHN__ORIGINS: origin } });
  [, browser] = await Promise.all([h.app.listen({ host: '127.0.0.1', port }), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const NEW_PASSWORD = 'purple otter juggles seven lanterns';
/** The page heading, without the soft hyphens long German compounds carry. */
const heading = async (page: Page): Promise<string> => (await page.locator('h1').innerText()).replace(/\u00ad/g, '');

/** A browser context whose page has a platform authenticator with a resident key and user verification. */
async function withAuthenticator(viewport: ViewportName, language: string): Promise<PortalPage> {
  const portal = await openPortalPage(browser, origin, { viewport, language });
  const cdp = await portal.context.newCDPSession(portal.page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return portal;
}

async function submit(page: Page, selector = 'main form button[type="submit"]'): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(selector).first().click()]);
}

async function signIn(portal: PortalPage, person: Person): Promise<void> {
  const { page } = portal;
  await page.locator('#username').fill(person.username);
  await page.locator('#password').fill(person.password);
  await Promise.all([page.waitForURL(/\/me(\/gate)?$/), page.locator('main form[action="/me/sign-in"] button[type="submit"]').click()]);
}

describe.each([
  { viewport: 'desktop' as ViewportName, language: 'en-GB', strings: { me: 'My recovery methods', added: 'The method is added.', removed: 'The method is removed.', stepUp: 'Sign in again to make this change.', password: 'Choose a new password', done: 'Your password has been changed', usePasskey: 'Use my passkey' } },
  { viewport: 'phone' as ViewportName, language: 'de-DE', strings: { me: 'Meine Wiederherstellungsmethoden', added: 'Die Methode wurde hinzugefügt.', removed: 'Die Methode wurde entfernt.', stepUp: 'Melden Sie sich erneut an', password: 'Neues Passwort wählen', done: 'Ihr Passwort wurde geändert', usePasskey: 'Meinen Passkey verwenden' } },
])('my recovery methods and passkeys in the browser ($viewport, $language)', ({ viewport, language, strings }) => {
  it('registers an app, a passkey and recovery codes, removes one with step-up, then resets the password with the passkey and the app', async () => {
    const label = `me-${viewport}-${language}`;
    const person = await createPerson(h, `me${viewport}`);
    const portal = await withAuthenticator(viewport, language);
    const { page } = portal;
    try {
      await page.goto(`${origin}/`);
      await Promise.all([page.waitForURL('**/me/sign-in'), page.locator('a.choice[href="/me"]').click()]);
      await checkPage(portal, `${label}-sign-in`);
      await signIn(portal, person);
      expect(await heading(page)).toBe(strings.me);
      expect(await page.locator('.prompt').count()).toBe(1);
      await checkPage(portal, `${label}-list-empty`);

      // Authenticator app: the key shown on the page, the code from oathtool.
      await submit(page, 'form:has(input[name="method"][value="totp"]) button[type="submit"]');
      await checkPage(portal, `${label}-totp-setup`);
      expect(await page.locator('svg.qr').count()).toBe(1);
      const seed = (await page.locator('#totp-secret').getAttribute('data-secret')) ?? '';
      expect((await page.locator('#totp-secret').innerText()).replace(/\s/g, '')).toBe(seed);
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await submit(page);
      await page.waitForURL('**/me');
      expect(await page.locator('.notice').innerText()).toContain(strings.added);

      // Passkey, through Chromium's virtual authenticator.
      await submit(page, 'form:has(input[name="method"][value="webauthn"]) button[type="submit"]');
      await checkPage(portal, `${label}-passkey-setup`);
      await Promise.all([page.waitForURL('**/me'), page.locator('#passkey-button').click()]);
      expect(await page.locator('.notice').innerText()).toContain(strings.added);
      expect(await page.locator('li.method[data-method="webauthn"]').count()).toBe(1);
      expect(await page.locator('.prompt').count()).toBe(0);

      // Recovery codes: shown once, downloadable as a text file with exactly those codes.
      await submit(page, 'form:has(input[name="method"][value="recovery_code"]) button[type="submit"]');
      await checkPage(portal, `${label}-codes`);
      const codes = await page.locator('#recovery-codes code').allInnerTexts();
      expect(codes).toHaveLength(10);
      expect(await page.locator('#codes-print').isVisible()).toBe(true);
      // The print stylesheet keeps the codes and drops the header and the buttons.
      await page.emulateMedia({ media: 'print' });
      expect(await page.locator('#recovery-codes').isVisible()).toBe(true);
      expect(await page.locator('header.banner').isVisible()).toBe(false);
      expect(await page.locator('#codes-print').isVisible()).toBe(false);
      await page.emulateMedia({ media: 'screen' });
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#codes-download').click()]);
      expect(download.suggestedFilename()).toBe('recovery-codes.txt');
      const text = await readFile((await download.path()) ?? '', 'utf8');
      for (const code of codes) expect(text).toContain(code);
      await Promise.all([page.waitForURL('**/me'), page.locator('.code-actions a.button').click()]);
      const list = await page.locator('main').innerText();
      for (const code of codes) expect(list).not.toContain(code);
      await checkPage(portal, `${label}-list`);

      // Removal after the step-up window: sign in again, with the passkey as the gate.
      h.clock.advance(h.latchkey.deps.policy().signIn.stepUpSeconds + 30);
      await Promise.all([page.waitForURL('**/me/sign-in'), page.locator('li.method[data-method="recovery_code"] form button').click()]);
      expect(await page.locator('#error-summary').innerText()).toContain(strings.stepUp);
      await checkPage(portal, `${label}-step-up`);
      await signIn(portal, person);
      await checkPage(portal, `${label}-gate`);
      expect(await page.locator('input[name="method"][value="webauthn"]').isChecked()).toBe(true);
      await submit(page, 'main form[action="/me/gate/method"] button[type="submit"]');
      await checkPage(portal, `${label}-gate-passkey`);
      await Promise.all([page.waitForURL('**/me'), page.getByRole('button', { name: strings.usePasskey }).click()]);
      await Promise.all([page.waitForURL('**/me'), page.locator('li.method[data-method="recovery_code"] form button').click()]);
      expect(await page.locator('.notice').innerText()).toContain(strings.removed);
      expect(await page.locator('li.method[data-method="recovery_code"]').count()).toBe(0);
      await Promise.all([page.waitForURL('**/me/sign-in'), page.locator('form.sign-out button').click()]);
      expect((await call(h, 'GET', '/api/me/methods', undefined, { token: 'x'.repeat(43) })).statusCode).toBe(401);

      // Forgot password: the passkey is the first gate, the authenticator app the second.
      h.clock.advance(30);
      await page.goto(`${origin}/forgot`);
      await page.locator('#identifier').fill(person.email);
      await Promise.all([page.waitForURL('**/forgot/method'), page.locator('main form button[type="submit"]').click()]);
      expect(await page.locator('input[name="method"][value="webauthn"]').isChecked()).toBe(true);
      await Promise.all([page.waitForURL('**/forgot/code'), page.locator('main form button[type="submit"]').click()]);
      await checkPage(portal, `${label}-forgot-passkey`);
      await Promise.all([page.waitForURL('**/forgot/method'), page.getByRole('button', { name: strings.usePasskey }).click()]);
      await page.locator('input[name="method"][value="totp"]').check();
      await Promise.all([page.waitForURL('**/forgot/code'), page.locator('main form button[type="submit"]').click()]);
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await Promise.all([page.waitForURL('**/forgot/password'), page.locator('main form button[type="submit"]').click()]);
      expect(await heading(page)).toBe(strings.password);
      await page.locator('#password').fill(NEW_PASSWORD);
      await page.locator('#confirmPassword').fill(NEW_PASSWORD);
      await Promise.all([page.waitForURL('**/forgot/done'), page.locator('main form button[type="submit"]').click()]);
      expect(await heading(page)).toBe(strings.done);

      const passed = await auditEvents(h, { types: ['challenge.passed'] });
      expect(passed.filter((event) => event.subject === person.accountId && event.data['method'] === 'webauthn').length).toBeGreaterThanOrEqual(2);
      expect(portal.foreignRequests).toEqual([]);
      expect(portal.problems).toEqual([]);
    } finally {
      await portal.close();
    }
  });
});

describe('my recovery methods by keyboard alone', () => {
  it('signs in, adds recovery codes, reaches download and removes them with Tab and Enter only', async () => {
    const person = await createPerson(h, 'mekeys');
    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    const { page } = portal;
    try {
      await page.goto(`${origin}/me/sign-in`);
      await tabTo(page, '#username');
      await page.keyboard.type(person.username);
      await tabTo(page, '#password');
      await page.keyboard.type(person.password);
      await Promise.all([page.waitForURL('**/me'), page.keyboard.press('Enter')]);
      await tabTo(page, 'form:has(input[name="method"][value="recovery_code"]) button', 40);
      await expectVisibleFocus(page);
      await Promise.all([page.waitForLoadState('load'), page.keyboard.press('Enter')]);
      await page.locator('#recovery-codes').waitFor();
      await tabTo(page, '#codes-download');
      await expectVisibleFocus(page);
      await tabTo(page, '.code-actions a.button');
      await Promise.all([page.waitForURL('**/me'), page.keyboard.press('Enter')]);
      await tabTo(page, 'li.method[data-method="recovery_code"] form button', 40);
      await expectVisibleFocus(page);
      await Promise.all([page.waitForURL('**/me'), page.keyboard.press('Enter')]);
      expect(await page.locator('.notice').innerText()).toContain('The method is removed.');
      await checkPage(portal, 'me-keyboard-removed');
    } finally {
      await portal.close();
    }
  });
});
