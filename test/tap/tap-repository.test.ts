import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asAccountId, asEnrollmentId } from '../../src/core/account/ids.ts';
import { DuplicateError, type AccessPassRecord, type HelpdeskVerificationRecord, type Store } from '../../src/core/ports/store.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';

const NOW = new Date('2026-03-02T09:00:00Z');
let counter = 0;

function pass(accountId: string, extra: Partial<AccessPassRecord> = {}): AccessPassRecord {
  counter += 1;
  return {
    id: `pass-${counter}`,
    accountId: asAccountId(accountId),
    enrollmentId: asEnrollmentId(`enrollment-${counter}`),
    keyHash: `hash-${counter}`,
    kind: 'helpdesk',
    validFrom: NOW,
    expiresAt: new Date(NOW.getTime() + 3_600_000),
    maxUses: 1,
    uses: 0,
    issuedAt: NOW,
    issuedByKind: 'cli',
    issuedBy: 'test',
    revokedAt: null,
    revokeReason: null,
    lastUsedAt: null,
    sessionId: null,
    ...extra,
  };
}

describe.each(ENGINES)('the pass store (%s)', (engine) => {
  let h: Harness;
  let store: Store;

  beforeAll(async () => {
    h = await startHarness({ engine });
    store = h.latchkey.store;
  });
  afterAll(async () => {
    await h.close();
  });

  it('keeps one live pass per account, also when two are inserted at once', async () => {
    const results = await Promise.allSettled([store.temporaryAccessPasses.insert(pass('acct-a')), store.temporaryAccessPasses.insert(pass('acct-a'))]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((result) => result.status === 'rejected');
    expect(rejected?.status === 'rejected' ? rejected.reason : null).toBeInstanceOf(DuplicateError);
    const revoked = await store.temporaryAccessPasses.revokeLive(asAccountId('acct-a'), 'replaced', NOW);
    expect(revoked?.accountId).toBe('acct-a');
    expect(await store.temporaryAccessPasses.findLive(asAccountId('acct-a'))).toBeNull();
    await store.temporaryAccessPasses.insert(pass('acct-a'));
    expect(await store.temporaryAccessPasses.findLive(asAccountId('acct-a'))).not.toBeNull();
  });

  it('counts no more uses than the pass allows, of 20 concurrent ones, then leaves the live set', async () => {
    const record = pass('acct-b', { maxUses: 3 });
    await store.temporaryAccessPasses.insert(record);
    const at = new Date(NOW.getTime() + 1_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.temporaryAccessPasses.use(record.enrollmentId, record.keyHash, at)));
    const counted = results.filter((result) => result !== null);
    expect(counted.map((result) => result?.uses).sort()).toEqual([1, 2, 3]);
    expect(await store.temporaryAccessPasses.findLive(asAccountId('acct-b'))).toBeNull();
  });

  it('counts no use outside the validity window, with a wrong hash, or once revoked', async () => {
    const record = pass('acct-c', { validFrom: new Date(NOW.getTime() + 60_000) });
    await store.temporaryAccessPasses.insert(record);
    expect(await store.temporaryAccessPasses.use(record.enrollmentId, record.keyHash, NOW)).toBeNull();
    expect(await store.temporaryAccessPasses.use(record.enrollmentId, record.keyHash, record.expiresAt)).toBeNull();
    expect(await store.temporaryAccessPasses.use(record.enrollmentId, 'other', new Date(NOW.getTime() + 120_000))).toBeNull();
    await store.temporaryAccessPasses.revokeLive(asAccountId('acct-c'), 'revoked', NOW);
    expect(await store.temporaryAccessPasses.use(record.enrollmentId, record.keyHash, new Date(NOW.getTime() + 120_000))).toBeNull();
  });

  it('retires each expired live pass once', async () => {
    const record = pass('acct-d', { expiresAt: new Date(NOW.getTime() + 1_000) });
    await store.temporaryAccessPasses.insert(record);
    const later = new Date(NOW.getTime() + 2_000);
    const [first, second] = await Promise.all([store.temporaryAccessPasses.retireExpired(later, 100), store.temporaryAccessPasses.retireExpired(later, 100)]);
    expect([...(first ?? []), ...(second ?? [])].filter((retired) => retired.id === record.id)).toHaveLength(1);
  });

  it('moves a verification from one status to the next once, however many try at once', async () => {
    const verification: HelpdeskVerificationRecord = {
      id: 'verification-1',
      accountId: asAccountId('acct-e'),
      agentKind: 'cli',
      agentId: 'test',
      method: 'out_of_band',
      enrollmentId: null,
      approvalTokenHash: 'token-hash',
      approverHint: null,
      reason: 'seen in person',
      ticket: 'T-1',
      status: 'verified',
      createdAt: NOW,
      expiresAt: new Date(NOW.getTime() + 900_000),
      verifiedAt: NOW,
      usedAt: null,
    };
    await store.temporaryAccessPasses.insertVerification(verification);
    const moved = await Promise.all(Array.from({ length: 10 }, () => store.temporaryAccessPasses.moveVerification(verification.id, 'verified', 'used', NOW)));
    expect(moved.filter(Boolean)).toHaveLength(1);
    expect((await store.temporaryAccessPasses.getVerification(verification.id))?.status).toBe('used');
    expect((await store.temporaryAccessPasses.findVerificationByApprovalToken('token-hash'))?.id).toBe(verification.id);
  });
});
