import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import type { DirectoryAccount } from '../../src/core/account/account.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';

// More than two pages of the built-in directory's page size (500), ending mid-page.
const ACCOUNT_COUNT = 1_201;

describe.each(ENGINES)('builtin directory listAccounts (%s)', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
    const createdAt = new Date('2026-01-01T00:00:00Z');
    await h.latchkey.store.transaction(async (tx) => {
      for (let i = 0; i < ACCOUNT_COUNT; i += 1) {
        await tx.builtinAccounts.insert({
          id: asAccountId(`builtin:list-${i}`),
          username: `user${String(i).padStart(5, '0')}`,
          displayName: `User ${i}`,
          workEmail: i % 7 === 0 ? null : `user${i}@corp.test`,
          department: i % 3 === 0 ? 'Sales' : null,
          groups: i % 2 === 0 ? ['staff'] : [],
          enabled: i % 10 !== 0,
          // Never verified in this suite; listing does not touch passwords.
          passwordHash: 'not-a-real-hash',
          failedSignIns: 0,
          lockedAt: null,
          createdAt,
          passwordChangedAt: createdAt,
        });
      }
    });
  }, 60_000);
  afterAll(async () => h?.close());

  it('declares the list_accounts capability', () => {
    expect(h.latchkey.deps.directory.capabilities.has('list_accounts')).toBe(true);
  });

  it('yields every account exactly once across pages, disabled ones included, with its directory fields', async () => {
    const seen: DirectoryAccount[] = [];
    for await (const account of h.latchkey.deps.directory.listAccounts()) seen.push(account);
    expect(seen).toHaveLength(ACCOUNT_COUNT);
    expect(new Set(seen.map((account) => account.id)).size).toBe(ACCOUNT_COUNT);
    expect(seen.filter((account) => !account.enabled)).toHaveLength(121);
    expect(seen.find((account) => account.username === 'user00003')).toMatchObject({
      id: 'builtin:list-3',
      username: 'user00003',
      displayName: 'User 3',
      workEmail: 'user3@corp.test',
      department: 'Sales',
      groups: [],
      enabled: true,
    });
    expect(seen.find((account) => account.username === 'user01200')).toMatchObject({ enabled: false, groups: ['staff'], department: 'Sales' });
  });

  it('lets a caller stop early without reading the rest', async () => {
    const firstThree: string[] = [];
    for await (const account of h.latchkey.deps.directory.listAccounts()) {
      firstThree.push(account.username);
      if (firstThree.length === 3) break;
    }
    expect(firstThree).toEqual(['user00000', 'user00001', 'user00002']);
  });
});
