import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/core/errors.ts';
import { createPwnedRangeCheck, pwnedRangeConfigSchema } from '../../src/adapters/breach/pwned-range-check.ts';

/** Passwords the fake corpus knows, with how often each was "seen". */
const CORPUS: Readonly<Record<string, number>> = {
  password: 9_659_365,
  'correct horse battery staple': 394,
  'pässwörd-ünïcode': 7,
};

const sha1 = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex').toUpperCase();

interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

type Behaviour = 'range' | 'error' | 'hang' | 'garbage';

/**
 * A local stand-in for api.pwnedpasswords.com: answers /range/{prefix} from CORPUS, in the real
 * format (CRLF lines `SUFFIX:COUNT`), padded with random count-0 lines as Add-Padding asks.
 */
async function startRangeServer(behaviour: Behaviour = 'range') {
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    if (behaviour === 'hang') return;
    if (behaviour === 'error') {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('boom');
      return;
    }
    if (behaviour === 'garbage') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>Sign in to the Wi-Fi</body></html>');
      return;
    }
    const prefix = /^\/range\/([0-9A-F]{5})$/.exec(req.url ?? '')?.[1];
    if (prefix === undefined) {
      res.writeHead(400).end();
      return;
    }
    const lines: string[] = [];
    for (const [password, count] of Object.entries(CORPUS)) {
      const hash = sha1(password);
      if (hash.startsWith(prefix)) lines.push(`${hash.slice(5)}:${count}`);
    }
    // Real answers hold hundreds of suffixes; a few unrelated ones plus padding are enough here.
    lines.push(`${'0'.repeat(34)}1:12`, `${'F'.repeat(34)}E:3`);
    if (req.headers['add-padding'] === 'true') {
      for (let i = 0; i < 20; i += 1) lines.push(`${randomBytes(18).toString('hex').toUpperCase().slice(0, 35)}:0`);
    }
    lines.sort();
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(lines.join('\r\n'));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  // Idempotent, because the "unreachable" test stops its server early and afterEach stops it again.
  const stop = () =>
    (stopped ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      server.closeAllConnections();
    }));
  cleanups.push(stop);
  return { baseUrl: `http://127.0.0.1:${port}`, requests, stop };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function domainFailure(promise: Promise<unknown>): Promise<DomainError> {
  const outcome = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(outcome instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(outcome)}`);
  return outcome;
}

describe('Pwned Passwords range check', () => {
  it('returns how often a known password was seen, sending only the 5-character hash prefix', async () => {
    const api = await startRangeServer();
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl, addPadding: true, userAgent: 'Latchkey-test' });

    await expect(check.timesSeen('password')).resolves.toBe(9_659_365);

    expect(api.requests).toHaveLength(1);
    const request = api.requests[0];
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('GET');
    expect(request.path).toBe('/range/5BAA6');
    expect(request.headers['add-padding']).toBe('true');
    expect(request.headers['user-agent']).toBe('Latchkey-test');
  });

  it('never puts the password, its full hash or the hash suffix in the request', async () => {
    const api = await startRangeServer();
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl });
    const password = 'correct horse battery staple';
    const hash = sha1(password);

    await expect(check.timesSeen(password)).resolves.toBe(394);

    const request = api.requests[0];
    if (request === undefined) throw new Error('no request');
    const sent = `${request.path}\n${JSON.stringify(request.headers)}`.toUpperCase();
    expect(request.path).toMatch(/^\/range\/[0-9A-F]{5}$/);
    expect(request.path).toBe(`/range/${hash.slice(0, 5)}`);
    expect(sent).not.toContain(hash);
    expect(sent).not.toContain(hash.slice(5));
    expect(sent).not.toContain(hash.slice(5, 15));
    expect(sent).not.toContain(password.toUpperCase());
    expect(sent).not.toContain('CORRECT%20HORSE');
  });

  it('hashes the password as UTF-8, so non-ASCII passwords are found', async () => {
    const api = await startRangeServer();
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl });

    await expect(check.timesSeen('pässwörd-ünïcode')).resolves.toBe(7);
  });

  it('returns 0 for a password the corpus does not hold, ignoring the count-0 padding lines', async () => {
    const api = await startRangeServer();
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl, addPadding: true });

    await expect(check.timesSeen('an unknown and rather long passphrase 93817')).resolves.toBe(0);
    expect(api.requests).toHaveLength(1);
  });

  it('asks for padding by default and leaves the header out when padding is turned off', async () => {
    const api = await startRangeServer();

    await createPwnedRangeCheck({ baseUrl: api.baseUrl }).timesSeen('password');
    await createPwnedRangeCheck({ baseUrl: api.baseUrl, addPadding: false }).timesSeen('password');

    expect(api.requests.map((r) => r.headers['add-padding'])).toEqual(['true', undefined]);
  });

  it('keeps a path prefix of the base URL, for a self-hosted mirror', async () => {
    const api = await startRangeServer('error');
    const check = createPwnedRangeCheck({ baseUrl: `${api.baseUrl}/mirror/` });

    await domainFailure(check.timesSeen('password'));

    expect(api.requests[0]?.path).toBe('/mirror/range/5BAA6');
  });

  it('throws dependency.unavailable when the service answers 500', async () => {
    const api = await startRangeServer('error');
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl });

    const error = await domainFailure(check.timesSeen('password'));

    expect(error.code).toBe('dependency.unavailable');
    expect(error.detail).toBe('The breached-password service cannot be reached; try again shortly.');
  });

  it('throws dependency.unavailable when the service cannot be reached', async () => {
    const api = await startRangeServer();
    await api.stop();
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl, timeoutMs: 1_000 });

    const error = await domainFailure(check.timesSeen('password'));

    expect(error.code).toBe('dependency.unavailable');
  });

  it('throws dependency.unavailable when the service does not answer within the timeout', async () => {
    const api = await startRangeServer('hang');
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl, timeoutMs: 150 });

    const started = Date.now();
    const error = await domainFailure(check.timesSeen('password'));

    expect(error.code).toBe('dependency.unavailable');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('throws dependency.unavailable rather than reporting 0 when a 200 answer is not a range list', async () => {
    const api = await startRangeServer('garbage');
    const check = createPwnedRangeCheck({ baseUrl: api.baseUrl });

    const error = await domainFailure(check.timesSeen('password'));

    expect(error.code).toBe('dependency.unavailable');
  });

  it('provides a config schema that defaults to the public API with padding on', () => {
    expect(pwnedRangeConfigSchema.parse({})).toEqual({
      baseUrl: 'https://api.pwnedpasswords.com',
      timeoutMs: 5_000,
      addPadding: true,
      userAgent: 'Latchkey',
    });
  });
});
