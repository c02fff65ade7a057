import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ERROR_CODES } from '../../src/core/errors.ts';
import type { Latchkey } from '../../src/server/compose.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, signInFresh, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { adminToken, harnessOver } from './checks.support.ts';

/*
 * LOG-7: malformed JSON, wrong types, odd content types, huge bodies and bad tokens, thrown at every
 * endpoint, get a problem document with a stable code and never a 500, a stack trace, a query or a
 * file path; a truly unexpected error gets a generic 500 with a correlation id and nothing else.
 */

/** What must never reach a client: stack frames, source paths, SQL, driver and directory internals. */
const INTERNALS = /\bat [\w$.<>]+ \(|\bat (async )?[\w$.<>]+ \[?\/|node_modules|\.ts:\d|\.js:\d|\bselect\b.*\bfrom\b|\binsert into\b|sqlite|postgres|kysely|ECONN|dc=|cn=|ldap|stack|TypeError|ReferenceError|SyntaxError|undefined is not|cannot read prop/i;

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIELDS = ['identifier', 'purpose', 'method', 'code', 'answers', 'password', 'confirmPassword', 'username', 'address', 'phone', '__proto__', 'constructor', 'role', ''];
const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1e308, -1e308, 0.5, '', ' ', 'x'.repeat(3000), '\u0000', '\ud800', '\u202e', '{{7*7}}', "'; drop table flows; --", '../../etc/passwd', [], [null], ['a', 'b'], {}, { $ne: null }, { $gt: '' }, [[[[[]]]]], 'totp', 'email_code', 'reset', 'unlock'];

function oddBodies(random: () => number): string[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const bodies = [
    '',
    '{',
    '}',
    'null',
    '[]',
    '"x"',
    '42',
    'true',
    '{"a":}',
    '{"a":1,}',
    "{'a':1}",
    '{"a":1}{"b":2}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":01}',
    '{"a":"\\x41"}',
    '{"a":"\\u12"}',
    '\ufeff{"a":1}',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
    '{"identifier":"a","identifier":"b"}',
  ];
  for (let index = 0; index < 40; index += 1) {
    const body: Record<string, unknown> = {};
    const size = 1 + Math.floor(random() * 3);
    for (let field = 0; field < size; field += 1) body[pick(FIELDS)] = pick(ODD_VALUES);
    bodies.push(JSON.stringify(body));
  }
  return bodies;
}

function expectProblem(response: LightMyRequestResponse, label: string): void {
  expect(response.statusCode, `${label}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  expect(response.body, label).not.toMatch(INTERNALS);
  expect(response.headers['x-content-type-options'], label).toBe('nosniff');
  if (response.statusCode < 400) return;
  expect(response.headers['content-type'], label).toBe('application/problem+json; charset=utf-8');
  const body = json<{ type: string; code: string; status: number; title: string; detail: string }>(response);
  expect(Object.keys(ERROR_CODES), label).toContain(body.code);
  expect(body.status, label).toBe(response.statusCode);
  expect(body.type, label).toBe(`urn:latchkey:problem:${body.code}`);
  expect(body.title, label).toBe(ERROR_CODES[body.code as keyof typeof ERROR_CODES]);
}

describe.each(ENGINES)('generic errors on %s', (engine) => {
  let h: Harness;
  const tokens: Record<string, string | undefined> = {};
  let enrollmentId = '';
  beforeAll(async () => {
    h = await startHarness({ engine });
    const alice = await createPerson(h, 'alice');
    await enrolEmailAndTotp(h, alice);
    const bob = await createPerson(h, 'bob');
    tokens['session'] = await signInFresh(h, bob);
    enrollmentId = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: 'bob.home@example.org' }, { token: tokens['session'] })).enrollment.id;
    tokens['flow'] = (await startFlow(h, 'alice')).token;
    tokens['admin'] = await adminToken(h);
    tokens['none'] = undefined;
    tokens['garbage'] = 'garbage';
    tokens['overlong'] = 'x'.repeat(600);
    tokens['unicode'] = 'tökén';
  });
  afterAll(async () => {
    await h.close();
  });

  const endpoints = (): [string, string][] => [
    ['POST', '/api/recovery/flows'],
    ['POST', '/api/recovery/flow/method'],
    ['POST', '/api/recovery/flow/answer'],
    ['POST', '/api/recovery/flow/password'],
    ['POST', '/api/recovery/flow/unlock'],
    ['POST', '/api/me/sign-in'],
    ['POST', '/api/me/sign-out'],
    ['POST', '/api/me/methods'],
    ['POST', `/api/me/methods/${enrollmentId}/verify`],
    ['POST', '/api/me/methods/not-a-uuid/verify'],
  ];

  it('LOG-7 answers malformed and mistyped JSON on every endpoint with a stable problem code, never a 500 or internals', async () => {
    const bodies = oddBodies(generator(20_260_126));
    let checked = 0;
    for (const [method, url] of endpoints()) {
      for (const [name, token] of Object.entries(tokens)) {
        for (const body of bodies) {
          const response = await h.app.inject({ method: method as 'POST', url, payload: body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
          expectProblem(response, `${method} ${url} [${name}] ${body.slice(0, 60)}`);
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(2000);
  });

  it('LOG-7 answers odd content types, encodings, huge bodies, methods, paths and queries the same way', async () => {
    const requests: { method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD'; url: string; headers?: Record<string, string>; payload?: string | Buffer }[] = [
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/xml' }, payload: '<identifier>alice</identifier>' },
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json; charset=utf-16' }, payload: Buffer.from('{"identifier":"alice"}', 'utf16le') },
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload: Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x7b]) },
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: Buffer.from([0x1f, 0x8b, 0x08, 0x00]) },
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload: `{"identifier":"${'a'.repeat(2 * 1024 * 1024)}"}` },
      { method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json', 'content-length': '5' }, payload: '{"identifier":"alice"}' },
      { method: 'GET', url: '/api/recovery/flow?token=x&token=y', headers: { authorization: `Bearer ${tokens['flow'] ?? ''}` } },
      { method: 'GET', url: '/api/admin/audit?limit=-1', headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: '/api/admin/audit?limit=abc&after=-5&since=yesterday', headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: '/api/admin/audit?type=nope&flowId=1', headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: '/api/admin/audit?type[$ne]=x', headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: `/api/admin/accounts/${'%ff'.repeat(50)}`, headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: `/api/admin/accounts/${'a'.repeat(500)}`, headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'GET', url: '/api/admin/outbox?status=all', headers: { authorization: `Bearer ${tokens['admin'] ?? ''}` } },
      { method: 'DELETE', url: '/api/me/methods/..%2f..%2fetc', headers: { authorization: `Bearer ${tokens['session'] ?? ''}` } },
      { method: 'DELETE', url: `/api/me/methods/${enrollmentId}`, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } },
      { method: 'PUT', url: '/api/recovery/flows' },
      { method: 'PATCH', url: '/api/me/methods' },
      { method: 'OPTIONS', url: '/api/recovery/flows' },
      { method: 'GET', url: '/api/%zz' },
      { method: 'GET', url: '/api/recovery/flow/../../../etc/passwd' },
      { method: 'GET', url: `/api/${'x/'.repeat(2000)}` },
      { method: 'GET', url: '/api/openapi.json?x=1' },
      { method: 'GET', url: '/healthz?debug=true' },
    ];
    for (const request of requests) expectProblem(await h.app.inject(request), `${request.method} ${request.url.slice(0, 80)} ${JSON.stringify(request.headers ?? {}).slice(0, 80)}`);
  });

  it('LOG-7 turns an unexpected failure into a generic 500 with a correlation id and nothing of the error', async () => {
    const leaky = new Error('select password_hash from builtin_accounts where username = $1; ldap://dc.corp.test cn=svc,dc=corp,dc=test ECONNREFUSED');
    const recovery = Object.create(h.latchkey.recovery, { start: { value: () => Promise.reject(leaky) } }) as Latchkey['recovery'];
    const broken = await harnessOver(h, { ...h.latchkey, recovery });
    try {
      const response = await call(broken, 'POST', '/api/recovery/flows', { identifier: 'alice' });
      expect(response.statusCode).toBe(500);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      const body = json<Record<string, unknown>>(response);
      expect(Object.keys(body).sort()).toEqual(['code', 'correlationId', 'detail', 'status', 'title', 'type']);
      expect(body).toMatchObject({ code: 'internal', status: 500 });
      expect(body['correlationId']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(response.body).not.toMatch(INTERNALS);
      expect(response.body).not.toContain('password_hash');
      // A second failure gets its own correlation id.
      expect(json<{ correlationId: string }>(await call(broken, 'POST', '/api/recovery/flows', { identifier: 'alice' })).correlationId).not.toBe(body['correlationId']);
    } finally {
      await broken.close();
    }
  });
});
