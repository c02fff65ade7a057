import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { SealRecord } from '../../src/core/breakglass/records.ts';
import { DuplicateError } from '../../src/core/ports/store.ts';

/* The break-glass repository's concurrency promises, on SQLite and PostgreSQL. */

describe.each(ENGINES)('the break-glass repository on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  const seal = (id: string, account: string, extra: Partial<SealRecord> = {}): SealRecord => ({
    id,
    accountId: asAccountId(account),
    username: account,
    custodians: ['alice', 'bob'],
    threshold: 2,
    status: 'sealed',
    passwordMac: 'mac',
    groups: ['break-glass'],
    directoryPasswordChangedAt: new Date(1_000),
    sealedAt: new Date(2_000),
    sealedBy: 'cli:test',
    replaces: null,
    openedAt: null,
    resealDueAt: null,
    lastDrillAt: null,
    pendingShares: null,
    watchState: [],
    version: 0,
    ...extra,
  });

  it('keeps one live seal per account: a second live insert is a DuplicateError, a retired one frees the slot', async () => {
    const repo = h.latchkey.store.breakGlass;
    await repo.insertSeal(seal('s1', 'builtin:a'));
    await expect(repo.insertSeal(seal('s2', 'builtin:a'))).rejects.toBeInstanceOf(DuplicateError);
    expect(await repo.updateSeal({ ...seal('s1', 'builtin:a'), status: 'retired' }, 0)).toBe(true);
    await repo.insertSeal(seal('s2', 'builtin:a', { replaces: 's1' }));
    expect((await repo.liveSeal(asAccountId('builtin:a')))?.id).toBe('s2');
    expect((await repo.listLive()).map((live) => live.id)).toEqual(['s2']);
  });

  it('applies concurrent compare-and-set updates of one seal exactly once', async () => {
    const repo = h.latchkey.store.breakGlass;
    await repo.insertSeal(seal('s3', 'builtin:b'));
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => repo.updateSeal({ ...seal('s3', 'builtin:b'), watchState: [`kind${n}`] }, 0)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await repo.getSeal('s3'))?.version).toBe(1);
  });

  it('hands pending shares out to exactly one of many concurrent callers, then never again', async () => {
    const repo = h.latchkey.store.breakGlass;
    await repo.insertSeal(seal('s4', 'builtin:c', { pendingShares: 'ciphertext' }));
    const taken = await Promise.all(Array.from({ length: 8 }, () => repo.takePendingShares('s4')));
    expect(taken.filter((value) => value !== null)).toEqual(['ciphertext']);
    expect(await repo.takePendingShares('s4')).toBeNull();
    expect((await repo.getSeal('s4'))?.pendingShares).toBeNull();
  });
});
