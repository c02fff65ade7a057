import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { call, createPerson, enrolEmailAndTotp, latestCode, oathtoolCode, roomyLimits, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { HELPDESK_URL, lockAccount, startPortalHarness } from '../pages/support.ts';
import { checkPage, expectVisibleFocus, launchChromium, listen, openPortalPage, tabTo, type PageWindow, type PortalPage, type ViewportName } from './support.ts';

/*
 * The portal in a real Chromium (playwright-core, Debian's browser) against a real server on
 * loopback: both journeys on the phone and the desktop viewport, in English and German, one of them
 * by keyboard alone, axe-core on every page, screenshots kept, and the decoy that looks the same.
 */

let h: Harness;
let browser: Browser;
let origin: string;

beforeAll(async () => {
  h = await startPortalHarness('sqlite', { policy: [roomyLimits, (policy) => void (policy.tiers.standard.maxAttemptsPerChallenge = 3)] });
  [origin, browser] = await Promise.all([listen(h), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

const NEW_PASSWORD = 'purple otter juggles seven lanterns';

async function person(name: string): Promise<{ person: Person; methods: Enrolled }> {
  const created = await createPerson(h, name);
  return { person: created, methods: await enrolEmailAndTotp(h, created) };
}

const heading = (page: Page): Promise<string> => page.locator('h1').innerText();

/** Chooses a method and answers it, by mouse: the path most people take. */
async function passGate(portal: PortalPage, slug: string, method: 'email_code' | 'totp', code: () => Promise<string>, label: string): Promise<void> {
  const { page } = portal;
  await page.locator(`input[name="method"][value="${method}"]`).check();
  await page.locator('form button[type="submit"]').click();
  await page.waitForURL(`**/${slug}/code`);
  await checkPage(portal, `${label}-code-${method}`);
  await page.locator('#code').fill(await code());
  await page.locator('form button[type="submit"]').click();
  await page.waitForLoadState('load');
}

describe.each([
  { viewport: 'desktop' as ViewportName, language: 'en-GB', strings: { method: 'Choose how to prove it is you', password: 'Choose a new password', done: 'Your password has been changed', remaining: '2 more checks to go.', ok: 'This password meets every rule.' } },
  { viewport: 'phone' as ViewportName, language: 'de-DE', strings: { method: 'Wählen Sie, wie Sie sich ausweisen', password: 'Neues Passwort wählen', done: 'Ihr Passwort wurde geändert', remaining: 'Noch 2 Prüfungen.', ok: 'Dieses Passwort erfüllt alle Regeln.' } },
])('forgot password in the browser ($viewport, $language)', ({ viewport, language, strings }) => {
  it('resets through both gates with live password feedback, and the new password signs in', async () => {
    const label = `reset-${viewport}-${language}`;
    const { person: someone, methods } = await person(`reset${viewport}`);
    const portal = await openPortalPage(browser, origin, { viewport, language });
    const { page } = portal;
    try {
      await page.goto(`${origin}/`);
      expect(await page.getAttribute('html', 'lang')).toBe(language.slice(0, 2));
      await checkPage(portal, `${label}-home`);
      await page.locator('a.choice[href="/forgot"]').click();
      await page.waitForURL('**/forgot');
      await checkPage(portal, `${label}-start`);
      await page.locator('#identifier').fill(someone.email);
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL('**/forgot/method');
      expect(await heading(page)).toBe(strings.method);
      expect(await page.locator('#progress').innerText()).toContain(strings.remaining);
      await checkPage(portal, `${label}-method`);

      await passGate(portal, 'forgot', 'email_code', () => latestCode(h, methods.altEmail), label);
      await page.waitForURL('**/forgot/method');
      await checkPage(portal, `${label}-method-second`);
      await passGate(portal, 'forgot', 'totp', async () => oathtoolCode(methods.totpSeed, h.clock), label);
      await page.waitForURL('**/forgot/password');
      expect(await heading(page)).toBe(strings.password);

      // Live feedback from the same rules the reset applies: a name-based password is flagged.
      await page.locator('#password').fill(`${someone.username}${someone.username}2024`);
      await expect.poll(() => page.locator('li[data-rule="context"]').getAttribute('data-state')).toBe('unmet');
      await page.locator('#password').fill(NEW_PASSWORD);
      await expect.poll(() => page.locator('#password-feedback').innerText()).toBe(strings.ok);
      expect(await page.locator('li[data-rule="context"]').getAttribute('data-state')).toBe('met');
      await checkPage(portal, `${label}-password`);
      await page.locator('#confirmPassword').fill(NEW_PASSWORD);
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL('**/forgot/done');
      expect(await heading(page)).toBe(strings.done);
      await checkPage(portal, `${label}-done`);
      expect(portal.foreignRequests).toEqual([]);
      expect(page.url()).not.toMatch(/token|code=|password/i);
    } finally {
      await portal.close();
    }
    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: someone.username, password: NEW_PASSWORD });
    expect(signIn.statusCode).toBe(200);
  });
});

describe.each([
  { viewport: 'phone' as ViewportName, language: 'en-GB', done: 'Your account is unlocked' },
  { viewport: 'desktop' as ViewportName, language: 'de-DE', done: 'Ihr Konto ist entsperrt' },
])('unlock my account in the browser by keyboard alone ($viewport, $language)', ({ viewport, language, done }) => {
  it('unlocks through both gates with Tab, arrow keys and Enter only', async () => {
    const label = `unlock-${viewport}-${language}`;
    const { person: someone, methods } = await person(`unlock${viewport}`);
    await lockAccount(h, someone.username);
    const portal = await openPortalPage(browser, origin, { viewport, language });
    const { page } = portal;
    const { keyboard } = page;
    try {
      await page.goto(`${origin}/`);
      await checkPage(portal, `${label}-home`);
      await tabTo(page, 'a.choice[href="/unlock"]');
      await expectVisibleFocus(page);
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock');
      await checkPage(portal, `${label}-start`);
      await tabTo(page, '#identifier');
      await keyboard.type(someone.username);
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/method');
      await checkPage(portal, `${label}-method`);

      // The strongest method is preselected: the passkey (the list is the tier's, not the account's);
      // the arrow key moves to the authenticator app.
      await tabTo(page, 'input[name="method"]:checked');
      await expectVisibleFocus(page);
      expect(await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.value)).toBe('webauthn');
      await keyboard.press('ArrowDown');
      expect(await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.value)).toBe('totp');
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/code');
      await checkPage(portal, `${label}-code-totp`);
      await tabTo(page, '#code');
      await keyboard.type(oathtoolCode(methods.totpSeed, h.clock));
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/method');
      await checkPage(portal, `${label}-method-second`);

      // The passkey and recovery codes come first now; the arrow key moves on to the email code.
      await tabTo(page, 'input[name="method"]:checked');
      await keyboard.press('ArrowDown');
      await keyboard.press('ArrowDown');
      expect(await page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.value)).toBe('email_code');
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/code');
      await tabTo(page, '#code');
      await keyboard.type(await latestCode(h, methods.altEmail));
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/confirm');
      await checkPage(portal, `${label}-confirm`);
      await tabTo(page, 'form button[type="submit"]');
      await expectVisibleFocus(page);
      await keyboard.press('Enter');
      await page.waitForURL('**/unlock/done');
      expect(await heading(page)).toBe(done);
      await checkPage(portal, `${label}-done`);
    } finally {
      await portal.close();
    }
    expect((await h.latchkey.deps.directory.readLockState(someone.accountId as never)).locked).toBe(false);
    expect((await call(h, 'POST', '/api/me/sign-in', { username: someone.username, password: someone.password })).statusCode).toBe(200);
  });
});

describe('without JavaScript', () => {
  it('resets a password with plain forms and redirects alone', async () => {
    const { person: someone, methods } = await person('nojs');
    const portal = await openPortalPage(browser, origin, { viewport: 'phone', javaScript: false });
    const { page } = portal;
    const submit = async (expected: string): Promise<void> => {
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL(`**${expected}`);
    };
    try {
      await page.goto(`${origin}/forgot`);
      await page.locator('#identifier').fill(someone.username);
      await submit('/forgot/method');
      await page.locator('input[value="email_code"]').check();
      await submit('/forgot/code');
      await page.locator('#code').fill(await latestCode(h, methods.altEmail));
      await submit('/forgot/method');
      await page.locator('input[value="totp"]').check();
      await submit('/forgot/code');
      await page.locator('#code').fill(oathtoolCode(methods.totpSeed, h.clock));
      await submit('/forgot/password');
      // No script ran, so the rules are listed but not yet marked.
      expect(await page.locator('li[data-rule="length"]').getAttribute('data-state')).toBeNull();
      await page.locator('#password').fill(NEW_PASSWORD);
      await page.locator('#confirmPassword').fill(NEW_PASSWORD);
      await submit('/forgot/done');
      expect(await heading(page)).toBe('Your password has been changed');
    } finally {
      await portal.close();
    }
    expect((await call(h, 'POST', '/api/me/sign-in', { username: someone.username, password: NEW_PASSWORD })).statusCode).toBe(200);
  });
});

describe('sad paths in the browser', () => {
  it('shows a wrong code with the tries left, focuses the error summary, and shows the helpdesk once the code is used up', async () => {
    const { person: someone } = await person('wrongcode');
    const portal = await openPortalPage(browser, origin, { viewport: 'desktop' });
    const { page } = portal;
    try {
      await page.goto(`${origin}/forgot`);
      await page.locator('#identifier').fill(someone.username);
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL('**/forgot/method');
      await page.locator('input[value="email_code"]').check();
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL('**/forgot/code');
      await page.locator('#code').fill('00000000');
      await page.locator('form button[type="submit"]').click();
      await page.waitForLoadState('load');
      const summary = page.locator('#error-summary');
      expect(await summary.innerText()).toContain('You have 2 more tries for this code.');
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as PageWindow).document.activeElement?.id)).toBe('error-summary');
      await checkPage(portal, 'sad-wrong-code');
      for (const code of ['00000001', '00000002']) {
        await page.locator('#code').fill(code);
        await page.locator('form button[type="submit"]').click();
        await page.waitForLoadState('load');
      }
      await page.waitForURL('**/forgot/method');
      expect(await page.locator('#error-summary').innerText()).toContain('This code can no longer be used.');
      const helpdesk = page.locator(`.helpdesk-prominent a[href="${HELPDESK_URL}"]`);
      expect(await helpdesk.isVisible()).toBe(true);
      await checkPage(portal, 'sad-exhausted');
    } finally {
      await portal.close();
    }
  });

  it('walks an unknown identifier through screens that look exactly like a real account’s, up to the code step', async () => {
    await person('decoyreal');
    const shots: Buffer[][] = [];
    const texts: string[][] = [];
    for (const identifier of ['decoyreal@corp.test', 'nobody-here@corp.test']) {
      const portal = await openPortalPage(browser, origin, { viewport: 'phone' });
      const { page } = portal;
      const mine: Buffer[] = [];
      const text: string[] = [];
      try {
        await page.goto(`${origin}/forgot`);
        await page.locator('#identifier').fill(identifier);
        await page.locator('form button[type="submit"]').click();
        await page.waitForURL('**/forgot/method');
        mine.push(await page.screenshot({ fullPage: true }));
        text.push(await page.locator('main').innerHTML());
        await page.locator('input[value="email_code"]').check();
        await page.locator('form button[type="submit"]').click();
        await page.waitForURL('**/forgot/code');
        mine.push(await page.screenshot({ fullPage: true }));
        text.push(await page.locator('main').innerHTML());
        await page.locator('#code').fill('12345678');
        await page.locator('form button[type="submit"]').click();
        await page.waitForLoadState('load');
        mine.push(await page.screenshot({ fullPage: true }));
        text.push(await page.locator('main').innerHTML());
      } finally {
        await portal.close();
      }
      shots.push(mine);
      texts.push(text.map((markup) => markup.replace(/name="_csrf" value="[^"]+"/g, '')));
    }
    expect(texts[1]).toEqual(texts[0]);
    for (let step = 0; step < 3; step += 1) expect(shots[1]?.[step]?.equals(shots[0]?.[step] ?? Buffer.alloc(0)), `screen ${step + 1} differs`).toBe(true);
  });
});
