import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuplicateError } from '../../src/core/ports/store.ts';
import { policyTextHash, type PolicyVersionRecord } from '../../src/core/policy/versions.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';

const record = (version: number, text: string): PolicyVersionRecord => ({
  version,
  text,
  hash: policyTextHash(text),
  createdAt: new Date(1_800_000_000_000 + version * 1000),
  actorKind: 'cli',
  actorId: 'ops',
  reason: `change ${version}`,
  source: 'cli',
  diff: `@@ -1,1 +1,1 @@\n-old\n+${text}\n`,
  linesAdded: 1,
  linesRemoved: 1,
});

describe.each(ENGINES)('policy version repository on %s', (engine) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ engine });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('holds the seeded version 1 and round-trips every field of a new one', async () => {
    const versions = h.latchkey.store.policyVersions;
    expect(await versions.latestNumber()).toBe(1);
    await versions.insert(record(2, 'second'));
    expect(await versions.get(2)).toEqual(record(2, 'second'));
    expect(await versions.latest()).toEqual(record(2, 'second'));
    expect(await versions.latestNumber()).toBe(2);
  });

  it('refuses a second row with the same number as DuplicateError, inside a transaction too', async () => {
    const versions = h.latchkey.store.policyVersions;
    await expect(versions.insert(record(2, 'again'))).rejects.toBeInstanceOf(DuplicateError);
    await expect(h.latchkey.store.transaction((tx) => tx.policyVersions.insert(record(2, 'again')))).rejects.toBeInstanceOf(DuplicateError);
    expect((await versions.get(2))?.text).toBe('second');
  });

  it('lists newest first without text or diff, paged with beforeVersion', async () => {
    const versions = h.latchkey.store.policyVersions;
    await versions.insert(record(3, 'third'));
    const page = await versions.list({ limit: 2 });
    expect(page.map((entry) => entry.version)).toEqual([3, 2]);
    expect(page[0]).not.toHaveProperty('text');
    expect(page[0]).not.toHaveProperty('diff');
    expect((await versions.list({ limit: 2, beforeVersion: 2 })).map((entry) => entry.version)).toEqual([1]);
    expect(await versions.get(9)).toBeNull();
  });
});
