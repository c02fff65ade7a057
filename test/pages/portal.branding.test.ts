import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';
import { composeLatchkey } from '../../src/server/compose.ts';
import { buildHttpApp } from '../../src/server/http/app.ts';
import type { Harness } from '../support/harness.ts';
import { PageClient } from './page-client.ts';
import { startPortalHarness } from './support.ts';

const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10" fill="#0a7"/></svg>';

function configProblems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(null, 'latchkey.yaml', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('the configuration was accepted');
}

describe('portal configuration', () => {
  it('refuses bad branding and links at start, naming the key and the variable', () => {
    expect(configProblems({ LATCHKEY_PORTAL__BRANDING__PRIMARY_COLOUR: 'red' })).toEqual([
      'portal.branding.primaryColour (LATCHKEY_PORTAL__BRANDING__PRIMARY_COLOUR): must be a colour in #rrggbb form',
    ]);
    expect(configProblems({ LATCHKEY_PORTAL__HELPDESK__URL: 'javascript:alert(1)' })[0]).toMatch(/^portal\.helpdesk\.url \(LATCHKEY_PORTAL__HELPDESK__URL\): /);
    expect(configProblems({ LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test/sspr' })).toEqual([
      'portal.publicUrl (LATCHKEY_PORTAL__PUBLIC_URL): must be an origin such as https://reset.example.com (no path)',
    ]);
    expect(configProblems({ LATCHKEY_PORTAL__DEFAULT_LANGUAGE: 'fr' })[0]).toMatch(/^portal\.defaultLanguage \(LATCHKEY_PORTAL__DEFAULT_LANGUAGE\): /);
    expect(configProblems({ LATCHKEY_PORTAL__BRANDING__LOGO: 'x.png' })).toEqual(['portal.branding.logo (LATCHKEY_PORTAL__BRANDING__LOGO): unknown key']);
  });
});

describe('portal branding', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-brand-'));
    await writeFile(join(dir, 'logo.svg'), LOGO);
    h = await startPortalHarness('sqlite', {
      env: {
        LATCHKEY_PORTAL__BRANDING__LOGO_FILE: join(dir, 'logo.svg'),
        LATCHKEY_PORTAL__BRANDING__PRIMARY_COLOUR: '#7c2d12',
        LATCHKEY_PORTAL__BRANDING__HEADER_COLOUR: '#064e3b',
        LATCHKEY_PORTAL__DEFAULT_LANGUAGE: 'de',
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the organisation name and the logo, served from this origin, and colours through custom properties', async () => {
    const client = new PageClient(h);
    const page = await client.get('/');
    expect(page.body).toContain('<title>Kontohilfe – Corp Test</title>');
    expect(page.body).toContain('<img src="/brand/logo" alt="" class="logo"><span>Corp Test</span>');
    const logo = await client.get('/brand/logo');
    expect(logo.headers['content-type']).toBe('image/svg+xml');
    expect(logo.body).toBe(LOGO);
    const css = await client.get('/brand/brand.css');
    expect(css.body).toContain('--brand-primary: #7c2d12;');
    expect(css.body).toContain('--brand-header: #064e3b;');
    // The default language applies when the browser names none we have.
    expect((await new PageClient(h, { 'accept-language': 'fr' }).get('/')).body).toContain('<html lang="de">');
  });

  it('escapes configured text like any other value', async () => {
    const escaped = await startPortalHarness('sqlite', { env: { LATCHKEY_PORTAL__BRANDING__ORGANISATION_NAME: '<img src=x onerror=alert(1)>' } });
    try {
      const page = await new PageClient(escaped).get('/');
      expect(page.body).not.toContain('<img src=x');
      expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    } finally {
      await escaped.close();
    }
  });

  it('refuses a logo of an unknown type or a missing logo file at start', async () => {
    expect(configProblems({ LATCHKEY_PORTAL__BRANDING__LOGO_FILE: join(dir, 'logo.gif') })).toEqual([
      'portal.branding.logoFile (LATCHKEY_PORTAL__BRANDING__LOGO_FILE): must name a .png, .svg or .webp file',
    ]);
    const config = loadConfig(null, 'latchkey.yaml', { LATCHKEY_DATA_DIR: join(dir, 'data'), LATCHKEY_LOG_LEVEL: 'silent', LATCHKEY_PORTAL__BRANDING__LOGO_FILE: join(dir, 'missing.png') });
    const latchkey = await composeLatchkey(config);
    try {
      await expect(buildHttpApp(latchkey, { logger: false })).rejects.toThrow(/portal\.branding\.logoFile: cannot read .*missing\.png/);
    } finally {
      await latchkey.close();
    }
  });
});
