import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, startHarness, type Harness } from '../support/harness.ts';
import { createAccount, lockBySignIns, normalise, raw, type Normalised } from './checks.support.ts';

/*
 * ENUM-1 and ENUM-5: every way to start recovery answers the same for an account that exists (with
 * or without methods), one that does not, a disabled one, a locked one and an identifier that names
 * two accounts, by username and by email.
 */

const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/;

describe.each(ENGINES)('enumeration-safe replies on %s', (engine) => {
  let h: Harness;
  /** label → identifier; the ghost entries are the reference every other reply is compared with. */
  const identifiers: Record<string, string> = {};

  beforeAll(async () => {
    h = await startHarness({ engine });
    const alice = await createPerson(h, 'alice');
    await enrolEmailAndTotp(h, alice);
    await createPerson(h, 'bob');
    const dave = await createPerson(h, 'dave');
    await h.latchkey.store.builtinAccounts.setEnabled(dave.accountId as never, false);
    const erin = await createPerson(h, 'erin');
    await enrolEmailAndTotp(h, erin);
    await lockBySignIns(h, 'erin');
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(true);
    await createAccount(h, { username: 'pat', email: 'shared@corp.test' });
    await createAccount(h, { username: 'quinn', email: 'shared@corp.test' });
    Object.assign(identifiers, {
      'alice (methods) by username': 'alice',
      'alice (methods) by email': 'alice@corp.test',
      'bob (no methods) by username': 'bob',
      'bob (no methods) by email': 'bob@corp.test',
      'dave (disabled) by username': 'dave',
      'dave (disabled) by email': 'dave@corp.test',
      'erin (locked) by username': 'erin',
      'erin (locked) by email': 'erin@corp.test',
      'shared work email (two accounts)': 'shared@corp.test',
      'ghost by email': 'ghost@corp.test',
    });
  });
  afterAll(async () => {
    await h.close();
  });

  const start = (identifier: string, purpose: 'reset' | 'unlock') => call(h, 'POST', '/api/recovery/flows', { identifier, purpose });

  it('ENUM-1 returns the same status, body shape and headers for alice, ghost, a disabled, a locked and an ambiguous account, by username and email', async () => {
    for (const purpose of ['reset', 'unlock'] as const) {
      const ghost = await start('ghost', purpose);
      const reference = normalise(ghost);
      expect(reference.status).toBe(201);
      expect(reference.contentType).toBe('application/json; charset=utf-8');
      expect(reference.cacheControl).toBe('no-store');
      expect(reference.setCookie).toBe(false);
      const replies: Record<string, Normalised> = {};
      for (const [label, identifier] of Object.entries(identifiers)) {
        const response = await start(identifier, purpose);
        replies[label] = normalise(response);
        const body = json<{ flowToken: string; flow: { flowId: string; expiresAt: string } }>(response);
        // The volatile values set aside by `normalise` have one format and one lifetime for everyone.
        expect(body.flowToken, label).toMatch(TOKEN);
        expect(body.flowToken.startsWith(`${body.flow.flowId}.`), label).toBe(true);
        const ttl = (Date.parse(body.flow.expiresAt) - h.clock.now().getTime()) / 1000;
        expect(Math.abs(ttl - 900), `${label}: expiresAt ${body.flow.expiresAt}`).toBeLessThan(5);
      }
      for (const [label, reply] of Object.entries(replies)) expect(reply, `${purpose}: ${label}`).toEqual(reference);
    }
  });

  it('ENUM-1 describes a started flow identically (GET /api/recovery/flow) whoever it is for', async () => {
    const ghost = json<{ flowToken: string }>(await start('ghost', 'reset'));
    const reference = normalise(await call(h, 'GET', '/api/recovery/flow', undefined, { token: ghost.flowToken }));
    expect(reference.status).toBe(200);
    for (const [label, identifier] of Object.entries(identifiers)) {
      const started = json<{ flowToken: string }>(await start(identifier, 'reset'));
      expect(normalise(await call(h, 'GET', '/api/recovery/flow', undefined, { token: started.flowToken })), label).toEqual(reference);
    }
  });

  it('ENUM-5 lists exactly two entry points that look an account up by an identifier in the OpenAPI document', async () => {
    const spec = json<{ paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }>> }>(await call(h, 'GET', '/api/openapi.json'));
    const entryPoints = Object.entries(spec.paths)
      .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ path, method, properties: Object.keys(operation.requestBody?.content?.['application/json']?.schema?.properties ?? {}) })))
      .filter((operation) => operation.properties.includes('identifier') || operation.properties.includes('username'))
      .map((operation) => `${operation.method.toUpperCase()} ${operation.path}`)
      .sort();
    // A new entry point must be added to the checks below before this list may grow.
    expect(entryPoints).toEqual(['POST /api/admin/session', 'POST /api/me/sign-in', 'POST /api/me/sign-in/pass', 'POST /api/recovery/flows']);
  });

  it('ENUM-5 answers POST /api/recovery/flows the same for every account whatever the Accept header', async () => {
    for (const accept of ['text/html', 'application/xml', '*/*']) {
      const reference = normalise(await call(h, 'POST', '/api/recovery/flows', { identifier: 'ghost' }, { headers: { accept } }));
      expect(reference.status).toBe(201);
      for (const [label, identifier] of Object.entries(identifiers)) {
        expect(normalise(await call(h, 'POST', '/api/recovery/flows', { identifier }, { headers: { accept } })), `${accept}: ${label}`).toEqual(reference);
      }
    }
  });

  it('ENUM-5 refuses form-encoded, text/plain, multipart and untyped bodies with the same 415 for alice and ghost on both entry points', async () => {
    const shapes: { type: string | null; body: (name: string) => string }[] = [
      { type: 'application/x-www-form-urlencoded', body: (name) => `identifier=${encodeURIComponent(name)}&username=${encodeURIComponent(name)}&password=x` },
      { type: 'text/plain', body: (name) => `{"identifier":"${name}","username":"${name}","password":"x"}` },
      { type: 'multipart/form-data; boundary=XyZ', body: (name) => `--XyZ\r\nContent-Disposition: form-data; name="identifier"\r\n\r\n${name}\r\n--XyZ--\r\n` },
      { type: null, body: (name) => `{"identifier":"${name}"}` },
    ];
    const before = (await h.latchkey.store.outbox.list({ limit: 100_000 })).length;
    for (const url of ['/api/recovery/flows', '/api/me/sign-in', '/api/me/sign-in/pass', '/api/admin/session']) {
      for (const shape of shapes) {
        const headers = shape.type ? { 'content-type': shape.type } : {};
        const reference = normalise(await raw(h, 'POST', url, shape.body('ghost'), headers));
        expect(reference.status, `${url} ${shape.type}`).toBe(415);
        expect((reference.body as { code: string }).code).toBe('request.unsupported_media_type');
        for (const identifier of ['alice', 'alice@corp.test', 'erin', 'dave']) {
          expect(normalise(await raw(h, 'POST', url, shape.body(identifier), headers)), `${url} ${shape.type} ${identifier}`).toEqual(reference);
        }
      }
    }
    expect((await h.latchkey.store.outbox.list({ limit: 100_000 })).length).toBe(before);
  });

  it('ENUM-5 answers a failed sign-in the same for an unknown, a wrong-password, a disabled, a locked and an ambiguous identifier', async () => {
    const signIn = (username: string, password: string) => call(h, 'POST', '/api/me/sign-in', { username, password });
    const reference = normalise(await signIn('ghost', 'whatever the password is'));
    expect(reference.status).toBe(401);
    expect((reference.body as { code: string }).code).toBe('auth.failed');
    const attempts: [string, string, string][] = [
      ['bob, wrong password', 'bob', 'not bob password at all'],
      ['bob by email, wrong password', 'bob@corp.test', 'not bob password at all'],
      ['dave (disabled), right password', 'dave', 'dave walks past seven quiet lanterns'],
      ['erin (locked), right password', 'erin', 'erin walks past seven quiet lanterns'],
      ['shared email, right password of one of them', 'shared@corp.test', 'pat strolls past nine amber lanterns'],
      ['ghost by email', 'ghost@corp.test', 'whatever the password is'],
    ];
    for (const [label, username, password] of attempts) expect(normalise(await signIn(username, password)), label).toEqual(reference);
  });

  it('ENUM-5 answers a failed console sign-in the same for an unknown, a non-admin with the right password, a disabled, a locked and an ambiguous identifier', async () => {
    const signIn = (username: string, password: string) => call(h, 'POST', '/api/admin/session', { username, password });
    const reference = normalise(await signIn('ghost', 'whatever the password is'));
    expect(reference.status).toBe(401);
    expect((reference.body as { code: string }).code).toBe('auth.failed');
    const attempts: [string, string, string][] = [
      ['bob (no admin role), right password', 'bob', 'bob walks past seven quiet lanterns'],
      ['bob, wrong password', 'bob', 'not bob password at all'],
      ['dave (disabled), right password', 'dave', 'dave walks past seven quiet lanterns'],
      ['erin (locked), right password', 'erin', 'erin walks past seven quiet lanterns'],
      ['shared email, right password of one of them', 'shared@corp.test', 'pat strolls past nine amber lanterns'],
      ['ghost by email', 'ghost@corp.test', 'whatever the password is'],
    ];
    for (const [label, username, password] of attempts) expect(normalise(await signIn(username, password)), label).toEqual(reference);
  });

  it('ENUM-5 answers a failed sign-in with a pass the same for an unknown, a passless, a disabled, a locked and an ambiguous identifier', async () => {
    const signIn = (username: string, pass: string) => call(h, 'POST', '/api/me/sign-in/pass', { username, pass });
    const reference = normalise(await signIn('ghost', 'ABCD-EFGH-JKMN-PQRS'));
    expect(reference.status).toBe(401);
    expect((reference.body as { code: string }).code).toBe('auth.failed');
    for (const identifier of Object.values(identifiers)) {
      for (const pass of ['ABCD-EFGH-JKMN-PQRS', 'half-pass']) expect(normalise(await signIn(identifier, pass)), `${identifier} ${pass}`).toEqual(reference);
    }
  });
});
