import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, createPerson, ENGINES, latestCode, oathtoolCode, roomyLimits, type Harness, type Person } from '../support/harness.ts';
import { csrfOf, PageClient, parseSetCookies } from './page-client.ts';
import { startPortalHarness } from './support.ts';
import { helpdeskToken, issuePass, startHelpdeskHarness } from '../helpdesk/support.ts';

/*
 * "My recovery methods" at the HTTP level on every engine: sign-in and the gate, adding an
 * authenticator app and recovery codes, removing with step-up, sign-out; CSRF on every POST, and
 * the session cookie's attributes with and without TLS.
 */

const seedOf = (page: string): string => {
  const seed = /data-secret="([A-Z2-7]+)"/.exec(page)?.[1];
  if (!seed) throw new Error('no TOTP key on the page');
  return seed;
};

async function signIn(client: PageClient, person: Person) {
  return client.submit('/me/sign-in', '/me/sign-in', { username: person.username, password: person.password });
}

describe.each(ENGINES)('my recovery methods pages (%s)', (engine) => {
  let h: Harness;
  let alice: Person;

  beforeAll(async () => {
    h = await startPortalHarness(engine, { policy: [roomyLimits] });
    alice = await createPerson(h, 'alice');
  });
  afterAll(async () => h.close());

  it('sends a visitor without a session to sign in, and links the pages from the start page', async () => {
    const client = new PageClient(h);
    const me = await client.get('/me');
    expect(me.statusCode).toBe(303);
    expect(me.headers.location).toBe('/me/sign-in');
    expect((await client.get('/')).body).toContain('href="/me"');
    const page = await client.get('/me/sign-in');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['cache-control']).toBe('no-store');
  });

  it('refuses every POST without the page’s CSRF token, with another session’s token, or cross-site', async () => {
    const client = new PageClient(h);
    const page = await client.get('/me/sign-in');
    const credentials = { username: alice.username, password: alice.password };
    expect((await client.post('/me/sign-in', credentials)).statusCode).toBe(403);
    const other = new PageClient(h);
    const foreign = csrfOf((await other.get('/me/sign-in')).body);
    expect((await client.post('/me/sign-in', { _csrf: foreign, ...credentials })).statusCode).toBe(403);
    expect((await client.post('/me/sign-in', { _csrf: csrfOf(page.body), ...credentials }, { 'sec-fetch-site': 'cross-site' })).statusCode).toBe(403);

    const methods = await signIn(client, alice);
    expect(methods.body).toContain('<h1>My recovery methods</h1>');
    const before = (await h.latchkey.store.enrollments.listForAccount(alice.accountId as never)).length;
    for (const [url, form] of [
      ['/me/add', { method: 'recovery_code' }],
      ['/me/sign-out', {}],
      ['/me/methods/00000000-0000-4000-8000-000000000000/remove', {}],
      ['/me/methods/00000000-0000-4000-8000-000000000000/verify', { code: '123456' }],
    ] as const) {
      expect((await client.post(url, form)).statusCode, url).toBe(403);
      expect((await client.post(url, { _csrf: foreign, ...form })).statusCode, url).toBe(403);
    }
    expect((await h.latchkey.store.enrollments.listForAccount(alice.accountId as never)).length).toBe(before);
    for (const [url, form] of [
      ['/me/gate/method', { method: 'totp' }],
      ['/me/gate/answer', { code: '123456' }],
    ] as const) {
      expect((await client.post(url, form)).statusCode, url).toBe(403);
      expect((await client.post(url, { _csrf: foreign, ...form })).statusCode, url).toBe(403);
    }
    expect((await client.get('/me')).statusCode).toBe(200);
  });

  it('keeps the session token in an HttpOnly SameSite=Strict cookie and never on a page', async () => {
    const client = new PageClient(h);
    const shown = await client.get('/me/sign-in');
    const response = await client.post('/me/sign-in', { _csrf: csrfOf(shown.body), username: alice.username, password: alice.password });
    const cookie = parseSetCookies(response).find((item) => item.name === 'lk_me');
    expect(cookie).toBeDefined();
    expect(cookie?.attributes.has('httponly')).toBe(true);
    expect(cookie?.attributes.get('samesite')).toBe('Strict');
    expect(cookie?.attributes.get('path')).toBe('/');
    expect(cookie?.attributes.has('domain')).toBe(false);
    const page = await client.follow(response);
    expect(page.body).not.toContain(cookie?.value ?? 'missing');
    expect(String(response.headers.location)).not.toContain(cookie?.value ?? 'missing');
  });

  it('adds an authenticator app (QR code and key shown once), recovery codes, and removes one with step-up', async () => {
    const bob = await createPerson(h, 'bob');
    const client = new PageClient(h);
    const empty = await signIn(client, bob);
    expect(empty.body).toContain('Add 2 more methods: your organisation asks for at least 2.');

    const setup = await client.post('/me/add', { _csrf: csrfOf(empty.body), method: 'totp' });
    expect(setup.statusCode).toBe(200);
    expect(setup.headers['cache-control']).toBe('no-store');
    expect(setup.body).toMatch(/<svg class="qr"[^>]*role="img"/);
    const seed = seedOf(setup.body);
    const wrong = await client.follow(await client.post(/action="([^"]+\/verify)"/.exec(setup.body)?.[1] ?? '', { _csrf: csrfOf(setup.body), code: '000000' }));
    expect(wrong.body).toContain('That code is not correct');
    expect(wrong.body).not.toContain(seed);
    const added = await client.follow(await client.post(/action="([^"]+\/verify)"/.exec(wrong.body)?.[1] ?? '', { _csrf: csrfOf(wrong.body), code: oathtoolCode(seed, h.clock) }));
    expect(added.body).toContain('The method is added.');
    expect(added.body).toContain('Authenticator app');
    expect(added.body).toContain('Add one more method');

    const codes = await client.post('/me/add', { _csrf: csrfOf(added.body), method: 'recovery_code' });
    const shownCodes = [...codes.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((match) => match[1]);
    expect(shownCodes).toHaveLength(10);
    expect(codes.body).toContain('id="codes-download"');
    expect(codes.body).toContain('id="codes-print"');
    const list = await client.get('/me');
    expect(list.body).toContain('10 codes left');
    expect(list.body).not.toContain('Add one more method');
    for (const code of shownCodes) expect(list.body).not.toContain(code ?? 'missing');

    h.clock.advance(h.latchkey.deps.policy().signIn.stepUpSeconds + 30);
    const removeAction = /action="(\/me\/methods\/[^"]+\/remove)"/.exec(list.body)?.[1] ?? '';
    const stepUp = await client.follow(await client.post(removeAction, { _csrf: csrfOf(list.body) }));
    expect(stepUp.body).toContain('<h1>Sign in to your recovery methods</h1>');
    expect(stepUp.body).toContain('Sign in again to make this change.');

    const gate = await client.follow(await client.post('/me/sign-in', { _csrf: csrfOf(stepUp.body), username: bob.username, password: bob.password }));
    expect(gate.body).toContain('<h1>Prove it is you</h1>');
    const code = await client.follow(await client.post('/me/gate/method', { _csrf: csrfOf(gate.body), method: 'totp' }));
    h.clock.advance(30);
    const back = await client.follow(await client.post('/me/gate/answer', { _csrf: csrfOf(code.body), code: oathtoolCode(seed, h.clock) }));
    expect(back.body).toContain('<h1>My recovery methods</h1>');
    const removed = await client.follow(await client.post(removeAction, { _csrf: csrfOf(back.body) }));
    expect(removed.body).toContain('The method is removed.');
    const events = await auditEvents(h, { types: ['enrollment.removed'] });
    expect(events.some((event) => event.subject === bob.accountId)).toBe(true);

    const out = await client.follow(await client.post('/me/sign-out', { _csrf: csrfOf(removed.body) }));
    expect(out.body).toContain('You are signed out.');
    expect(client.cookies.has('lk_me')).toBe(false);
    expect((await client.get('/me')).statusCode).toBe(303);
  });

  it('verifies an alternate email by the code sent to it before it counts', async () => {
    const carol = await createPerson(h, 'carol');
    const client = new PageClient(h);
    const page = await signIn(client, carol);
    const verify = await client.follow(await client.post('/me/add', { _csrf: csrfOf(page.body), method: 'email_code', address: 'carol.home@example.org' }));
    expect(verify.body).toContain('Enter the code we sent to the new address.');
    const pending = await client.get('/me');
    expect(pending.body).toContain('Not confirmed yet');
    const done = await client.follow(await client.post(/action="([^"]+\/verify)"/.exec(verify.body)?.[1] ?? '', { _csrf: csrfOf(verify.body), code: await latestCode(h, 'carol.home@example.org') }));
    expect(done.body).toContain('The method is added.');
    expect(done.body).not.toContain('Not confirmed yet');
  });
});

describe('security questions on the pages, where policy enables them', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite', { policy: [roomyLimits, (policy) => void (policy.methods.security_questions.enabled = true)] });
  });
  afterAll(async () => h.close());

  it('offers the catalogue, stores the chosen questions with hashed answers, and refuses a question asked twice', async () => {
    const erin = await createPerson(h, 'erin');
    const client = new PageClient(h);
    const page = await signIn(client, erin);
    expect(page.body).toContain('<select id="question_3" name="question_3"');
    const form = { _csrf: csrfOf(page.body), method: 'security_questions', question_1: '0', answer_1: 'Elm Street', question_2: '1', answer_2: 'A red bicycle', question_3: '2', answer_3: 'Mrs Kowalski' };
    const twice = await client.follow(await client.post('/me/add', { ...form, question_2: '0' }));
    expect(twice.body).toContain('The details for this method are not valid.');
    const added = await client.follow(await client.post('/me/add', { ...form, _csrf: csrfOf(twice.body) }));
    expect(added.body).toContain('The method is added.');
    expect(added.body).toContain('Security questions');
    const [record] = (await h.latchkey.store.enrollments.listForAccount(erin.accountId as never)).filter((item) => item.methodId === 'security_questions');
    expect(record?.status).toBe('active');
    expect(record?.secretCiphertext).not.toContain('Elm Street');
  });
});

describe('signing in to the pages with a temporary access pass', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHelpdeskHarness('sqlite');
  });
  afterAll(async () => h.close());

  it('opens a registration-only session: the prompt shows, methods can be added, the pass is not listed', async () => {
    const fred = await createPerson(h, 'fred');
    const { pass } = await issuePass(h, await helpdeskToken(h), fred.accountId);
    const client = new PageClient(h);
    const shown = await client.get('/me/sign-in');
    const wrong = await client.follow(await client.post('/me/sign-in/pass', { _csrf: csrfOf(shown.body), username: fred.username, pass: 'WRONG-PASS-0000' }));
    expect(wrong.body).toContain('<h1>Sign in to your recovery methods</h1>');
    expect(wrong.body).toContain('id="error-summary"');
    expect((await client.post('/me/sign-in/pass', { username: fred.username, pass })).statusCode).toBe(403);
    const list = await client.follow(await client.post('/me/sign-in/pass', { _csrf: csrfOf(wrong.body), username: fred.username, pass }));
    expect(list.body).toContain('<h1>My recovery methods</h1>');
    expect(list.body).toContain('Add 2 more methods');
    expect(list.body).not.toContain('data-method="temporary_access_pass"');
    const codes = await client.post('/me/add', { _csrf: csrfOf(list.body), method: 'recovery_code' });
    expect(codes.body).toContain('id="recovery-codes"');
  });
});

describe('my recovery methods behind TLS', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite', { policy: [roomyLimits], env: { LATCHKEY_PORTAL__PUBLIC_URL: 'https://reset.corp.test' } });
  });
  afterAll(async () => h.close());

  it('sets the session cookie Secure with the __Host- prefix', async () => {
    const dave = await createPerson(h, 'dave');
    const client = new PageClient(h);
    const shown = await client.get('/me/sign-in');
    const response = await client.post('/me/sign-in', { _csrf: csrfOf(shown.body), username: dave.username, password: dave.password });
    const cookie = parseSetCookies(response).find((item) => item.name === '__Host-lk_me');
    expect(cookie?.attributes.has('secure')).toBe(true);
    expect(cookie?.attributes.has('httponly')).toBe(true);
    expect(cookie?.attributes.get('samesite')).toBe('Strict');
  });
});
