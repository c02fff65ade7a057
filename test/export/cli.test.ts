import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLatchkey } from '../support/cli.ts';
import { composeLatchkey, type Latchkey } from '../../src/server/compose.ts';
import { loadConfig } from '../../src/server/config/config.ts';
import { startReceiver, type HttpReceiver } from '../channel/http-receiver.ts';
import { appendEvents } from './support.ts';

/** Runs `latchkey ARGS` in this process with LATCHKEY_CONFIG set, capturing standard output. */
async function cli(configFile: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  const { code, stdout } = await runLatchkey({ LATCHKEY_CONFIG: configFile }, args);
  return { code, stdout };
}

describe('latchkey audit sinks', () => {
  let dir: string;
  let configFile: string;
  let receiver: HttpReceiver;
  let status = 400;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-export-cli-'));
    receiver = await startReceiver(() => ({ status }));
    configFile = join(dir, 'latchkey.yaml');
    await writeFile(configFile, [`dataDir: ${dir}`, 'logLevel: silent', 'auditExport:', '  sinks:', `    - { name: hook, type: http, url: "${receiver.url}/audit" }`, ''].join('\n'));
  });
  afterAll(async () => {
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists a stopped sink, resumes it, and the next pass delivers the refused batch', async () => {
    const compose = async (): Promise<Latchkey> => composeLatchkey(loadConfig(await readFile(configFile, 'utf8'), configFile, {}));
    let latchkey = await compose();
    // The first start already recorded events of its own (the seeded policy version).
    const base = (await latchkey.store.audit.head()).seq;
    await appendEvents(latchkey.store, 4);
    expect(await latchkey.auditExporter.exportOnce()).toEqual({ hook: 'stopped' });
    await latchkey.close();

    const listed = await cli(configFile, 'audit', 'sinks', 'list');
    expect(listed).toEqual({ code: 0, stdout: `hook\thttp\tstopped\tdelivered #0\t${base + 5} behind\thttp sink hook: HTTP 400\n` });

    status = 200;
    expect(await cli(configFile, 'audit', 'sinks', 'resume', 'hook')).toEqual({ code: 0, stdout: 'hook resumed; the running servers retry it at their next poll\n' });
    expect(await cli(configFile, 'audit', 'sinks', 'resume', 'hook')).toEqual({ code: 1, stdout: 'hook is not stopped; nothing to resume\n' });
    expect((await cli(configFile, 'audit', 'sinks', 'resume', 'nope')).code).toBe(2);

    latchkey = await compose();
    try {
      expect(await latchkey.auditExporter.exportOnce()).toEqual({ hook: 'caught_up' });
      const head = await latchkey.store.audit.head();
      expect(await latchkey.store.auditExport.get('hook')).toMatchObject({ status: 'active', deliveredSeq: head.seq });
      const resumed = await latchkey.store.audit.query({ types: ['audit_export.resumed'], limit: 5 });
      expect(resumed).toEqual([expect.objectContaining({ actor: { kind: 'cli', id: process.env['USER'] ?? null }, reason: 'operator', data: { sink: 'hook', kind: 'http', delivered_seq: 0 } })]);
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await latchkey.close();
    }
  });
});
