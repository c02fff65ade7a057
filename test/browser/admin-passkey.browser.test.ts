import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { auditEvents, createPerson, oathtoolCode, type Harness, type Person } from '../support/harness.ts';
import { startConsoleHarness } from '../pages/admin-console.support.ts';
import { allowPasskeys } from '../methods/webauthn.soft-authenticator.ts';
import { checkPage, launchChromium, openPortalPage, type PortalPage } from './support.ts';

/*
 * The console's sign-in with a passkey as the second factor, in a real Chromium with its virtual
 * authenticator (DevTools protocol). A security admin registers an authenticator app and a passkey in
 * the portal, then signs in to the console with the password and "Use a passkey" and lands on the
 * dashboard (axe-core, screenshot). A device without the passkey and a tampered assertion are
 * refused with a readable error and no session.
 *
 * WebAuthn needs a secure context: http://localhost is one and the RP id; the server listens on
 * 127.0.0.1 on a port chosen before it is composed (the RP origins are configuration).
 */

let h: Harness;
let browser: Browser;
let origin: string;
let admin: Person;
let totpSeed = '';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A browser context with a platform authenticator (resident key, user verification), empty at first. */
async function withAuthenticator(language = 'en-GB'): Promise<PortalPage> {
  const portal = await openPortalPage(browser, origin, { viewport: 'desktop', language });
  const cdp = await portal.context.newCDPSession(portal.page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return portal;
}

async function submit(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(selector).first().click()]);
}

/** The password step of the console's sign-in, up to the choice of second factor. */
async function passwordStep(page: Page): Promise<void> {
  await page.goto(`${origin}/admin/sign-in`);
  await page.locator('#username').fill(admin.username);
  await page.locator('#password').fill(admin.password);
  await page.locator('#sign-in-password button[type="submit"]').click();
  await page.locator('#passkey-button').waitFor({ state: 'visible' });
}

/** Whether the browser context holds a console session: the dashboard answers, or sends it to sign-in. */
async function hasSession(page: Page): Promise<boolean> {
  await page.goto(`${origin}/admin/dashboard`);
  return !page.url().includes('/admin/sign-in');
}

let owner: PortalPage;

beforeAll(async () => {
  const port = await freePort();
  origin = `http://localhost:${port}`;
  ({ h } = await startConsoleHarness('sqlite', { policy: [allowPasskeys], env: { LATCHKEY_WEBAUTHN__RP_ID: 'localhost', LATCHKEY_WEBAUTHN__ORIGINS: origin } }));
  [, browser] = await Promise.all([h.app.listen({ host: '127.0.0.1', port }), launchChromium()]);
  admin = await createPerson(h, 'pk.admin', { groups: ['sec-admins'], department: 'Security' });

  // The admin registers an authenticator app and a passkey in the portal, in the browser that keeps the passkey.
  owner = await withAuthenticator();
  const { page } = owner;
  await page.goto(`${origin}/me/sign-in`);
  await page.locator('#username').fill(admin.username);
  await page.locator('#password').fill(admin.password);
  await Promise.all([page.waitForURL(/\/me$/), page.locator('main form[action="/me/sign-in"] button[type="submit"]').click()]);
  await submit(page, 'form:has(input[name="method"][value="totp"]) button[type="submit"]');
  totpSeed = (await page.locator('#totp-secret').getAttribute('data-secret')) ?? '';
  await page.locator('#code').fill(oathtoolCode(totpSeed, h.clock));
  await submit(page, 'main form button[type="submit"]');
  await page.waitForURL('**/me');
  await submit(page, 'form:has(input[name="method"][value="webauthn"]) button[type="submit"]');
  await Promise.all([page.waitForURL('**/me'), page.locator('#passkey-button').click()]);
  expect(await page.locator('li.method[data-method="webauthn"]').count()).toBe(1);
  await page.context().clearCookies();
  owner.problems.length = 0;
});
afterAll(async () => {
  await owner?.close();
  await browser?.close();
  await h?.close();
});

describe('console sign-in with a passkey', () => {
  it('offers the passkey and the code after the password, and signs in with the passkey to the dashboard', async () => {
    const { page } = owner;
    await passwordStep(page);
    expect(await page.locator('#code').isVisible()).toBe(true);
    expect(await page.locator('#passkey-or').isVisible()).toBe(true);
    expect(await page.locator('#passkey-button').innerText()).toBe('Use a passkey');
    await checkPage(owner, 'admin-passkey-en-second-factor');
    await Promise.all([page.waitForURL('**/admin/dashboard'), page.locator('#passkey-button').click()]);
    await page.locator('#chart-daily').waitFor();
    expect(await page.locator('#signed-in-as').innerText()).toContain(admin.username);
    await checkPage(owner, 'admin-passkey-en-dashboard');
    expect(owner.foreignRequests).toEqual([]);
    const signedIn = (await auditEvents(h, { types: ['admin.signed_in'] })).at(-1);
    expect(signedIn?.data).toMatchObject({ second_factor: 'webauthn' });
    await Promise.all([page.waitForURL('**/admin/sign-in?reason=signed_out'), page.locator('#sign-out').click()]);
  });

  it('shows the choice in German', async () => {
    const portal = await withAuthenticator('de-DE');
    try {
      await portal.page.goto(`${origin}/admin/sign-in?lang=de`);
      await portal.page.locator('#username').fill(admin.username);
      await portal.page.locator('#password').fill(admin.password);
      await portal.page.locator('#sign-in-password button[type="submit"]').click();
      await portal.page.locator('#passkey-button').waitFor({ state: 'visible' });
      expect(await portal.page.locator('#passkey-button').innerText()).toBe('Passkey verwenden');
      await checkPage(portal, 'admin-passkey-de-second-factor');
    } finally {
      await portal.close();
    }
  });

  it('refuses a device without the passkey: an error, and no session', async () => {
    const stranger = await withAuthenticator();
    try {
      const { page } = stranger;
      await passwordStep(page);
      await page.locator('#passkey-button').click();
      await expect.poll(() => page.locator('#console-error').innerText(), { timeout: 15_000 }).toContain('The passkey sign-in did not complete');
      expect(await page.locator('#console-error').isVisible()).toBe(true);
      expect(await page.locator('#console-error').innerText()).not.toContain('null');
      expect(page.url()).toContain('/admin/sign-in');
      // The code is still there as the other way in.
      expect(await page.locator('#code').isVisible()).toBe(true);
      expect(await page.locator('#passkey-button').isEnabled()).toBe(true);
      await checkPage(stranger, 'admin-passkey-en-absent');
      expect(await hasSession(page)).toBe(false);
    } finally {
      await stranger.close();
    }
  });

  it('refuses a tampered assertion with the tries left, and no session', async () => {
    const { page } = owner;
    const before = (await auditEvents(h, { types: ['admin.sign_in_failed'] })).length;
    await passwordStep(page);
    await page.route('**/api/admin/session/second-factor', async (route) => {
      const body = JSON.parse(route.request().postData() ?? '{}') as { credential?: { response?: { signature?: string } } };
      const signature = body.credential?.response?.signature ?? '';
      if (body.credential?.response) body.credential.response.signature = (signature.startsWith('A') ? 'B' : 'A') + signature.slice(1);
      await route.continue({ postData: JSON.stringify(body) });
    });
    try {
      await page.locator('#passkey-button').click();
      await expect.poll(() => page.locator('#console-error').innerText()).toContain('That passkey was not accepted. Tries left: 4.');
      expect(page.url()).toContain('/admin/sign-in');
      expect(await page.locator('#console-error').innerText()).not.toContain('null');
      // The browser logs the refused request (401/400) as a console error; the page itself is checked.
      owner.problems.length = 0;
      await checkPage(owner, 'admin-passkey-en-wrong');
    } finally {
      await page.unroute('**/api/admin/session/second-factor');
    }
    const failed = await auditEvents(h, { types: ['admin.sign_in_failed'] });
    expect(failed.length).toBe(before + 1);
    expect(failed.at(-1)?.reason).toBe('challenge.invalid');
    expect(await hasSession(page)).toBe(false);
  });
});
