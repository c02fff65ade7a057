import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { composeLatchkey, type Latchkey } from '../../src/server/compose.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import { POSTGRES_URL, call, startHarness, type Harness } from '../support/harness.ts';
import { startTcpProxy, viaPort, type TcpProxy } from './tcp-proxy.ts';

/*
 * A PostgreSQL outage as operations meet it: a restart that drops every connection, and a host
 * that accepts connections but never answers. The server must ride out the first and refuse to
 * start (so the orchestrator restarts it) on the second, rather than crash or wait forever.
 */
describe.skipIf(!POSTGRES_URL)('a PostgreSQL outage', () => {
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

  it('keeps the process running when the database drops every connection (a restart), and serves again once it is back', async () => {
    h = await startHarness({ engine: 'postgres', env: { LATCHKEY_DATABASE_URL: viaPort(POSTGRES_URL ?? '', proxy.port) } });
    // Both pools (the store's and the rate limiter's) hold idle connections after a request.
    expect((await call(h, 'POST', '/api/recovery/flows', { identifier: 'outage.person@corp.test' })).statusCode).toBe(201);
    const crashes: unknown[] = [];
    const onCrash = (error: unknown): void => void crashes.push(error);
    process.on('uncaughtException', onCrash);
    try {
      proxy.cut();
      // The idle connections learn of the cut on the next turns of the event loop.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      process.off('uncaughtException', onCrash);
    }

    expect(crashes.map((error) => String(error))).toEqual([]);
    expect((await call(h, 'GET', '/readyz')).statusCode).toBe(200);
    expect((await call(h, 'POST', '/api/recovery/flows', { identifier: 'outage.person@corp.test' })).statusCode).toBe(201);
  });

  it('refuses to start within ten seconds when the database accepts connections but never answers', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-outage-'));
    dirs.push(dataDir);
    proxy.hang();

    let composed: Latchkey | null = null;
    const composing = composeLatchkey(loadConfig(null, 'test', { LATCHKEY_DATA_DIR: dataDir, LATCHKEY_DATABASE_URL: viaPort(POSTGRES_URL ?? '', proxy.port) })).then(
      (latchkey) => {
        composed = latchkey;
        return 'started';
      },
      () => 'refused',
    );
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([composing, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), 10_000)))]);
    clearTimeout(timer);
    // Whatever happened, the hung connections are dropped now so a pending start settles.
    proxy.cut();
    await composing;
    await (composed as Latchkey | null)?.close();

    expect(outcome).toBe('refused');
  }, 20_000);
});
