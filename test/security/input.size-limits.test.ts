import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, passTwoGates, startFlow, startHarness, type Harness } from '../support/harness.ts';

/*
 * INP-6: request size and field lengths are bounded, so an oversized password, username or body
 * is refused fast (400 or 413) before any hashing or lookup, and never turns into a 500.
 */

const MB = 1024 * 1024;

async function timed(request: () => Promise<LightMyRequestResponse>): Promise<{ response: LightMyRequestResponse; ms: number }> {
  const started = performance.now();
  const response = await request();
  return { response, ms: performance.now() - started };
}

describe.each(ENGINES)('size limits on %s', (engine) => {
  let h: Harness;
  let grant: string;
  beforeAll(async () => {
    h = await startHarness({ engine });
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice);
    grant = await passTwoGates(h, (await startFlow(h, 'alice')).token, enrolled);
  });
  afterAll(async () => {
    await h.close();
  });

  const post = (url: string, payload: string | Readable, token?: string, extra: Record<string, string> = {}) =>
    h.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra } });

  function expectFastRefusal(result: { response: LightMyRequestResponse; ms: number }, status: 400 | 413, label: string, field?: string): void {
    expect(result.response.statusCode, `${label}: ${result.response.body.slice(0, 200)}`).toBe(status);
    const body = json<{ code: string; detail: string }>(result.response);
    expect(body.code, label).toBe(status === 413 ? 'request.too_large' : 'request.invalid');
    if (field) expect(body.detail, label).toContain(field);
    expect(result.ms, label).toBeLessThan(1000);
  }

  it('INP-6 refuses a 1 MB password, a 100 KB username and identifier, and a 10 MB body with a fast 413', async () => {
    const megaPassword = 'p'.repeat(MB);
    const cases: [string, () => Promise<LightMyRequestResponse>][] = [
      ['1 MB password at sign-in', () => post('/api/me/sign-in', JSON.stringify({ username: 'alice', password: megaPassword }))],
      ['1 MB new password', () => post('/api/recovery/flow/password', JSON.stringify({ password: megaPassword, confirmPassword: megaPassword }), grant)],
      ['100 KB username', () => post('/api/me/sign-in', JSON.stringify({ username: 'u'.repeat(100 * 1024), password: 'x' }))],
      ['100 KB identifier', () => post('/api/recovery/flows', JSON.stringify({ identifier: 'u'.repeat(100 * 1024) }))],
      ['10 MB JSON body', () => post('/api/recovery/flows', JSON.stringify({ identifier: 'alice', padding: 'x'.repeat(10 * MB) }))],
      ['10 MB body streamed without a length', () => post('/api/recovery/flows', Readable.from((function* () { for (let i = 0; i < 160; i += 1) yield Buffer.alloc(64 * 1024, 0x20); })()))],
    ];
    for (const [label, request] of cases) expectFastRefusal(await timed(request), 413, label);
  });

  it('INP-6 refuses fields over their length bound with a fast 400 naming the field, and accepts them at the bound', async () => {
    const at = (length: number, char = 'a') => char.repeat(length);
    expectFastRefusal(await timed(() => call(h, 'POST', '/api/recovery/flows', { identifier: at(257) })), 400, '257-character identifier', 'identifier');
    expect((await call(h, 'POST', '/api/recovery/flows', { identifier: at(256) })).statusCode).toBe(201);
    expectFastRefusal(await timed(() => call(h, 'POST', '/api/me/sign-in', { username: at(257), password: 'x' })), 400, '257-character username', 'username');
    expectFastRefusal(await timed(() => call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: at(1025) })), 400, '1025-character password at sign-in', 'password');
    expectFastRefusal(await timed(() => call(h, 'POST', '/api/recovery/flow/password', { password: at(1025), confirmPassword: at(1025) }, { token: grant })), 400, '1025-character new password', 'password');
    expectFastRefusal(await timed(() => call(h, 'POST', '/api/recovery/flow/answer', { code: at(65, '1') }, { token: grant })), 400, '65-character code', 'code');
    // A password at the bound is hashed and judged like any other, still well under a second.
    const bounded = await timed(() => call(h, 'POST', '/api/me/sign-in', { username: 'alice', password: at(1024) }));
    expect(bounded.response.statusCode).toBe(401);
    expect(bounded.ms).toBeLessThan(1000);
  });

  it('INP-6 answers pathological JSON under the body limit (deep nesting, many keys) with a fast 400, never a 500', async () => {
    const deep = `${'['.repeat(8000)}${']'.repeat(8000)}`;
    const manyKeys = `{${Array.from({ length: 1500 }, (_, index) => `"k${index}":1`).join(',')}}`;
    const longString = JSON.stringify({ identifier: 'é'.repeat(5000) });
    for (const [label, payload] of [
      ['8000-deep array', deep],
      ['1500 keys', manyKeys],
      ['5000 two-byte characters', longString],
    ] as const) {
      const result = await timed(() => post('/api/recovery/flows', payload));
      expect(result.response.statusCode, label).toBeLessThan(500);
      expect([400, 413], label).toContain(result.response.statusCode);
      expect(result.ms, label).toBeLessThan(1000);
    }
  });
});
