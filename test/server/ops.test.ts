import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeLatchkey } from '../../src/server/compose.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import type { App } from '../../src/server/http/app.ts';
import { BODY_LIMIT_BYTES } from '../../src/server/http/app.ts';
import { READINESS_TIMEOUT_MS } from '../../src/server/http/routes/ops.ts';
import { ENGINES, POSTGRES_URL, call, createPerson, startHarness, type Harness } from '../support/harness.ts';
import { unusedUrl } from '../channel/http-receiver.ts';
import { startTcpProxy, viaPort, type TcpProxy } from './tcp-proxy.ts';

/** An RFC 9457 problem with Latchkey's stable `code`, as every error must be. */
function expectProblem(response: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  const body = response.json<Record<string, unknown>>();
  expect(body).toMatchObject({ type: `urn:latchkey:problem:${code}`, status, code });
  expect(typeof body['title']).toBe('string');
  expect(typeof body['detail']).toBe('string');
  return body;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * Every route the app registered, read from Fastify's own route tree (printRoutes), as
 * `METHOD /path` with `:param` written the OpenAPI way (`{param}`). HEAD is Fastify's automatic
 * twin of GET and is left out.
 */
function registeredRoutes(app: App): Set<string> {
  const routes = new Set<string>();
  const prefixes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)[├└]── (\S+?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const path = (prefixes[depth - 1] ?? '') + (match[2] ?? '');
    prefixes.length = depth;
    prefixes[depth] = path;
    for (const method of (match[3] ?? '').split(', ').filter((name) => name && name !== 'HEAD')) {
      routes.add(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
  }
  return routes;
}

interface Operation {
  readonly parameters?: { in: string; name: string; required?: boolean; schema?: unknown }[];
  readonly requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
  readonly security?: unknown[];
  readonly summary?: string;
}
type Spec = { openapi: string; info: { title: string }; paths: Record<string, Partial<Record<(typeof HTTP_METHODS)[number], Operation>>> };

describe.each(ENGINES)('operations endpoints and HTTP conventions on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  describe('health, readiness and metrics', () => {
    it('answers /healthz with 200 and carries no account data', async () => {
      const response = await call(h, 'GET', '/healthz');

      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });

    it('answers /readyz with 200 when the database and the directory answer', async () => {
      const response = await call(h, 'GET', '/readyz');

      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ready', checks: { database: 'ok', directory: 'ok' } });
    });

    it('counts requests in Prometheus text by method, route pattern and status, without raw paths or identifiers', async () => {
      const before = await call(h, 'GET', '/metrics');
      const count = (text: string, labels: string): number => {
        const line = text.split('\n').find((candidate) => candidate.startsWith(`latchkey_http_requests_total{${labels}} `));
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
      };
      const healthz = 'method="GET",route="/healthz",status="200"';
      const started = 'method="POST",route="/api/recovery/flows",status="201"';
      const account = 'method="GET",route="/api/admin/accounts/:id",status="401"';
      const unmatched = 'method="GET",route="unmatched",status="404"';
      const baseline = { healthz: count(before.body, healthz), started: count(before.body, started), account: count(before.body, account), unmatched: count(before.body, unmatched) };

      for (let index = 0; index < 3; index += 1) await call(h, 'GET', '/healthz');
      expect((await call(h, 'POST', '/api/recovery/flows', { identifier: 'metrics.person@corp.test' })).statusCode).toBe(201);
      await call(h, 'GET', '/api/admin/accounts/builtin:secret-looking-id-4711');
      await call(h, 'GET', '/no/such/path-8123');

      const response = await call(h, 'GET', '/metrics');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = response.body;
      expect(text).toContain('# TYPE latchkey_http_requests_total counter');
      expect(text).toContain('# TYPE latchkey_http_request_duration_seconds histogram');
      expect(text).toMatch(/^latchkey_process_cpu_user_seconds_total /m);
      expect(count(text, healthz)).toBe(baseline.healthz + 3);
      expect(count(text, started)).toBe(baseline.started + 1);
      expect(count(text, account)).toBe(baseline.account + 1);
      expect(count(text, unmatched)).toBe(baseline.unmatched + 1);
      // Routes are patterns: neither an id, nor a made-up path, nor an identifier becomes a label.
      expect(text).not.toContain('secret-looking-id-4711');
      expect(text).not.toContain('path-8123');
      expect(text).not.toContain('metrics.person');
    });
  });

  describe('the OpenAPI document', () => {
    let spec: Spec;
    beforeAll(async () => {
      const response = await call(h, 'GET', '/api/openapi.json');
      expect(response.statusCode).toBe(200);
      spec = response.json<Spec>();
    });

    const operations = (): { key: string; path: string; method: string; operation: Operation }[] =>
      Object.entries(spec.paths).flatMap(([path, item]) =>
        HTTP_METHODS.flatMap((method) => {
          const operation = item[method];
          return operation ? [{ key: `${method.toUpperCase()} ${path}`, path, method, operation }] : [];
        }),
      );

    it('is OpenAPI 3.1 with a bearer security scheme', () => {
      expect(spec.openapi).toBe('3.1.0');
      expect(spec.info.title).toBe('Latchkey API');
      expect(spec).toMatchObject({ components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } });
    });

    it('describes every route registered under /api, and nothing that is not a route', () => {
      const registered = [...registeredRoutes(h.app)].filter((route) => route.split(' ')[1]?.startsWith('/api/'));
      // The document itself is the one route it leaves out.
      const expected = registered.filter((route) => route !== 'GET /api/openapi.json').sort();
      const documented = operations()
        .map((operation) => operation.key)
        .filter((key) => key.split(' ')[1]?.startsWith('/api/'))
        .sort();

      // A sanity check on the route-tree reading: the routes every client uses are in it.
      expect(expected).toEqual(expect.arrayContaining(['POST /api/recovery/flows', 'GET /api/recovery/flow', 'DELETE /api/me/methods/{id}', 'POST /api/me/methods/{id}/verify', 'GET /api/admin/accounts/{id}', 'GET /api/admin/audit']));
      expect(documented).toEqual(expected);
      for (const { path, method } of operations()) {
        expect(h.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`).toBe(true);
      }
    });

    it('gives every operation that takes input a schema for it: a JSON body, path parameters and query parameters', () => {
      for (const { key, path, method, operation } of operations()) {
        expect(operation.summary, `${key} has a summary`).toEqual(expect.any(String));
        if (method === 'post') {
          const schema = operation.requestBody?.content?.['application/json']?.schema;
          expect(schema, `${key} documents its JSON body`).toBeDefined();
          // Bodies are closed: an unknown field is refused, not ignored (INP-1).
          const variants = (schema?.['anyOf'] as Record<string, unknown>[] | undefined) ?? [schema ?? {}];
          for (const variant of variants) expect(variant['additionalProperties'], `${key} refuses unknown fields`).toBe(false);
        }
        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1])) {
          const parameter = operation.parameters?.find((candidate) => candidate.in === 'path' && candidate.name === name);
          expect(parameter, `${key} documents the path parameter ${name}`).toMatchObject({ required: true, schema: expect.any(Object) });
        }
      }
      const audit = spec.paths['/api/admin/audit']?.get;
      const queryNames = (audit?.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
      expect(queryNames).toEqual(expect.arrayContaining(['since', 'until', 'type', 'outcome', 'subject', 'ip', 'after', 'limit']));
      expect(spec.paths['/api/recovery/flows']?.post?.requestBody?.content?.['application/json']?.schema).toMatchObject({ required: ['identifier'], properties: { identifier: { type: 'string', maxLength: 256 } } });
    });

    it('marks every operation that needs a token as bearer-secured, and only those', () => {
      const open = new Set(['POST /api/recovery/flows', 'POST /api/me/sign-in', 'POST /api/me/sign-in/pass', 'POST /api/admin/session', 'POST /api/admin/session/passkey', 'POST /api/admin/session/second-factor', 'GET /api/helpdesk/approvals/{token}', 'POST /api/helpdesk/approvals/{token}']);
      for (const { key, operation } of operations()) {
        if (!key.split(' ')[1]?.startsWith('/api/')) continue;
        if (open.has(key)) expect(operation.security, key).toBeUndefined();
        else expect(operation.security, key).toEqual([{ bearer: [] }]);
      }
    });
  });

  describe('errors are problem documents with a stable code', () => {
    it('answers an unknown route, or a known path with another method, with 404 route.not_found', async () => {
      const unknown = expectProblem(await call(h, 'GET', '/api/does-not-exist?secret=1'), 404, 'route.not_found');
      expect(unknown['detail']).toBe('No endpoint answers GET /api/does-not-exist.');
      expectProblem(await call(h, 'DELETE', '/api/recovery/flows'), 404, 'route.not_found');
      expectProblem(await call(h, 'GET', '/nothing-here'), 404, 'route.not_found');
    });

    it('answers a body that breaks the schema with 400 request.invalid naming the field', async () => {
      const wrongType = expectProblem(await call(h, 'POST', '/api/recovery/flows', { identifier: ['alice', 'bob'] }), 400, 'request.invalid');
      expect(wrongType['detail']).toMatch(/identifier/);
      const unknownField = expectProblem(await call(h, 'POST', '/api/recovery/flows', { identifier: 'alice', admin: true }), 400, 'request.invalid');
      expect(unknownField['detail']).toMatch(/admin/);
      expectProblem(await call(h, 'POST', '/api/recovery/flows', {}), 400, 'request.invalid');
    });

    it('answers malformed JSON and prototype-pollution keys with 400 request.invalid', async () => {
      const malformed = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload: '{"identifier": "alice"' });
      expect(expectProblem(malformed, 400, 'request.invalid')['detail']).toBe('The body is not valid JSON.');
      const polluted = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload: '{"identifier":"alice","__proto__":{"admin":true}}' });
      expect(expectProblem(polluted, 400, 'request.invalid')['detail']).toMatch(/__proto__/);
    });

    it('answers an invalid query string with 400 request.invalid', async () => {
      expectProblem(await call(h, 'GET', '/api/admin/audit?limit=100000'), 400, 'request.invalid');
      expectProblem(await call(h, 'GET', '/api/admin/audit?since=yesterday'), 400, 'request.invalid');
    });

    it.each([
      ['a form', 'application/x-www-form-urlencoded', 'identifier=alice'],
      ['plain text', 'text/plain', '{"identifier":"alice"}'],
      ['multipart', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="identifier"\r\n\r\nalice\r\n--x--\r\n'],
    ])('answers %s body with 415 request.unsupported_media_type', async (_label, contentType, payload) => {
      const response = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': contentType }, payload });
      expectProblem(response, 415, 'request.unsupported_media_type');
    });

    it('answers a body over the limit with 413 request.too_large, before parsing it', async () => {
      const payload = JSON.stringify({ identifier: 'a'.repeat(BODY_LIMIT_BYTES) });
      const response = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload });
      expect(expectProblem(response, 413, 'request.too_large')['detail']).toContain(String(BODY_LIMIT_BYTES));
    });
  });

  describe('security headers', () => {
    const expectCommonHeaders = (response: LightMyRequestResponse): void => {
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(String(response.headers['content-security-policy'])).toContain("frame-ancestors 'none'");
      expect(String(response.headers['content-security-policy'])).toContain("default-src 'none'");
    };

    it('sends nosniff, no-referrer, a framing ban and no-store on API answers, errors included', async () => {
      const answers = [
        await call(h, 'POST', '/api/recovery/flows', { identifier: 'headers.person@corp.test' }),
        await call(h, 'GET', '/api/admin/audit'),
        await call(h, 'GET', '/api/nope'),
        await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'text/plain' }, payload: 'x' }),
        await h.app.inject({ method: 'POST', url: '/api/recovery/flows', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(BODY_LIMIT_BYTES + 1) }),
        await call(h, 'GET', '/api/openapi.json'),
      ];
      expect(answers.map((response) => response.statusCode)).toEqual([201, 401, 404, 415, 413, 200]);
      for (const response of answers) {
        expectCommonHeaders(response);
        expect(response.headers['cache-control']).toBe('no-store');
      }
    });

    it('sends the same headers on the operations endpoints', async () => {
      for (const url of ['/healthz', '/readyz', '/metrics']) expectCommonHeaders(await call(h, 'GET', url));
    });

    it('announces no server software', async () => {
      const response = await call(h, 'GET', '/healthz');
      expect(response.headers['server']).toBeUndefined();
      expect(response.headers['x-powered-by']).toBeUndefined();
    });
  });
});

describe.each(ENGINES)('readiness when the database goes away on %s', (engine) => {
  let h: Harness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it('answers /readyz with 503 naming the database and the directory once the store is closed, while /healthz stays 200', async () => {
    h = await startHarness({ engine });
    await createPerson(h, 'ready.person');
    expect((await call(h, 'GET', '/readyz')).statusCode).toBe(200);

    await h.latchkey.store.close();
    const started = Date.now();
    const response = await call(h, 'GET', '/readyz');

    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'not_ready', checks: { database: 'unavailable', directory: 'unavailable' } });
    expect(Date.now() - started).toBeLessThan(READINESS_TIMEOUT_MS);
    expect((await call(h, 'GET', '/healthz')).statusCode).toBe(200);
  });

  it('answers an API call that needs the missing database with a bare 500 problem carrying only a correlation id', async () => {
    h = await startHarness({ engine });
    await h.latchkey.store.close();

    const response = await call(h, 'POST', '/api/recovery/flows', { identifier: 'alice' });

    const body = expectProblem(response, 500, 'internal');
    expect(body['correlationId']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(body).sort()).toEqual(['code', 'correlationId', 'detail', 'status', 'title', 'type']);
    expect(response.body).not.toMatch(/sqlite|postgres|kysely|at .*\.ts|stack/i);
  });
});

describe.skipIf(!POSTGRES_URL)('readiness when PostgreSQL stops answering', () => {
  let proxy: TcpProxy;
  let h: Harness | null = null;
  const dirs: string[] = [];
  beforeAll(async () => {
    const url = new URL(POSTGRES_URL ?? 'postgres://127.0.0.1');
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  afterEach(async () => {
    proxy.resume();
    await h?.close();
    h = null;
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('answers /readyz with 503 within the probe timeout while the database accepts connections but never answers, and 200 once it answers again', async () => {
    h = await startHarness({ engine: 'postgres', env: { LATCHKEY_DATABASE_URL: viaPort(POSTGRES_URL ?? '', proxy.port) } });
    expect((await call(h, 'GET', '/readyz')).statusCode).toBe(200);

    proxy.hang();
    const started = Date.now();
    const response = await call(h, 'GET', '/readyz');
    const elapsed = Date.now() - started;

    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'not_ready', checks: { database: 'unavailable', directory: 'unavailable' } });
    expect(elapsed).toBeGreaterThanOrEqual(READINESS_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(READINESS_TIMEOUT_MS + 3_000);
    expect((await call(h, 'GET', '/healthz')).statusCode).toBe(200);

    proxy.resume();
    expect((await call(h, 'GET', '/readyz')).statusCode).toBe(200);
  });

  it('refuses to start at once when nothing listens at the database address', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-ops-'));
    dirs.push(dataDir);
    const closed = viaPort(POSTGRES_URL ?? '', Number(new URL(await unusedUrl()).port));
    const started = Date.now();

    await expect(composeLatchkey(loadConfig(null, 'test', { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_DATABASE_URL: closed }))).rejects.toThrow(/ECONNREFUSED|connect/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
