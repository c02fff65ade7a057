import { startHarness, type Engine, type Harness, type HarnessOptions } from '../support/harness.ts';

/** The helpdesk every portal test configures, so "shown where a person gets stuck" can be asserted. */
export const HELPDESK_URL = 'https://help.corp.test/password';

/** A harness whose portal has a helpdesk link and an organisation name of its own. */
export function startPortalHarness(engine: Engine, options: Omit<HarnessOptions, 'engine'> = {}): Promise<Harness> {
  return startHarness({
    ...options,
    engine,
    env: {
      LATCHKEY_PORTAL__HELPDESK__URL: HELPDESK_URL,
      LATCHKEY_PORTAL__HELPDESK__TEXT: 'Call 0800 123 456, weekdays 8–18',
      LATCHKEY_PORTAL__BRANDING__ORGANISATION_NAME: 'Corp Test',
      ...options.env,
    },
  });
}

/** The main content of a page with every per-session value (CSRF token) blanked, for comparisons. */
export function normalisedMain(page: string): string {
  const main = page.slice(page.indexOf('<main'), page.indexOf('</main>'));
  return main.replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value=""');
}

/** Locks a built-in account the way a person does: wrong passwords up to the policy's threshold. */
export async function lockAccount(h: Harness, username: string): Promise<void> {
  const threshold = h.latchkey.deps.policy().signIn.lockoutThreshold;
  for (let attempt = 0; attempt < threshold; attempt += 1) {
    await h.app.inject({ method: 'POST', url: '/api/me/sign-in', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username, password: 'certainly not the right password' }) });
  }
}
