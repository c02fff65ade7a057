import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.ts';
import { CATALOGS, LANGUAGES, negotiateLanguage } from '../../src/server/pages/i18n/catalog.ts';
import type { Harness } from '../support/harness.ts';
import { PageClient } from './page-client.ts';
import { startPortalHarness } from './support.ts';

describe('portal catalogs', () => {
  it('every language has exactly the keys of every other', () => {
    for (const a of LANGUAGES) {
      for (const b of LANGUAGES) {
        const missing = Object.keys(CATALOGS[a]).filter((key) => !Object.hasOwn(CATALOGS[b], key));
        expect(missing, `${b} lacks keys ${a} has`).toEqual([]);
      }
    }
  });

  it('every error code of the catalog has a message in every language', () => {
    for (const language of LANGUAGES) {
      const missing = Object.keys(ERROR_CODES).filter((code) => !Object.hasOwn(CATALOGS[language], `error.${code}`));
      expect(missing, `${language} has no message for these error codes`).toEqual([]);
    }
  });

  it('no message is empty and every placeholder of a key appears in every language', () => {
    for (const key of Object.keys(CATALOGS.en) as (keyof typeof CATALOGS.en)[]) {
      const placeholders = (text: string): string[] => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1] ?? '').sort();
      for (const language of LANGUAGES) {
        expect(CATALOGS[language][key].trim(), `${language} ${key}`).not.toBe('');
        expect(placeholders(CATALOGS[language][key]), `${language} ${key}`).toEqual(placeholders(CATALOGS.en[key]));
      }
    }
  });

  it('picks the language from Accept-Language by quality and primary subtag', () => {
    expect(negotiateLanguage('de-AT,de;q=0.9,en;q=0.5')).toBe('de');
    expect(negotiateLanguage('fr-FR, en;q=0.4, de;q=0.8')).toBe('de');
    expect(negotiateLanguage('fr, it')).toBeNull();
    expect(negotiateLanguage('de;q=0, en')).toBe('en');
    expect(negotiateLanguage(undefined)).toBeNull();
  });
});

describe('portal language on pages', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite');
  });
  afterAll(async () => h.close());

  it('renders German for a German browser, with lang="de" and the error catalog in German', async () => {
    const client = new PageClient(h, { 'accept-language': 'de-DE,de;q=0.9,en;q=0.8' });
    const page = await client.get('/forgot');
    expect(page.body).toContain('<html lang="de">');
    expect(page.body).toContain('Passwort vergessen');
    expect(page.body).toContain('Benutzername oder dienstliche E-Mail-Adresse');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const refused = await client.follow(await client.post('/forgot', { _csrf: csrf, identifier: '' }));
    expect(refused.body).toContain('Es gibt ein Problem');
    expect(refused.body).toContain(CATALOGS.de['error.identifier.required']);
  });

  it('switches language with ?lang= and remembers the choice in an HttpOnly cookie', async () => {
    const client = new PageClient(h, { 'accept-language': 'en' });
    expect((await client.get('/')).body).toContain('<html lang="en">');
    const switched = await client.get('/?lang=de');
    expect(switched.body).toContain('<html lang="de">');
    expect(switched.body).toContain('Kontohilfe');
    expect(String(switched.headers['set-cookie'])).toMatch(/lk_lang=de; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict/);
    expect((await client.get('/unlock')).body).toContain('Konto entsperren');
  });

  it('refuses an unknown language with a 400 page, not a 500', async () => {
    const response = await new PageClient(h).get('/?lang=xx');
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  });
});
