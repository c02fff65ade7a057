import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { auditEvents, createPerson, oathtoolCode, type Harness, type Person } from '../support/harness.ts';
import { startPortalHarness } from '../pages/support.ts';
import { checkPage, launchChromium, listen, openPortalPage, type PortalPage } from './support.ts';
import { codeMailsTo, nextCodeFrom, smtpEnv, startLoopbackSmtp, type LoopbackSmtp } from './smtp-support.ts';

/*
 * Issue 3, first "Must show" item, end to end in Debian Chromium against a real server on loopback,
 * with a REAL SMTP server (smtp-server, mail parsed by mailparser) as the only mail path: Latchkey's
 * smtp channel is configured, so email never lands in the dev outbox. A person signs in at /me,
 * enrols an authenticator app (key read from the page, code from oathtool) and an alternate email
 * (code read from the SMTP server), signs out, resets the password at /forgot through both gates
 * (the emailed code, then the app), and then the old password is refused at /me/sign-in while the
 * new one is accepted. axe-core and a screenshot on every page.
 */

let h: Harness;
let smtp: LoopbackSmtp;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  h = await startPortalHarness('sqlite', { env: smtpEnv(smtp) });
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await smtp?.stop();
});

const NEW_PASSWORD = 'amber heron counts eleven bridges';
const deliver = (): Promise<number> => h.latchkey.worker.drain();

async function submit(page: Page, selector = 'main form button[type="submit"]'): Promise<void> {
  await Promise.all([page.waitForLoadState('load'), page.locator(selector).first().click()]);
}

/** Clicks a submit button and waits (5 s at most) for the page at `path`; on a miss, fails with the page's text. */
async function submitTo(page: Page, selector: string, path: string): Promise<void> {
  try {
    await Promise.all([page.waitForURL(`**${path}`, { timeout: 5_000 }), page.locator(selector).click()]);
  } catch (error) {
    const text = await page.locator('main').innerText().catch(() => '');
    throw new Error(`expected ${path} after ${selector}, at ${page.url()}: ${text}`, { cause: error });
  }
}

async function fillSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
}

describe('reset journey with an authenticator app and an alternate email over real SMTP', () => {
  it('enrols both at /me, signs out, resets at /forgot with the emailed code then the app code, and signs in with the new password only', async () => {
    const person: Person = await createPerson(h, 'smtpjourney');
    const altEmail = 'smtpjourney.home@example.org';
    const portal: PortalPage = await openPortalPage(browser, origin, { viewport: 'desktop' });
    const { page } = portal;
    try {
      // Sign in with the password alone (no methods yet).
      await page.goto(`${origin}/me/sign-in`);
      await checkPage(portal, 'smtp-journey-sign-in');
      await fillSignIn(page, person.username, person.password);
      await submitTo(page, 'main form[action="/me/sign-in"] button[type="submit"]', '/me');
      await checkPage(portal, 'smtp-journey-list-empty');

      // Authenticator app: the key from the page, the code from oathtool.
      await submit(page, 'form:has(input[name="method"][value="totp"]) button[type="submit"]');
      await checkPage(portal, 'smtp-journey-totp-setup');
      const seed = (await page.locator('#totp-secret').getAttribute('data-secret')) ?? '';
      expect(seed).toMatch(/^[A-Z2-7]{16,}$/);
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await submitTo(page, 'main form button[type="submit"]', '/me');
      expect(await page.locator('li.method[data-method="totp"]').count()).toBe(1);

      // Alternate email: the code comes back through the SMTP server, not the outbox.
      await page.locator('#address').fill(altEmail);
      await submitTo(page, 'form:has(input[name="method"][value="email_code"]) button[type="submit"]', '/me/methods/*/verify');
      await checkPage(portal, 'smtp-journey-email-verify');
      const enrolMail = await nextCodeFrom(smtp, altEmail, 0, deliver);
      expect(enrolMail.mail.from?.text).toContain('no-reply@latchkey.test');
      await page.locator('#code').fill(enrolMail.code);
      await submitTo(page, 'main form button[type="submit"]', '/me');
      expect(await page.locator('li.method[data-method="email_code"]').count()).toBe(1);
      await checkPage(portal, 'smtp-journey-list');
      await submitTo(page, 'form.sign-out button', '/me/sign-in');
      await checkPage(portal, 'smtp-journey-signed-out');

      // Forgot password: the emailed code is the first gate, the authenticator app the second.
      h.clock.advance(30); // the app's enrolment step is spent (TOK-14)
      await page.goto(`${origin}/forgot`);
      await checkPage(portal, 'smtp-journey-forgot');
      await page.locator('#identifier').fill(person.email);
      await submitTo(page, 'main form button[type="submit"]', '/forgot/method');
      await checkPage(portal, 'smtp-journey-forgot-method');
      await page.locator('input[name="method"][value="email_code"]').check();
      await submitTo(page, 'main form button[type="submit"]', '/forgot/code');
      await checkPage(portal, 'smtp-journey-forgot-email-code');
      const resetMail = await nextCodeFrom(smtp, altEmail, 1, deliver);
      expect(resetMail.code).not.toBe(enrolMail.code);
      await page.locator('#code').fill(resetMail.code);
      await submitTo(page, 'main form button[type="submit"]', '/forgot/method');
      await checkPage(portal, 'smtp-journey-forgot-second-gate');
      await page.locator('input[name="method"][value="totp"]').check();
      await submitTo(page, 'main form button[type="submit"]', '/forgot/code');
      await checkPage(portal, 'smtp-journey-forgot-app-code');
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await submitTo(page, 'main form button[type="submit"]', '/forgot/password');
      await checkPage(portal, 'smtp-journey-forgot-password');
      await page.locator('#password').fill(NEW_PASSWORD);
      await page.locator('#confirmPassword').fill(NEW_PASSWORD);
      await submitTo(page, 'main form button[type="submit"]', '/forgot/done');
      await checkPage(portal, 'smtp-journey-forgot-done');

      // The old password is refused at /me, the new one accepted (then the sign-in gates: the app, the emailed code).
      h.clock.advance(30);
      await page.goto(`${origin}/me/sign-in`);
      await fillSignIn(page, person.username, person.password);
      await page.locator('main form[action="/me/sign-in"] button[type="submit"]').click();
      await page.locator('#error-summary').waitFor({ state: 'visible', timeout: 5_000 });
      expect(new URL(page.url()).pathname).toBe('/me/sign-in');
      await checkPage(portal, 'smtp-journey-old-password-refused');
      await fillSignIn(page, person.username, NEW_PASSWORD);
      await submitTo(page, 'main form[action="/me/sign-in"] button[type="submit"]', '/me/gate');
      await checkPage(portal, 'smtp-journey-gate');
      await page.locator('input[name="method"][value="totp"]').check();
      await submit(page, 'main form[action="/me/gate/method"] button[type="submit"]');
      await checkPage(portal, 'smtp-journey-gate-code');
      await page.locator('#code').fill(oathtoolCode(seed, h.clock));
      await submitTo(page, 'main form[action="/me/gate/answer"] button[type="submit"]', '/me/gate');
      // For 3 days after a reset, signing in takes the tier's full gate count (lifecycle.afterRecoverySeconds): the emailed code again.
      await checkPage(portal, 'smtp-journey-gate-second');
      await page.locator('input[name="method"][value="email_code"]').check();
      await submit(page, 'main form[action="/me/gate/method"] button[type="submit"]');
      await checkPage(portal, 'smtp-journey-gate-email-code');
      const signInMail = await nextCodeFrom(smtp, altEmail, 2, deliver);
      await page.locator('#code').fill(signInMail.code);
      await submitTo(page, 'main form[action="/me/gate/answer"] button[type="submit"]', '/me');
      expect(await page.locator('li.method').count()).toBe(2);
      await checkPage(portal, 'smtp-journey-signed-in-again');

      // Every email went out through the SMTP channel; none stayed in the dev outbox.
      await deliver();
      const delivered = await auditEvents(h, { types: ['message.delivered', 'message.failed'] });
      const email = delivered.filter((event) => event.data['channel'] === 'email');
      expect(email.length).toBeGreaterThanOrEqual(3);
      expect(email.map((event) => `${event.type}:${String(event.data['via'])}`)).toEqual(email.map(() => 'message.delivered:smtp'));
      expect(codeMailsTo(smtp, altEmail)).toHaveLength(3);
      const passed = await auditEvents(h, { types: ['challenge.passed'] });
      expect(passed.filter((event) => event.subject === person.accountId && event.data['method'] === 'email_code').length).toBeGreaterThanOrEqual(2);
      expect(portal.foreignRequests).toEqual([]);
      expect(portal.problems).toEqual([]);
    } finally {
      await portal.close();
    }
  });
});
