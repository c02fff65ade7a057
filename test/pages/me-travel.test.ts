import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson, ENGINES, latestCode, oathtoolCode, roomyLimits, type Harness, type Person } from '../support/harness.ts';
import { csrfOf, PageClient } from './page-client.ts';
import { startPortalHarness } from './support.ts';

/*
 * The travel page of "My recovery methods" at the HTTP level: declare, list and cancel a trip over
 * the travel service; the methods that work without a phone signal; CSRF on every POST; a bad
 * country or date answered 422 with the field named; another person's trip is not found.
 */

const dayFrom = (h: Harness, days: number): string => new Date(h.clock.now().getTime() + days * 86_400_000).toISOString().slice(0, 10);

async function signedIn(h: Harness, person: Person): Promise<PageClient> {
  const client = new PageClient(h);
  const page = await client.submit('/me/sign-in', '/me/sign-in', { username: person.username, password: person.password });
  expect(page.body).toContain('<h1>My recovery methods</h1>');
  return client;
}

describe.each(ENGINES)('travel page (%s)', (engine) => {
  let h: Harness;
  let alice: Person;
  let bob: Person;
  let carol: Person;

  beforeAll(async () => {
    h = await startPortalHarness(engine, { policy: [roomyLimits] });
    [alice, bob, carol] = await Promise.all([createPerson(h, 'alice'), createPerson(h, 'bob'), createPerson(h, 'carol')]);
  });
  afterAll(async () => h.close());

  it('links the page from /me, warns without signal-free methods, declares, lists and cancels a trip', async () => {
    const client = await signedIn(h, carol);
    expect((await client.get('/me')).body).toContain('href="/me/travel"');
    const empty = await client.get('/me/travel');
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toContain('<h1>Travel</h1>');
    expect(empty.body).toContain('None of your methods works without a phone signal');

    const codes = await client.post('/me/add', { _csrf: csrfOf(empty.body), method: 'recovery_code' });
    expect(codes.statusCode).toBe(200);
    const withCodes = await client.get('/me/travel');
    expect(withCodes.body).toMatch(/<ul class="no-signal" id="no-signal"><li data-method="recovery_code">Recovery codes/);
    expect(withCodes.body).not.toContain('None of your methods works without a phone signal');

    const declared = await client.submit('/me/travel', '/me/travel', { countries: 'fr, jp', from: dayFrom(h, 3), to: dayFrom(h, 10) });
    expect(declared.statusCode).toBe(200);
    expect(declared.body).toContain('Your trip is declared.');
    expect(declared.body).toContain('(FR), ');
    expect(declared.body).toContain('Upcoming');
    const tripId = /data-trip="([0-9a-f-]{36})"/.exec(declared.body)?.[1] ?? '';
    expect(tripId).not.toBe('');

    const cancelled = await client.submit('/me/travel', `/me/travel/${tripId}/cancel`, {});
    expect(cancelled.body).toContain('Your trip is cancelled.');
    expect(cancelled.body).toContain('Cancelled');
    expect(cancelled.body).not.toContain(`action="/me/travel/${tripId}/cancel"`);
  });

  it('answers a bad country or date 422 with the field named, and keeps what was typed', async () => {
    const client = await signedIn(h, alice);
    const page = await client.get('/me/travel');
    const csrf = csrfOf(page.body);
    const cases = [
      [{ countries: 'France', from: dayFrom(h, 1), to: dayFrom(h, 2) }, 'countries', 'Countries:'],
      [{ countries: 'XX', from: dayFrom(h, 1), to: dayFrom(h, 2) }, 'countries', 'Countries:'],
      [{ countries: '', from: dayFrom(h, 1), to: dayFrom(h, 2) }, 'countries', 'Countries:'],
      [{ countries: 'FR', from: '14/07/2026', to: dayFrom(h, 2) }, 'from', 'First day:'],
      [{ countries: 'FR', from: dayFrom(h, 5), to: dayFrom(h, 2) }, 'to', 'Last day:'],
      [{ countries: 'FR', from: dayFrom(h, -30), to: dayFrom(h, -20) }, 'to', 'Last day:'],
      [{ countries: 'FR', from: dayFrom(h, 1), to: dayFrom(h, 200) }, 'to', 'Last day:'],
    ] as const;
    for (const [form, field, message] of cases) {
      const refused = await client.post('/me/travel', { _csrf: csrf, ...form });
      expect(refused.statusCode, JSON.stringify(form)).toBe(422);
      expect(refused.body).toContain(`<a href="#${field}">${message}`);
      expect(refused.body).toMatch(new RegExp(`id="${field}"[^>]*aria-invalid="true"`));
      expect(refused.body).toContain(`value="${form.countries}"`);
    }
    const german = await client.post('/me/travel?lang=de', { _csrf: csrf, countries: 'XX', from: dayFrom(h, 1), to: dayFrom(h, 2) }, { 'accept-language': 'de' });
    expect(german.statusCode).toBe(422);
    expect(german.body).toContain('<a href="#countries">Länder:');
  });

  it('refuses every travel POST without the page’s CSRF token or with another session’s', async () => {
    const client = await signedIn(h, alice);
    const declared = await client.submit('/me/travel', '/me/travel', { countries: 'IT', from: dayFrom(h, 1), to: dayFrom(h, 4) });
    const tripId = /data-trip="([0-9a-f-]{36})"[^>]*data-status="(?:upcoming|in_force)"/.exec(declared.body)?.[1] ?? '';
    expect(tripId).not.toBe('');
    const foreign = csrfOf((await new PageClient(h).get('/me/sign-in')).body);
    for (const [url, form] of [
      ['/me/travel', { countries: 'ES', from: dayFrom(h, 1), to: dayFrom(h, 2) }],
      [`/me/travel/${tripId}/cancel`, {}],
    ] as const) {
      expect((await client.post(url, form)).statusCode, url).toBe(403);
      expect((await client.post(url, { _csrf: foreign, ...form })).statusCode, url).toBe(403);
    }
    const after = await client.get('/me/travel');
    expect(after.body).not.toContain('(ES)');
    expect(after.body).toMatch(new RegExp(`data-trip="${tripId}" data-status="(?:upcoming|in_force)"`));

    // Another person's trip: not found, and still in force for its owner.
    const other = await signedIn(h, bob);
    const stolen = await other.post(`/me/travel/${tripId}/cancel`, { _csrf: csrfOf((await other.get('/me/travel')).body) });
    expect(stolen.statusCode).toBe(404);
    expect(stolen.body).toContain('There is no such trip, or it was already cancelled.');
    expect((await client.get('/me/travel')).body).toMatch(new RegExp(`data-trip="${tripId}" data-status="(?:upcoming|in_force)"`));
  });

  it('sends a visitor without a session to sign in', async () => {
    const response = await new PageClient(h).get('/me/travel');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/me/sign-in');
  });
});

const DAY_SECONDS = 86_400;

describe.each(ENGINES)('re-confirmation on /me (%s)', (engine) => {
  let h: Harness;
  let dave: Person;

  beforeAll(async () => {
    h = await startPortalHarness(engine, { policy: [roomyLimits] });
    dave = await createPerson(h, 'dave');
  });
  afterAll(async () => h.close());

  it('lists a due method at sign-in, refuses a wrong code, confirms it with the emailed code', async () => {
    const address = 'dave.private@example.test';
    const first = await signedIn(h, dave);
    const verify = await first.follow(await first.post('/me/add', { _csrf: csrfOf((await first.get('/me')).body), method: 'email_code', address }));
    const added = await first.follow(await first.post(/action="([^"]+\/verify)"/.exec(verify.body)?.[1] ?? '', { _csrf: csrfOf(verify.body), code: await latestCode(h, address) }));
    expect(added.body).toContain('The method is added.');
    expect(added.body).not.toContain('reconfirm-prompt');
    const totp = await first.post('/me/add', { _csrf: csrfOf(added.body), method: 'totp' });
    const seed = /data-secret="([A-Z2-7]+)"/.exec(totp.body)?.[1] ?? '';
    expect((await first.follow(await first.post(/action="([^"]+\/verify)"/.exec(totp.body)?.[1] ?? '', { _csrf: csrfOf(totp.body), code: oathtoolCode(seed, h.clock) }))).body).toContain('The method is added.');

    // Past the policy's interval (180 days), signing in with the app: the unused email is due.
    h.clock.advance(181 * DAY_SECONDS);
    const client = new PageClient(h);
    const gate = await client.submit('/me/sign-in', '/me/sign-in', { username: dave.username, password: dave.password });
    const chosen = await client.follow(await client.post('/me/gate/method', { _csrf: csrfOf(gate.body), method: 'totp' }));
    const me = await client.follow(await client.post('/me/gate/answer', { _csrf: csrfOf(chosen.body), code: oathtoolCode(seed, h.clock) }));
    expect(me.body).toContain('<h1>My recovery methods</h1>');
    expect(me.body).toContain('reconfirm-prompt');
    const id = /data-reconfirm="([0-9a-f-]{36})"/.exec(me.body)?.[1] ?? '';
    expect(id).not.toBe('');
    expect(me.body).toContain(`action="/me/methods/${id}/reconfirm"`);

    // CSRF on both POSTs.
    expect((await client.post(`/me/methods/${id}/reconfirm`, {})).statusCode).toBe(403);
    const form = await client.post(`/me/methods/${id}/reconfirm`, { _csrf: csrfOf(me.body) });
    expect(form.statusCode).toBe(200);
    const reconfirmationId = /name="reconfirmationId" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
    expect((await client.post(`/me/methods/${id}/reconfirm/verify`, { reconfirmationId, code: '000000' })).statusCode).toBe(403);

    const code = await latestCode(h, address);
    const wrong = await client.post(`/me/methods/${id}/reconfirm/verify`, { _csrf: csrfOf(form.body), reconfirmationId, code: code === '00000000' ? '11111111' : '00000000' });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('<a href="#code">That code is not correct');

    const done = await client.follow(await client.post(`/me/methods/${id}/reconfirm/verify`, { _csrf: csrfOf(wrong.body), reconfirmationId, code }));
    expect(done.statusCode).toBe(200);
    expect(done.body).toContain('is confirmed as still yours');
    const after = await client.get('/me');
    expect(after.body).not.toContain('reconfirm-prompt');
    expect(after.body).not.toContain(`action="/me/methods/${id}/reconfirm"`);

    // Another 181 days, signing in with the email this time: the app is due, and takes its current code.
    h.clock.advance(181 * DAY_SECONDS);
    const later = new PageClient(h);
    const gate2 = await later.submit('/me/sign-in', '/me/sign-in', { username: dave.username, password: dave.password });
    const chosen2 = await later.follow(await later.post('/me/gate/method', { _csrf: csrfOf(gate2.body), method: 'email_code' }));
    const me2 = await later.follow(await later.post('/me/gate/answer', { _csrf: csrfOf(chosen2.body), code: await latestCode(h, address) }));
    const appId = /<li data-reconfirm="([0-9a-f-]{36})">Authenticator app/.exec(me2.body)?.[1] ?? '';
    expect(appId).not.toBe('');
    const appForm = await later.post(`/me/methods/${appId}/reconfirm`, { _csrf: csrfOf(me2.body) });
    expect(appForm.body).toContain('Enter the code your authenticator app shows now.');
    h.clock.advance(30);
    const appReconfirmationId = /name="reconfirmationId" value="([^"]+)"/.exec(appForm.body)?.[1] ?? '';
    const appDone = await later.follow(await later.post(`/me/methods/${appId}/reconfirm/verify`, { _csrf: csrfOf(appForm.body), reconfirmationId: appReconfirmationId, code: oathtoolCode(seed, h.clock) }));
    expect(appDone.body).toContain('Authenticator app');
    expect(appDone.body).toContain('is confirmed as still yours');
  });
});
