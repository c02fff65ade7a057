import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpointVerifier, parsePublicKeys } from '../../src/adapters/audit-evidence/signing-key.ts';
import { verifyStoredLog } from '../../src/adapters/audit-evidence/verify-log.ts';
import { ENGINES } from '../support/harness.ts';
import { allRecords, appendEvents, openSite, type Site } from './support.ts';

/*
 * A process killed with SIGKILL in the middle of a purge (events deleted, anchor checkpoint
 * written, `audit.purged` not yet appended) must leave the log exactly as it was: the purge is one
 * transaction. The next purge then does all of it.
 */

const CHILD = fileURLToPath(new URL('./purge-child.ts', import.meta.url));
const DAY_MS = 86_400_000;

describe.each(ENGINES)('a purge killed mid-transaction on %s', (engine) => {
  let site: Site;
  /** The events the first start recorded (as old as the synthetic ones): #1-#base. */
  let base: number;
  beforeAll(async () => {
    site = await openSite(engine, 'audit:\n  retention: { days: 30 }\n', { firstStartedDaysAgo: 40 });
    base = (await site.latchkey.store.audit.head()).seq;
    await appendEvents(site.latchkey.store, 25, new Date(Date.now() - 40 * DAY_MS));
    await appendEvents(site.latchkey.store, 5, new Date());
  });
  afterAll(async () => {
    await site?.close();
  });

  it('leaves nothing purged, and the next purge does it all with the chain still verifying', async () => {
    const store = site.latchkey.store;
    const before = await allRecords(store);
    const head = await store.audit.head();

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...site.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the child never reached the purge: ${stderr}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString('utf8').includes('PURGING')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`the child exited (${code}) before the purge: ${stderr}`)));
      });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    expect(await allRecords(store)).toEqual(before);
    expect(await store.auditCheckpoints.list()).toEqual([]);
    expect(await store.audit.head()).toEqual(head);

    const retention = site.latchkey.evidence.retention;
    if (retention === null) throw new Error('retention is not configured');
    // The composed retention waits for the detectors (as the worker and `audit purge` do): let them judge first.
    await site.latchkey.detectors.runner.run();
    expect(await retention.purge()).toMatchObject({ purged: true, fromSeq: 1, throughSeq: base + 25, count: base + 25 });
    const verifier = createCheckpointVerifier(parsePublicKeys([{ name: 'pem', text: site.latchkey.evidence.signingKey.publicKeyPem }]));
    expect(await verifyStoredLog(store, verifier)).toMatchObject({ ok: true, startSeq: base + 25, lastSeq: head.seq + 2 });
  }, 30_000);
});
