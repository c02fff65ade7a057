import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, call, createPerson, enrolEmailAndTotp, ENGINES, latestCode, messagesTo, oathtoolCode, roomyLimits, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { csrfOf, PageClient, parseSetCookies } from './page-client.ts';
import { HELPDESK_URL, lockAccount, normalisedMain, startPortalHarness } from './support.ts';

/*
 * The Forgot password and Unlock journeys through the pages, at the HTTP level, on every engine:
 * each step's page, the gates-remaining line, errors with attempts left, the helpdesk where a person
 * is stuck, and the decoy that looks the same as a real account (ENUM-1, ENUM-3, ENUM-5).
 */

describe.each(ENGINES)('portal journeys (%s)', (engine) => {
  let h: Harness;
  let alice: Person;
  let aliceMethods: Enrolled;

  beforeAll(async () => {
    h = await startPortalHarness(engine, { policy: [roomyLimits, (policy) => void (policy.tiers.standard.maxAttemptsPerChallenge = 3)] });
    alice = await createPerson(h, 'alice');
    aliceMethods = await enrolEmailAndTotp(h, alice);
  });
  afterAll(async () => h.close());

  it('resets a password through every page: identifier, two gates, new password, done', async () => {
    const client = new PageClient(h);
    const method = await client.submit('/forgot', '/forgot', { identifier: alice.email });
    expect(method.body).toContain('<h1>Choose how to prove it is you</h1>');
    expect(method.body).toContain('0 of 2 identity checks passed.');
    expect(method.body).toContain('2 more checks to go.');

    const code = await client.submit('/forgot/method', '/forgot/method', { method: 'email_code' });
    expect(code.body).toContain('<h1>Enter the code</h1>');
    const second = await client.submit('/forgot/code', '/forgot/code', { code: await latestCode(h, aliceMethods.altEmail) });
    expect(second.body).toContain('1 of 2 identity checks passed.');
    expect(second.body).toContain('One more check to go.');
    // The email channel is used up: it is no longer offered.
    expect(second.body).not.toContain('value="email_code"');

    await client.submit('/forgot/method', '/forgot/method', { method: 'totp' });
    const password = await client.submit('/forgot/code', '/forgot/code', { code: oathtoolCode(aliceMethods.totpSeed, h.clock) });
    expect(password.body).toContain('<h1>Choose a new password</h1>');
    expect(password.body).toContain('Every identity check is passed.');
    expect(password.body).toContain('At least 15 and at most 256 characters');

    const weak = await client.submit('/forgot/password', '/forgot/password', { password: 'Password1234567', confirmPassword: 'Password1234567' });
    expect(weak.body).toContain('Choose another password.');
    expect(weak.body).toContain('This is one of the most common passwords');
    const mismatch = await client.submit('/forgot/password', '/forgot/password', { password: 'a good long passphrase here', confirmPassword: 'another one' });
    expect(mismatch.body).toContain('The two passwords differ.');

    const newPassword = 'purple otter juggles seven lanterns';
    const done = await client.submit('/forgot/password', '/forgot/password', { password: newPassword, confirmPassword: newPassword });
    expect(done.body).toContain('<h1>Your password has been changed</h1>');
    expect(done.body).toContain('You have been signed out of every session you had.');
    expect(done.body).toContain(HELPDESK_URL);
    expect(client.cookies.has('lk_flow')).toBe(false);

    const signIn = await call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: newPassword });
    expect(signIn.statusCode).toBe(200);
    expect((await messagesTo(h, alice.email)).some((message) => /password/i.test(message.subject ?? message.text))).toBe(true);
    // Pages drive the same engine: the same audit trail as the API.
    expect((await auditEvents(h, { types: ['password.reset'] })).filter((event) => event.outcome === 'success')).toHaveLength(1);
    // Reloading the done page shows it once more; a fresh browser never sees it.
    expect((await new PageClient(h).get('/forgot/done')).statusCode).toBe(303);
  });

  it('answers the live password check only with a grant, in the page language, without changing the flow', async () => {
    const client = new PageClient(h, { 'accept-language': 'de' });
    const bob = await createPerson(h, 'bobby');
    const methods = await enrolEmailAndTotp(h, bob);
    await client.submit('/forgot', '/forgot', { identifier: 'bobby' });
    const token = csrfOf((await client.get('/forgot/method')).body);
    // Before the gates: nothing to check, and no account facts.
    const early = await client.postJson('/forgot/password/check', { password: 'bobby bobby bobby bobby' }, { 'x-csrf-token': token });
    expect(early.statusCode).toBe(409);
    await client.submit('/forgot/method', '/forgot/method', { method: 'email_code' });
    await client.submit('/forgot/code', '/forgot/code', { code: await latestCode(h, methods.altEmail) });
    await client.submit('/forgot/method', '/forgot/method', { method: 'totp' });
    await client.submit('/forgot/code', '/forgot/code', { code: oathtoolCode(methods.totpSeed, h.clock) });
    const named = await client.postJson('/forgot/password/check', { password: 'bobby2024bobby2024' }, { 'x-csrf-token': token });
    expect(named.statusCode).toBe(200);
    const body = named.json<{ ok: boolean; reasons: { code: string; rule: string; message: string }[] }>();
    expect(body.ok).toBe(false);
    expect(body.reasons.map((reason) => reason.code)).toContain('context');
    expect(body.reasons.find((reason) => reason.code === 'context')?.message).toMatch(/Bilden Sie das Passwort nicht/);
    const short = await client.postJson('/forgot/password/check', { password: 'short' }, { 'x-csrf-token': token });
    expect(short.json<{ reasons: { code: string; message: string }[] }>().reasons).toContainEqual({ code: 'too_short', rule: 'length', message: 'Verwenden Sie mindestens 15 Zeichen.' });
    const good = await client.postJson('/forgot/password/check', { password: 'quiet harbour maps eleven kites' }, { 'x-csrf-token': token });
    expect(good.json()).toEqual({ ok: true, reasons: [] });
    expect(good.headers['cache-control']).toBe('no-store');
    // The grant is untouched: the page still asks for the password.
    expect((await client.get('/forgot/password')).body).toContain('Neues Passwort wählen');
  });

  it('shows a wrong code with the tries left, and after the last one sends the person back to choose, with the helpdesk', async () => {
    const client = new PageClient(h);
    await client.submit('/forgot', '/forgot', { identifier: 'alice' });
    await client.submit('/forgot/method', '/forgot/method', { method: 'email_code' });
    const first = await client.submit('/forgot/code', '/forgot/code', { code: '00000000' });
    expect(first.body).toContain('That code is not correct, or it has expired. Check it and try again. You have 2 more tries for this code.');
    expect(first.body).toContain('id="error-summary"');
    expect(first.body).toContain('aria-invalid="true"');
    const second = await client.submit('/forgot/code', '/forgot/code', { code: '00000001' });
    expect(second.body).toContain('You have one more try for this code.');
    const exhausted = await client.submit('/forgot/code', '/forgot/code', { code: '00000002' });
    expect(exhausted.body).toContain('<h1>Choose how to prove it is you</h1>');
    expect(exhausted.body).toContain('This code can no longer be used. Choose a method to get a new one.');
    expect(exhausted.body).toContain('helpdesk-prominent');
    expect(exhausted.body).toContain(`href="${HELPDESK_URL}"`);
  });

  it('walks an unknown identifier through pages identical to a real account’s, up to and including a wrong code', async () => {
    const real = new PageClient(h);
    const ghost = new PageClient(h);
    const starts: string[] = [];
    for (const [identifier, client] of [
      ['alice@corp.test', real],
      ['ghost@corp.test', ghost],
    ] as const) {
      const page = await client.get('/forgot');
      const started = await client.post('/forgot', { _csrf: csrfOf(page.body), identifier });
      starts.push(`${started.statusCode} ${String(started.headers.location)} ${parseSetCookies(started).map((cookie) => `${cookie.name} ${[...cookie.attributes.keys()].join(',')}`).join(';')} ${started.body}`);
    }
    expect(starts[1]).toBe(starts[0]);
    expect(starts[0]).toMatch(/^303 \/forgot\/method lk_flow /);
    const pages = async (client: PageClient): Promise<string[]> => {
      const method = await client.get('/forgot/method');
      const code = await client.submit('/forgot/method', '/forgot/method', { method: 'email_code' });
      const wrong = await client.submit('/forgot/code', '/forgot/code', { code: '11111111' });
      return [method, code, wrong].map((response) => `${response.statusCode} ${normalisedMain(response.body)}`);
    };
    const realPages = await pages(real);
    const ghostPages = await pages(ghost);
    expect(ghostPages).toEqual(realPages);
    expect(realPages[2]).toContain('You have 2 more tries for this code.');
    expect(await messagesTo(h, 'ghost@corp.test')).toEqual([]);
  });

  it('unlocks a locked account through the pages without changing its password', async () => {
    const erin = await createPerson(h, 'erin');
    const methods = await enrolEmailAndTotp(h, erin);
    await lockAccount(h, 'erin');
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(true);

    const client = new PageClient(h);
    const method = await client.submit('/unlock', '/unlock', { identifier: 'erin' });
    expect(method.body).toContain('2 more checks to go.');
    await client.submit('/unlock/method', '/unlock/method', { method: 'email_code' });
    await client.submit('/unlock/code', '/unlock/code', { code: await latestCode(h, methods.altEmail) });
    await client.submit('/unlock/method', '/unlock/method', { method: 'totp' });
    const confirm = await client.submit('/unlock/code', '/unlock/code', { code: oathtoolCode(methods.totpSeed, h.clock) });
    expect(confirm.body).toContain('<h1>Unlock your account</h1>');
    // An unlock grant never leads to the password page.
    expect((await client.get('/forgot/password')).headers.location).toBe('/unlock/confirm');
    const done = await client.submit('/unlock/confirm', '/unlock/confirm', {});
    expect(done.body).toContain('<h1>Your account is unlocked</h1>');
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(false);
    expect((await call(h, 'POST', '/api/me/sign-in', { username: 'erin', password: erin.password })).statusCode).toBe(200);
  });

  it('sends a page without a flow back to the start with a message, never a 500', async () => {
    const client = new PageClient(h);
    const response = await client.get('/forgot/code');
    expect(response.statusCode).toBe(303);
    const start = await client.follow(response);
    expect(start.body).toContain('This session has ended or was replaced. Start again.');
    client.cookies.set('lk_flow', 'not-a-token');
    expect((await client.get('/unlock/method')).headers.location).toBe('/unlock');
  });
});

describe('portal rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startPortalHarness('sqlite', {
      policy: [roomyLimits, (policy) => void (policy.rateLimits.perIp = { points: 3, windowSeconds: 60 })],
      env: { LATCHKEY_START_RESPONSE_FLOOR_MS: '60' },
    });
  });
  afterAll(async () => h.close());

  it('holds the start reply to the same floor as the API', async () => {
    const client = new PageClient(h);
    const token = csrfOf((await client.get('/forgot')).body);
    const started = performance.now();
    const response = await client.post('/forgot', { _csrf: token, identifier: 'nobody-at-all' });
    expect(response.statusCode).toBe(303);
    expect(performance.now() - started).toBeGreaterThanOrEqual(59);
  });

  it('applies the API’s per-address limit and shows the helpdesk when it trips', async () => {
    const client = new PageClient(h);
    let last = '';
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const token = csrfOf((await client.get('/forgot')).body);
      const response = await client.post('/forgot', { _csrf: token, identifier: `someone${attempt}` });
      last = response.statusCode === 303 ? '' : response.body;
      if (response.statusCode === 429) break;
    }
    expect(last).toContain('Too many attempts. Wait a few minutes, then try again.');
    expect(last).toContain(`href="${HELPDESK_URL}"`);
  });
});
