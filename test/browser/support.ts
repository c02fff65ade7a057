import { mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { Harness } from '../support/harness.ts';

/** Debian's Chromium; scripts/test.sh installs the package when it is missing. */
export const CHROMIUM_PATH = process.env['LATCHKEY_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export const VIEWPORTS = {
  phone: { width: 375, height: 667 },
  desktop: { width: 1280, height: 800 },
} as const;
export type ViewportName = keyof typeof VIEWPORTS;

/** Where page screenshots are kept for a reviewer (printed once per file). */
export const ARTIFACTS_DIR = process.env['LATCHKEY_TEST_ARTIFACTS'] ?? fileURLToPath(new URL('../../.tmp/artifacts/browser/', import.meta.url));

/**
 * The little of the DOM the tests touch inside the page. The project compiles without the DOM
 * library, so functions run by page.evaluate reach it as `(globalThis as unknown as PageWindow)`;
 * the cast is erased, leaving plain `globalThis.document` in the browser.
 */
export interface PageElement {
  readonly id: string;
  readonly value?: string;
  matches(selector: string): boolean;
}
export interface PageWindow {
  readonly document: {
    readonly activeElement: PageElement | null;
    readonly body: PageElement;
    readonly cookie: string;
    readonly documentElement: { readonly scrollWidth: number; readonly clientWidth: number };
  };
  getComputedStyle(element: PageElement): { readonly outlineStyle: string; readonly outlineWidth: string };
}

/** Launches Chromium once for a test file. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** Starts the harness's HTTP server on a free loopback port and returns its origin. */
export async function listen(h: Harness): Promise<string> {
  await h.app.listen({ host: '127.0.0.1', port: 0 });
  const address = h.app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

export interface PortalPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and CSP violations seen so far; a clean page has none. */
  readonly problems: string[];
  /** Requests that left the server's origin (TOK-10); there must be none. */
  readonly foreignRequests: string[];
  close(): Promise<void>;
}

/**
 * A fresh browser context (its own cookies) with one page at a viewport and language. Console
 * errors, CSP violations and requests to any other origin are recorded for the test to assert.
 */
export async function openPortalPage(browser: Browser, origin: string, options: { viewport: ViewportName; language?: string; javaScript?: boolean }): Promise<PortalPage> {
  const context = await browser.newContext({
    javaScriptEnabled: options.javaScript ?? true,
    viewport: VIEWPORTS[options.viewport],
    locale: options.language ?? 'en-GB',
    extraHTTPHeaders: { 'accept-language': options.language ?? 'en-GB,en;q=0.9' },
    ...(options.viewport === 'phone' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  const problems: string[] = [];
  const foreignRequests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('request', (request) => {
    if (!request.url().startsWith(origin)) foreignRequests.push(request.url());
  });
  return { context, page, problems, foreignRequests, close: () => context.close() };
}

const AXE_SOURCE = readFileSync(fileURLToPath(import.meta.resolve('axe-core/axe.min.js')), 'utf8');

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[]; readonly failureSummary?: string }[];
}

/**
 * Runs axe-core on the page and fails on any serious or critical violation, listing each readably.
 * axe is evaluated through the DevTools protocol rather than added as a <script>: the page's CSP
 * (script-src 'self') rightly refuses an injected script, and the test must not loosen the CSP.
 */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run((globalThis as unknown as PageWindow).document, { resultTypes: ['violations'] });
    return result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, nodes: violation.nodes.map((node) => ({ target: node.target, failureSummary: node.failureSummary })) }));
  });
  const blocking = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  const report = blocking
    .map((violation) => `  [${violation.impact}] ${violation.id}: ${violation.help}\n${violation.nodes.map((node) => `    at ${JSON.stringify(node.target)}: ${node.failureSummary ?? ''}`).join('\n')}`)
    .join('\n');
  expect(blocking, `axe-core found serious or critical violations on ${label} (${page.url()}):\n${report}`).toEqual([]);
}

let announced = false;

/** Saves a full-page screenshot under ARTIFACTS_DIR (printed once) so a reviewer can look at every page. */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  if (!announced) {
    process.stdout.write(`portal screenshots: ${ARTIFACTS_DIR}\n`);
    announced = true;
  }
  await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
}

/** Checks a page the same way at every step: accessible, screenshot kept, no console or CSP errors. */
export async function checkPage(portal: PortalPage, name: string): Promise<void> {
  await expectAccessible(portal.page, name);
  await keepScreenshot(portal.page, name);
  expect(portal.problems, `console errors on ${name}`).toEqual([]);
  // SESS-7: every cookie is HttpOnly, so no script on the page can read the flow token.
  expect(await portal.page.evaluate(() => (globalThis as unknown as PageWindow).document.cookie)).toBe('');
  // The layout fits the viewport: nothing scrolls sideways, on the phone least of all.
  const { scrollWidth, clientWidth } = await portal.page.evaluate(() => {
    const root = (globalThis as unknown as PageWindow).document.documentElement;
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth };
  });
  expect(scrollWidth, `${name} scrolls sideways`).toBeLessThanOrEqual(clientWidth);
}

/** Presses Tab until the focused element matches `selector` (at most `limit` presses); fails otherwise. */
export async function tabTo(page: Page, selector: string, limit = 25): Promise<void> {
  for (let press = 0; press < limit; press += 1) {
    if (await page.evaluate((wanted) => (globalThis as unknown as PageWindow).document.activeElement?.matches(wanted) ?? false, selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element shows a visible focus indicator (an outline), as keyboard users need. */
export async function expectVisibleFocus(page: Page): Promise<void> {
  const outline = await page.evaluate(() => {
    const view = globalThis as unknown as PageWindow;
    const active = view.document.activeElement;
    if (!active || active === view.document.body) return 'no focus';
    const style = view.getComputedStyle(active);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
  expect(outline).toMatch(/^solid [1-9]/);
}
