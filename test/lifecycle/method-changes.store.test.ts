import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';
import { asAccountId, asEnrollmentId } from '../../src/core/account/ids.ts';
import type { MethodChangeRecord } from '../../src/core/ports/store.ts';

/*
 * MethodChangeRepository on SQLite and PostgreSQL: a "this wasn't me" link is consumed exactly once
 * under concurrency, never after it expired or its change was reverted; freezes are idempotent.
 */

const change = (overrides: Partial<MethodChangeRecord> = {}): MethodChangeRecord => ({
  id: randomUUID(),
  accountId: asAccountId('acct-store'),
  createdAt: new Date(1_700_000_000_000),
  addedEnrollmentId: asEnrollmentId(randomUUID()),
  addedMethodId: 'sms_code',
  coolsOff: true,
  removed: [],
  afterRecovery: false,
  tokenHash: randomUUID(),
  tokenExpiresAt: new Date(1_700_000_600_000),
  disputedAt: null,
  revertedAt: null,
  ...overrides,
});

describe.each(ENGINES)('method change repository (%s)', (engine) => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ engine });
  });

  afterAll(async () => {
    await h.close();
  });

  it('lets exactly one of 25 concurrent disputes of one link win', async () => {
    const record = change();
    await h.latchkey.store.methodChanges.insert(record);
    const now = new Date(1_700_000_100_000);
    const results = await Promise.all(Array.from({ length: 25 }, () => h.latchkey.store.transaction((tx) => tx.methodChanges.dispute(record.tokenHash, now))));
    expect(results.filter((result) => result !== null)).toHaveLength(1);
    expect(await h.latchkey.store.methodChanges.findByTokenHash(record.tokenHash)).toMatchObject({ disputedAt: now });
  });

  it('refuses an expired link and the link of a reverted change', async () => {
    const expired = change();
    await h.latchkey.store.methodChanges.insert(expired);
    expect(await h.latchkey.store.methodChanges.dispute(expired.tokenHash, expired.tokenExpiresAt)).toBeNull();
    const reverted = change();
    await h.latchkey.store.methodChanges.insert(reverted);
    await h.latchkey.store.methodChanges.markReverted(reverted.id, new Date(1_700_000_100_000));
    expect(await h.latchkey.store.methodChanges.dispute(reverted.tokenHash, new Date(1_700_000_100_000))).toBeNull();
    expect(await h.latchkey.store.methodChanges.coolingOffEnrollmentIds(asAccountId('acct-store'))).not.toContain(reverted.addedEnrollmentId);
  });

  it('keeps a removed enrollment snapshot intact, dates included', async () => {
    const enrollmentId = asEnrollmentId(randomUUID());
    const snapshot = {
      enrollment: { id: enrollmentId, accountId: asAccountId('acct-snap'), methodId: 'recovery_code' as const, status: 'active' as const, label: '10 codes', secretCiphertext: 'v1:abc', channelFingerprint: null, createdAt: new Date(1_600_000_000_000), verifiedAt: new Date(1_600_000_000_001), lastUsedAt: null },
      singleUse: [{ keyHash: 'k1', purpose: 'recovery_code' as const, createdAt: new Date(1_600_000_000_000) }],
    };
    const record = change({ accountId: asAccountId('acct-snap'), addedEnrollmentId: null, addedMethodId: null, coolsOff: false, removed: [snapshot] });
    await h.latchkey.store.methodChanges.insert(record);
    expect((await h.latchkey.store.methodChanges.listForAccount(asAccountId('acct-snap')))[0]?.removed).toEqual([snapshot]);
  });

  it('freezes once and unfreezes once', async () => {
    const accountId = asAccountId('acct-freeze');
    const freeze = { accountId, frozenAt: new Date(1_700_000_000_000), changeId: 'c1' };
    expect(await h.latchkey.store.methodChanges.freeze(freeze)).toBe(true);
    expect(await h.latchkey.store.methodChanges.freeze({ ...freeze, changeId: 'c2' })).toBe(false);
    expect(await h.latchkey.store.methodChanges.getFreeze(accountId)).toEqual(freeze);
    expect(await h.latchkey.store.methodChanges.unfreeze(accountId)).toBe(true);
    expect(await h.latchkey.store.methodChanges.unfreeze(accountId)).toBe(false);
  });
});
