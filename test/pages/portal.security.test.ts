import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, createPerson, enrolEmailAndTotp, latestCode, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { csrfOf, PageClient, parseSetCookies } from './page-client.ts';
import { startPortalHarness } from './support.ts';

/*
 * Page security, HTTP level (WEB-2..WEB-6, SESS-3, SESS-6, SESS-7, INP-1): headers, cookies, CSRF
 * with missing, forged and foreign tokens, form parsing, and where the flow token may appear.
 */

const PAGES = ['/', '/forgot', '/unlock'];

function cspDirectives(header: unknown): Map<string, string> {
  return new Map(
    String(header)
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .map(([name = '', ...values]) => [name, values.join(' ')]),
  );
}

describe('portal page security over plain http', () => {
  let h: Harness;
  let person: Person;
  let enrolled: Enrolled;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite');
    person = await createPerson(h, 'paula');
    enrolled = await enrolEmailAndTotp(h, person);
  });
  afterAll(async () => h.close());

  it('sends a CSP without inline script, no framing, no referrer, no caching and nosniff on every page', async () => {
    for (const path of PAGES) {
      const response = await new PageClient(h).get(path);
      expect(response.statusCode, path).toBe(200);
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      const csp = cspDirectives(response.headers['content-security-policy']);
      expect(csp.get('default-src')).toBe("'none'");
      expect(csp.get('script-src')).toBe("'self'");
      expect(csp.get('style-src')).toBe("'self'");
      expect(csp.get('object-src')).toBe("'none'");
      expect(csp.get('base-uri')).toBe("'none'");
      expect(csp.get('form-action')).toBe("'self'");
      expect(csp.get('frame-ancestors')).toBe("'none'");
      expect(String(response.headers['content-security-policy'])).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(response.headers['strict-transport-security']).toBeUndefined();
      // No inline script or style: the CSP would block it, and the page must not need it.
      expect(response.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(response.body).not.toMatch(/\sstyle=|<style/);
    }
  });

  it('serves the stylesheet, brand colours and script from this origin with a charset', async () => {
    const client = new PageClient(h);
    const css = await client.get('/assets/portal.css');
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css; charset=utf-8/i);
    const brand = await client.get('/brand/brand.css');
    expect(brand.body).toContain('--brand-primary: #1d4ed8;');
    const script = await client.get('/assets/portal.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript; charset=utf-8/i);
  });

  it('sets only HttpOnly, SameSite=Strict, host-only cookies; without TLS they carry no Secure flag', async () => {
    const client = new PageClient(h);
    const page = await client.get('/forgot');
    const started = await client.post('/forgot', { _csrf: csrfOf(page.body), identifier: person.username });
    const cookies = [...parseSetCookies(page), ...parseSetCookies(started)];
    expect(cookies.map((cookie) => cookie.name).sort()).toEqual(['lk_flow', 'lk_session']);
    for (const cookie of cookies) {
      expect(cookie.attributes.has('httponly'), cookie.name).toBe(true);
      expect(cookie.attributes.get('samesite'), cookie.name).toBe('Strict');
      expect(cookie.attributes.get('path'), cookie.name).toBe('/');
      expect(cookie.attributes.has('domain'), cookie.name).toBe(false);
      expect(cookie.attributes.has('secure'), cookie.name).toBe(false);
    }
  });

  it('refuses a start without a CSRF token, with a forged one, and with one from another session, starting nothing', async () => {
    const before = (await auditEvents(h, { types: ['recovery.started'] })).length;
    const victim = new PageClient(h);
    const attacker = new PageClient(h);
    await victim.get('/forgot');
    const attackersToken = csrfOf((await attacker.get('/forgot')).body);

    const missing = await victim.post('/forgot', { identifier: person.username });
    const forged = await victim.post('/forgot', { _csrf: 'a'.repeat(64), identifier: person.username });
    const foreign = await victim.post('/forgot', { _csrf: attackersToken, identifier: person.username });
    const noSession = await new PageClient(h).post('/forgot', { _csrf: attackersToken, identifier: person.username });
    for (const response of [missing, forged, foreign, noSession]) {
      expect(response.statusCode).toBe(403);
      expect(response.body).toContain('This form has expired or did not come from this site');
      expect(parseSetCookies(response).some((cookie) => cookie.name === 'lk_flow')).toBe(false);
    }
    expect((await auditEvents(h, { types: ['recovery.started'] })).length).toBe(before);
  });

  it('refuses a post the browser marks as cross-site even when it carries a valid token', async () => {
    const client = new PageClient(h);
    const token = csrfOf((await client.get('/forgot')).body);
    const crossSite = await client.post('/forgot', { _csrf: token, identifier: person.username }, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.statusCode).toBe(403);
    const sameOrigin = await client.post('/forgot', { _csrf: token, identifier: person.username }, { 'sec-fetch-site': 'same-origin' });
    expect(sameOrigin.statusCode).toBe(303);
  });

  it('protects every state-changing step: a forged token cannot choose a method, answer or set a password in the victim’s flow', async () => {
    const victim = new PageClient(h);
    await victim.submit('/forgot', '/forgot', { identifier: person.username });
    const sent = (await auditEvents(h)).length;
    for (const [action, form] of [
      ['/forgot/method', { method: 'email_code' }],
      ['/forgot/code', { code: '12345678' }],
      ['/forgot/password', { password: 'attacker chosen passphrase', confirmPassword: 'attacker chosen passphrase' }],
      ['/unlock/confirm', {}],
    ] as const) {
      const response = await victim.post(action, { _csrf: 'forged', ...form });
      expect(response.statusCode, action).toBe(403);
    }
    expect((await auditEvents(h)).length).toBe(sent);
    const check = await victim.postJson('/forgot/password/check', { password: 'anything at all here' });
    expect(check.statusCode).toBe(403);
    expect(check.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('never puts the flow token in a URL or in the page, rotates it after each gate and drops it when done (SESS-3, SESS-7)', async () => {
    const client = new PageClient(h);
    const method = await client.submit('/forgot', '/forgot', { identifier: person.username });
    const first = client.cookies.get('lk_flow') ?? '';
    expect(first).toMatch(/^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
    const secret = first.split('.')[1] ?? '';
    expect(method.body).not.toContain(secret);
    const code = await client.submit('/forgot/method', '/forgot/method', { method: 'email_code' });
    expect(code.body).not.toContain(secret);
    const page = await client.get('/forgot/code');
    const answered = await client.post('/forgot/code', { _csrf: csrfOf(page.body), code: await latestCode(h, enrolled.altEmail) });
    expect(answered.statusCode).toBe(303);
    expect(String(answered.headers.location)).toBe('/forgot/method');
    const rotated = client.cookies.get('lk_flow') ?? '';
    expect(rotated).not.toBe(first);
    // The old token continues nothing.
    const stale = new PageClient(h);
    stale.cookies.set('lk_flow', first);
    const staleView = await stale.get('/forgot/method');
    expect(staleView.statusCode).toBe(303);
    expect(staleView.headers.location).toBe('/forgot');
  });

  it('refuses polluted forms with a 400 page: repeated fields, array syntax and unknown fields (INP-1)', async () => {
    const client = new PageClient(h);
    const token = csrfOf((await client.get('/forgot')).body);
    const repeated = await h.app.inject({
      method: 'POST',
      url: '/forgot',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `lk_session=${client.cookies.get('lk_session')}` },
      payload: `_csrf=${token}&identifier=${person.username}&identifier=attacker@evil.test`,
    });
    expect(repeated.statusCode).toBe(400);
    expect(repeated.headers['content-type']).toBe('text/html; charset=utf-8');
    const arrayForm = await client.post('/forgot', { _csrf: token, 'identifier[]': person.username });
    expect(arrayForm.statusCode).toBe(400);
    const extra = await client.post('/forgot', { _csrf: token, identifier: person.username, role: 'admin' });
    expect(extra.statusCode).toBe(400);
    const tooLong = await client.post('/forgot', { _csrf: token, identifier: 'x'.repeat(300) });
    expect(tooLong.statusCode).toBe(400);
    const multipart = await h.app.inject({ method: 'POST', url: '/forgot', headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' });
    expect(multipart.statusCode).toBe(415);
    const textPlain = await h.app.inject({ method: 'POST', url: '/forgot', headers: { 'content-type': 'text/plain' }, payload: '{"identifier":"paula"}' });
    expect(textPlain.statusCode).toBe(415);
  });

  it('keeps the JSON API as strict as before: form bodies are still refused there', async () => {
    const response = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'identifier=paula' });
    expect(response.statusCode).toBe(415);
    expect(response.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
  });

  it('ignores a flash cookie forged or carried over from another session', async () => {
    const owner = new PageClient(h);
    const refused = await owner.post('/forgot', { _csrf: csrfOf((await owner.get('/forgot')).body), identifier: '' });
    const flash = owner.cookies.get('lk_flash') ?? '';
    expect(flash).not.toBe('');
    const other = new PageClient(h);
    await other.get('/');
    other.cookies.set('lk_flash', flash);
    expect((await other.get('/forgot')).body).not.toContain('There is a problem');
    expect((await owner.follow(refused)).body).toContain('Enter your username or work email.');
    // A forged "done" flash shows nothing either.
    other.cookies.set('lk_flash', `${Buffer.from('{"done":"reset"}').toString('base64url')}.${'0'.repeat(64)}`);
    const forged = await other.get('/forgot/done');
    expect(forged.statusCode).toBe(303);
    expect(forged.headers.location).toBe('/');
  });
});

describe('portal page security behind TLS (publicUrl is https)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite', { env: { LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test' } });
  });
  afterAll(async () => h.close());

  it('uses __Host- cookies with Secure and sends HSTS on pages and on the API', async () => {
    const client = new PageClient(h);
    const page = await client.get('/forgot');
    const [session] = parseSetCookies(page);
    expect(session?.name).toBe('__Host-lk_session');
    expect(session?.attributes.has('secure')).toBe(true);
    expect(session?.attributes.get('samesite')).toBe('Strict');
    expect(session?.attributes.has('httponly')).toBe(true);
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const started = await client.post('/forgot', { _csrf: csrfOf(page.body), identifier: 'someone' });
    expect(started.statusCode).toBe(303);
    expect(parseSetCookies(started).map((cookie) => cookie.name)).toEqual(['__Host-lk_flow']);
    const api = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(api.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  });
});
