import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asAccountId, asChallengeId, asEnrollmentId, asFlowId, asSessionId } from '../../src/core/account/ids.ts';
import type { AccountId } from '../../src/core/account/ids.ts';
import { GENESIS_HASH, verifyChain } from '../../src/core/audit/chain.ts';
import type { AuditEventInput } from '../../src/core/audit/events.ts';
import { DuplicateError } from '../../src/core/ports/store.ts';
import type {
  AdminTokenRecord,
  BuiltinAccountRecord,
  ChallengeRecord,
  EnrollmentRecord,
  FlowRecord,
  OutboxRecord,
  Repositories,
  SessionRecord,
  Store,
} from '../../src/core/ports/store.ts';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';

/*
 * The behaviour every Store must show, whatever the engine. Each test gets a fresh, migrated, empty
 * store from `open`. The race tests fire their calls with Promise.all: on PostgreSQL they run on
 * separate pooled connections and really interleave; on SQLite they queue on the one connection,
 * which is exactly the serialisation the SQLite store relies on.
 */

const T0 = Date.UTC(2030, 0, 1, 9, 0, 0, 123);
/** A fixed instant `offsetMs` after T0; odd milliseconds on purpose, to catch precision loss. */
const at = (offsetMs = 0): Date => new Date(T0 + offsetMs);
const MINUTE = 60_000;

const uid = (): string => randomUUID();
const accountId = (): AccountId => asAccountId(`builtin:${uid()}`);

function flow(overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    id: asFlowId(uid()),
    kind: 'recovery',
    accountId: accountId(),
    secretHash: `secret-${uid()}`,
    state: JSON.stringify({ name: 'started' }),
    stateName: 'started',
    terminal: false,
    version: 1,
    createdAt: at(),
    updatedAt: at(),
    expiresAt: at(15 * MINUTE),
    ...overrides,
  };
}

function challenge(flowRecord: FlowRecord, overrides: Partial<ChallengeRecord> = {}): ChallengeRecord {
  return {
    id: asChallengeId(uid()),
    flowId: flowRecord.id,
    accountId: flowRecord.accountId,
    methodId: 'email_code',
    enrollmentId: null,
    secretHash: 'code-hash',
    attempts: 0,
    maxAttempts: 5,
    createdAt: at(),
    expiresAt: at(10 * MINUTE),
    consumedAt: null,
    ...overrides,
  };
}

function enrollment(overrides: Partial<EnrollmentRecord> = {}): EnrollmentRecord {
  return {
    id: asEnrollmentId(uid()),
    accountId: accountId(),
    methodId: 'recovery_code',
    status: 'pending',
    label: 'Recovery codes',
    secretCiphertext: 'v1:ciphertext',
    channelFingerprint: null,
    createdAt: at(),
    verifiedAt: null,
    lastUsedAt: null,
    ...overrides,
  };
}

function event(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: 'recovery.started',
    at: at(),
    actor: { kind: 'anonymous', id: null },
    subject: null,
    outcome: 'info',
    reason: null,
    ip: null,
    userAgent: null,
    department: null,
    tier: null,
    flowId: null,
    data: {},
    ...overrides,
  };
}

function account(overrides: Partial<BuiltinAccountRecord> = {}): BuiltinAccountRecord {
  return {
    id: accountId(),
    username: `user-${uid()}`,
    displayName: 'Ada Lovelace',
    workEmail: 'ada@example.org',
    department: 'Engineering',
    groups: ['staff', 'engineers'],
    enabled: true,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$salt$hash',
    failedSignIns: 0,
    lockedAt: null,
    createdAt: at(),
    passwordChangedAt: at(),
    ...overrides,
  };
}

function outboxMessage(overrides: Partial<Pick<OutboxRecord, 'id' | 'accountId' | 'createdAt' | 'availableAt' | 'payloadCiphertext'>> = {}) {
  return {
    id: uid(),
    channel: 'email' as const,
    purpose: 'challenge_code' as const,
    accountId: accountId(),
    payloadCiphertext: 'v1:payload',
    recipientHint: 'a•••@example.org',
    createdAt: at(),
    availableAt: at(),
    ...overrides,
  };
}

function adminToken(overrides: Partial<AdminTokenRecord> = {}): AdminTokenRecord {
  return {
    id: uid(),
    name: 'ops dashboard',
    tokenHash: `token-${uid()}`,
    scopes: ['audit:read', 'outbox:read'],
    createdAt: at(),
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    ...overrides,
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

const times = <T>(count: number, make: (index: number) => T): T[] => Array.from({ length: count }, (_, index) => make(index));

/**
 * Registers the store contract as a Vitest suite. `open` must return a fresh, migrated, empty store
 * for every test; `close` releases it (default: store.close()).
 */
export function storeContract(name: string, open: () => Promise<Store>, close: (store: Store) => Promise<void> = (store) => store.close()): void {
  describe(`${name} store contract`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      await close(store);
    });

    it('answers a ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe('flows', () => {
      it('returns an inserted flow exactly as it was written, and null for an unknown id', async () => {
        const decoy = flow({ accountId: null, kind: 'sign_in' });
        await store.flows.insert(decoy);
        expect(await store.flows.get(decoy.id)).toEqual(decoy);
        expect(await store.flows.get(asFlowId(uid()))).toBeNull();
      });

      it('applies an update only from the version it names, and then bumps the version', async () => {
        const original = flow();
        await store.flows.insert(original);
        const update = { state: '{"name":"gate"}', stateName: 'gate', terminal: true, secretHash: 'rotated', expiresAt: at(20 * MINUTE), updatedAt: at(MINUTE) };

        expect(await store.flows.update(original.id, 2, update)).toBe(false);
        expect(await store.flows.get(original.id)).toEqual(original);

        expect(await store.flows.update(original.id, 1, update)).toBe(true);
        expect(await store.flows.get(original.id)).toEqual({ ...original, ...update, version: 2 });
        expect(await store.flows.update(original.id, 1, update)).toBe(false);
      });

      it('lets exactly one of 20 concurrent updates from the same version win', async () => {
        const original = flow();
        await store.flows.insert(original);
        const results = await Promise.all(
          times(20, (index) =>
            store.flows.update(original.id, 1, { state: `{"n":${index}}`, stateName: `s${index}`, terminal: false, secretHash: 'h', expiresAt: at(MINUTE), updatedAt: at(1) }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.flows.get(original.id)).toMatchObject({ version: 2, stateName: `s${winner}` });
      });

      it('supersedes every open flow of the account except the one named, and returns their ids', async () => {
        const owner = accountId();
        const keep = flow({ accountId: owner });
        const open1 = flow({ accountId: owner });
        const open2 = flow({ accountId: owner, version: 4 });
        const done = flow({ accountId: owner, terminal: true, stateName: 'completed' });
        const other = flow();
        for (const record of [keep, open1, open2, done, other]) await store.flows.insert(record);

        const ended = await store.flows.supersedeOpen(owner, keep.id, '{"name":"superseded"}', 'superseded', at(MINUTE));

        expect([...ended].sort()).toEqual([open1.id, open2.id].sort());
        expect(await store.flows.get(open2.id)).toEqual({ ...open2, state: '{"name":"superseded"}', stateName: 'superseded', terminal: true, version: 5, updatedAt: at(MINUTE) });
        expect(await store.flows.get(keep.id)).toEqual(keep);
        expect(await store.flows.get(done.id)).toEqual(done);
        expect(await store.flows.get(other.id)).toEqual(other);
      });

      it('supersedes all open flows of the account when no flow is excepted', async () => {
        const owner = accountId();
        const records = times(3, () => flow({ accountId: owner }));
        for (const record of records) await store.flows.insert(record);
        expect(await store.flows.supersedeOpen(owner, null, '{}', 'superseded', at(1))).toHaveLength(3);
        expect(await store.flows.supersedeOpen(owner, null, '{}', 'superseded', at(2))).toEqual([]);
      });
    });

    describe('challenges', () => {
      let parent: FlowRecord;
      beforeEach(async () => {
        parent = flow();
        await store.flows.insert(parent);
      });

      it('returns an inserted challenge exactly as it was written, and null for an unknown id', async () => {
        const record = challenge(parent, { enrollmentId: asEnrollmentId(uid()), secretHash: null, methodId: 'totp', consumedAt: at(5) });
        await store.challenges.insert(record);
        expect(await store.challenges.get(record.id)).toEqual(record);
        expect(await store.challenges.get(asChallengeId(uid()))).toBeNull();
      });

      it('keeps a challenge that belongs to no flow, such as the verification of a new enrollment', async () => {
        const verification = challenge(parent, { id: asChallengeId(uid()), flowId: null, methodId: 'sms_code' });
        await store.challenges.insert(verification);
        expect(await store.challenges.get(verification.id)).toEqual(verification);
        expect(await store.challenges.registerAttempt(verification.id, at(1))).toBe(1);
        expect(await store.challenges.invalidateForFlow(parent.id, at(2))).toBe(0);
        if (parent.accountId === null) throw new Error('fixture flow must have an account');
        expect(await store.challenges.invalidateForAccount(parent.accountId, at(2))).toBe(1);
      });

      it('counts attempts up to the cap and then refuses', async () => {
        const record = challenge(parent, { maxAttempts: 3 });
        await store.challenges.insert(record);
        const counts = [];
        for (let i = 0; i < 5; i += 1) counts.push(await store.challenges.registerAttempt(record.id, at(i)));
        expect(counts).toEqual([1, 2, 3, null, null]);
        expect(await store.challenges.get(record.id)).toMatchObject({ attempts: 3 });
      });

      it('allows an attempt until the last millisecond before expiry and none from the expiry instant on', async () => {
        const record = challenge(parent, { expiresAt: at(MINUTE) });
        await store.challenges.insert(record);
        expect(await store.challenges.registerAttempt(record.id, at(MINUTE - 1))).toBe(1);
        expect(await store.challenges.registerAttempt(record.id, at(MINUTE))).toBeNull();
        expect(await store.challenges.registerAttempt(record.id, at(2 * MINUTE))).toBeNull();
        expect(await store.challenges.get(record.id)).toMatchObject({ attempts: 1 });
      });

      it('refuses attempts on a consumed or unknown challenge', async () => {
        const record = challenge(parent);
        await store.challenges.insert(record);
        expect(await store.challenges.consume(record.id, at(1))).toBe(true);
        expect(await store.challenges.registerAttempt(record.id, at(2))).toBeNull();
        expect(await store.challenges.registerAttempt(asChallengeId(uid()), at(2))).toBeNull();
      });

      it('never grants more than maxAttempts attempts to 50 concurrent callers', async () => {
        const record = challenge(parent, { maxAttempts: 5 });
        await store.challenges.insert(record);
        const results = await Promise.all(times(50, () => store.challenges.registerAttempt(record.id, at(1))));
        const granted = results.filter((result): result is number => result !== null);
        expect(granted.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
        expect(await store.challenges.get(record.id)).toMatchObject({ attempts: 5 });
      });

      it('consumes a challenge once: of 50 concurrent callers exactly one succeeds', async () => {
        const record = challenge(parent);
        await store.challenges.insert(record);
        const results = await Promise.all(times(50, (index) => store.challenges.consume(record.id, at(index))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.challenges.get(record.id)).toMatchObject({ consumedAt: at(results.indexOf(true)) });
      });

      it('invalidates the unconsumed challenges of a flow and leaves earlier consumption times alone', async () => {
        const sibling = flow({ accountId: parent.accountId });
        await store.flows.insert(sibling);
        const first = challenge(parent);
        const second = challenge(parent);
        const used = challenge(parent, { consumedAt: at(1) });
        const elsewhere = challenge(sibling);
        for (const record of [first, second, used, elsewhere]) await store.challenges.insert(record);

        expect(await store.challenges.invalidateForFlow(parent.id, at(MINUTE))).toBe(2);
        expect(await store.challenges.get(first.id)).toMatchObject({ consumedAt: at(MINUTE) });
        expect(await store.challenges.get(used.id)).toMatchObject({ consumedAt: at(1) });
        expect(await store.challenges.get(elsewhere.id)).toMatchObject({ consumedAt: null });
        expect(await store.challenges.consume(second.id, at(2 * MINUTE))).toBe(false);
      });

      it('invalidates the unconsumed challenges of an account across all its flows', async () => {
        const owner = parent.accountId;
        if (owner === null) throw new Error('fixture flow must have an account');
        const sibling = flow({ accountId: owner });
        const stranger = flow();
        await store.flows.insert(sibling);
        await store.flows.insert(stranger);
        const mine = [challenge(parent), challenge(sibling)];
        const theirs = challenge(stranger);
        for (const record of [...mine, theirs]) await store.challenges.insert(record);

        expect(await store.challenges.invalidateForAccount(owner, at(MINUTE))).toBe(2);
        expect(await store.challenges.registerAttempt(theirs.id, at(MINUTE))).toBe(1);
      });
    });

    describe('single-use secrets', () => {
      let owner: EnrollmentRecord;
      beforeEach(async () => {
        owner = enrollment({ status: 'active' });
        await store.enrollments.insert(owner);
      });

      const codes = (count: number) =>
        times(count, (index) => ({ keyHash: `code-${index}`, accountId: owner.accountId, enrollmentId: owner.id, purpose: 'recovery_code' as const, createdAt: at() }));

      it('consumes each stored code once and counts the ones left', async () => {
        await store.singleUse.insertMany(codes(10));
        expect(await store.singleUse.countUnconsumed(owner.id, 'recovery_code')).toBe(10);

        expect(await store.singleUse.consume(owner.id, 'code-3', at(1))).toBe(true);
        expect(await store.singleUse.consume(owner.id, 'code-3', at(2))).toBe(false);
        expect(await store.singleUse.consume(owner.id, 'unknown', at(2))).toBe(false);
        expect(await store.singleUse.countUnconsumed(owner.id, 'recovery_code')).toBe(9);
        expect(await store.singleUse.countUnconsumed(owner.id, 'totp_step')).toBe(0);
      });

      it('does not let one enrollment consume the codes of another', async () => {
        const other = enrollment({ accountId: owner.accountId });
        await store.enrollments.insert(other);
        await store.singleUse.insertMany(codes(1));
        expect(await store.singleUse.consume(other.id, 'code-0', at(1))).toBe(false);
        expect(await store.singleUse.consume(owner.id, 'code-0', at(1))).toBe(true);
      });

      it('lets exactly one of 50 concurrent consumers of the same code succeed', async () => {
        await store.singleUse.insertMany(codes(2));
        const results = await Promise.all(times(50, () => store.singleUse.consume(owner.id, 'code-1', at(1))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.singleUse.countUnconsumed(owner.id, 'recovery_code')).toBe(1);
      });

      it('claims a key once: of 50 concurrent claims exactly one succeeds and other keys stay free', async () => {
        const results = await Promise.all(times(50, () => store.singleUse.claimOnce(owner.id, 'step-1000', 'totp_step', owner.accountId, at(1))));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.singleUse.claimOnce(owner.id, 'step-1000', 'totp_step', owner.accountId, at(2))).toBe(false);
        expect(await store.singleUse.claimOnce(owner.id, 'step-1001', 'totp_step', owner.accountId, at(2))).toBe(true);
        expect(await store.singleUse.countUnconsumed(owner.id, 'totp_step')).toBe(0);
      });

      it('rejects a duplicate code in a batch with DuplicateError', async () => {
        await store.singleUse.insertMany(codes(1));
        await expect(store.singleUse.insertMany(codes(1))).rejects.toBeInstanceOf(DuplicateError);
      });

      it('deletes every secret of an enrollment, and deleting the enrollment deletes them too', async () => {
        const other = enrollment({ accountId: owner.accountId });
        await store.enrollments.insert(other);
        await store.singleUse.insertMany(codes(3));
        await store.singleUse.insertMany([{ keyHash: 'k', accountId: other.accountId, enrollmentId: other.id, purpose: 'recovery_code', createdAt: at() }]);

        await store.singleUse.deleteForEnrollment(owner.id);
        expect(await store.singleUse.countUnconsumed(owner.id, 'recovery_code')).toBe(0);
        expect(await store.singleUse.countUnconsumed(other.id, 'recovery_code')).toBe(1);

        await store.enrollments.delete(other.id);
        expect(await store.singleUse.countUnconsumed(other.id, 'recovery_code')).toBe(0);
      });
    });

    describe('enrollments', () => {
      it('returns inserted enrollments exactly as written, listed per account in creation order', async () => {
        const owner = accountId();
        const later = enrollment({ accountId: owner, createdAt: at(2), methodId: 'sms_code', channelFingerprint: 'fp', verifiedAt: at(3), lastUsedAt: at(4), status: 'active' });
        const earlier = enrollment({ accountId: owner, createdAt: at(1) });
        await store.enrollments.insert(later);
        await store.enrollments.insert(earlier);
        await store.enrollments.insert(enrollment());

        expect(await store.enrollments.get(later.id)).toEqual(later);
        expect(await store.enrollments.get(asEnrollmentId(uid()))).toBeNull();
        expect(await store.enrollments.listForAccount(owner)).toEqual([earlier, later]);
        expect(await store.enrollments.listForAccount(accountId())).toEqual([]);
      });

      it('activates a pending enrollment once', async () => {
        const record = enrollment();
        await store.enrollments.insert(record);
        expect(await store.enrollments.activate(record.id, at(5))).toBe(true);
        expect(await store.enrollments.activate(record.id, at(6))).toBe(false);
        expect(await store.enrollments.get(record.id)).toEqual({ ...record, status: 'active', verifiedAt: at(5) });
      });

      it('records the last use and deletes, reporting whether there was anything to delete', async () => {
        const record = enrollment();
        await store.enrollments.insert(record);
        await store.enrollments.touchLastUsed(record.id, at(9));
        expect(await store.enrollments.get(record.id)).toMatchObject({ lastUsedAt: at(9) });
        expect(await store.enrollments.delete(record.id)).toBe(true);
        expect(await store.enrollments.delete(record.id)).toBe(false);
        expect(await store.enrollments.get(record.id)).toBeNull();
      });
    });

    describe('sessions', () => {
      const session = (owner: AccountId): SessionRecord => ({
        id: asSessionId(uid()),
        accountId: owner,
        tokenHash: `session-${uid()}`,
        createdAt: at(),
        expiresAt: at(30 * MINUTE),
        authenticatedAt: at(-1),
      });

      it('finds a session by its token hash, and null once it is deleted', async () => {
        const record = session(accountId());
        await store.sessions.insert(record);
        expect(await store.sessions.findByTokenHash(record.tokenHash)).toEqual(record);
        expect(await store.sessions.findByTokenHash('unknown')).toBeNull();
        await store.sessions.delete(record.id);
        expect(await store.sessions.findByTokenHash(record.tokenHash)).toBeNull();
      });

      it('ends every session of an account and reports how many', async () => {
        const owner = accountId();
        const mine = times(3, () => session(owner));
        const theirs = session(accountId());
        for (const record of [...mine, theirs]) await store.sessions.insert(record);
        expect(await store.sessions.deleteForAccount(owner)).toBe(3);
        expect(await store.sessions.deleteForAccount(owner)).toBe(0);
        expect(await store.sessions.findByTokenHash(theirs.tokenHash)).toEqual(theirs);
      });

      it('rejects a second session with the same token hash with DuplicateError', async () => {
        const record = session(accountId());
        await store.sessions.insert(record);
        await expect(store.sessions.insert({ ...record, id: asSessionId(uid()) })).rejects.toBeInstanceOf(DuplicateError);
      });
    });

    describe('audit log', () => {
      it('starts empty at the genesis head', async () => {
        expect(await store.audit.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
        expect(await collect(store.audit.iterate())).toEqual([]);
      });

      it('reads back exactly what it appended, so the chain verifies on the stored records', async () => {
        const subject = accountId();
        const flowId = asFlowId(uid());
        const inputs = [
          event(),
          event({
            type: 'challenge.failed',
            at: at(1),
            actor: { kind: 'person', id: subject },
            subject,
            outcome: 'failure',
            reason: 'wrong_code',
            ip: '2001:db8::1',
            userAgent: 'Mozilla/5.0 (ünïcödé ✓)',
            department: 'Finance',
            tier: 'privileged',
            flowId,
            data: { zeta: 1, alpha: 'x', attempt: 2.5, sent: true, hint: null, quote: '"\\' },
          }),
          event({ type: 'recovery.completed', at: at(2), outcome: 'success', subject, flowId, data: { method: 'totp' } }),
        ];

        const appended = await store.audit.append(inputs);

        expect(appended.map((record) => record.seq)).toEqual([1, 2, 3]);
        const stored = await collect(store.audit.iterate());
        expect(stored).toEqual(appended);
        expect(await verifyChain(stored)).toEqual({ ok: true, count: 3, headHash: appended[2]?.hash });
        expect(await store.audit.head()).toEqual({ seq: 3, hash: appended[2]?.hash });
      });

      it('continues the chain across appends and appends nothing for an empty batch', async () => {
        await store.audit.append([event()]);
        expect(await store.audit.append([])).toEqual([]);
        const [second] = await store.audit.append([event({ at: at(1) })]);
        const [first] = await store.audit.query({ limit: 1 });
        expect(second).toMatchObject({ seq: 2, prevHash: first?.hash });
        expect(await verifyChain(store.audit.iterate())).toMatchObject({ ok: true, count: 2 });
      });

      it('keeps one unforked chain when 20 transactions append at once', async () => {
        await Promise.all(
          times(20, async (index) =>
            store.transaction(async (tx) => {
              const record = flow();
              await tx.flows.insert(record);
              await tx.audit.append([event({ flowId: record.id, data: { index } }), event({ type: 'challenge.issued', flowId: record.id, data: { index } })]);
            }),
          ),
        );
        const stored = await collect(store.audit.iterate());
        expect(new Set(stored.map((record) => record.seq)).size).toBe(40);
        expect(await verifyChain(stored)).toMatchObject({ ok: true, count: 40 });
        expect(await store.audit.head()).toEqual({ seq: 40, hash: stored.at(-1)?.hash });
        // Each transaction's two events are adjacent: the head stays held until the transaction ends.
        for (let i = 0; i < 40; i += 2) expect(stored[i]?.flowId).toBe(stored[i + 1]?.flowId);
      });

      it('keeps one unforked chain when 20 appends outside any transaction run at once', async () => {
        await Promise.all(times(20, (index) => store.audit.append([event({ data: { index } }), event({ data: { index, second: true } })])));
        expect(await verifyChain(store.audit.iterate())).toMatchObject({ ok: true, count: 40 });
      });

      it('filters queries by every field, in seq order, up to the limit', async () => {
        const subject = accountId();
        const flowId = asFlowId(uid());
        await store.audit.append([
          event({ type: 'recovery.started', at: at(0), subject, flowId, ip: '192.0.2.1' }),
          event({ type: 'challenge.failed', at: at(10), subject, flowId, ip: '192.0.2.1', outcome: 'failure' }),
          event({ type: 'challenge.failed', at: at(20), ip: '192.0.2.2', outcome: 'failure' }),
          event({ type: 'recovery.completed', at: at(30), subject, flowId, outcome: 'success' }),
          event({ type: 'sign_in.failed', at: at(40), outcome: 'failure' }),
        ]);
        const seqs = async (query: Parameters<Repositories['audit']['query']>[0]) => (await store.audit.query(query)).map((record) => record.seq);

        expect(await seqs({ limit: 100 })).toEqual([1, 2, 3, 4, 5]);
        expect(await seqs({ limit: 2 })).toEqual([1, 2]);
        expect(await seqs({ since: at(10), until: at(30), limit: 100 })).toEqual([2, 3]);
        expect(await seqs({ types: ['challenge.failed', 'sign_in.failed'], limit: 100 })).toEqual([2, 3, 5]);
        expect(await seqs({ types: [], limit: 100 })).toEqual([]);
        expect(await seqs({ outcome: 'failure', limit: 100 })).toEqual([2, 3, 5]);
        expect(await seqs({ subject, limit: 100 })).toEqual([1, 2, 4]);
        expect(await seqs({ ip: '192.0.2.1', limit: 100 })).toEqual([1, 2]);
        expect(await seqs({ flowId, limit: 100 })).toEqual([1, 2, 4]);
        expect(await seqs({ afterSeq: 3, limit: 100 })).toEqual([4, 5]);
        expect(await seqs({ subject, outcome: 'failure', types: ['challenge.failed'], since: at(5), limit: 100 })).toEqual([2]);
      });

      it('iterates every record in seq order across page boundaries, optionally after a given seq', async () => {
        await store.audit.append(times(7, (index) => event({ at: at(index) })));
        expect((await collect(store.audit.iterate(0, 3))).map((record) => record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
        expect((await collect(store.audit.iterate(2, 5))).map((record) => record.seq)).toEqual([3, 4, 5, 6, 7]);
        expect((await collect(store.audit.iterate(7))).map((record) => record.seq)).toEqual([]);

        const head = await store.audit.query({ limit: 2 });
        expect(await verifyChain(store.audit.iterate(2, 2), { seq: 2, hash: head[1]?.hash ?? '' })).toMatchObject({ ok: true, count: 5 });
      });

      it('lets verification detect a record edited in the database', async () => {
        await store.audit.append(times(3, () => event()));
        await sql`update audit_events set reason = ${'edited'} where seq = 2`.execute(kyselyOf(store));
        expect(await verifyChain(store.audit.iterate())).toMatchObject({ ok: false, firstBadSeq: 2 });
      });

      it('purges a prefix of the log and keeps appending after the head, the chain verifying from the cut', async () => {
        const appended = await store.audit.append(times(5, () => event()));
        const cut = appended[2];
        if (!cut) throw new Error('too few records');
        expect(await store.transaction(async (tx) => {
          await tx.audit.head({ lock: true });
          return tx.audit.purgeThrough(cut.seq);
        })).toBe(3);
        const [next] = await store.audit.append([event()]);
        expect(next?.seq).toBe(6);
        const kept = await collect(store.audit.iterate());
        expect(kept.map((record) => record.seq)).toEqual([4, 5, 6]);
        expect(await verifyChain(kept, { seq: cut.seq, hash: cut.hash })).toMatchObject({ ok: true, count: 3 });
      });
    });

    describe('audit checkpoints', () => {
      const checkpoint = (seq: number) => ({ seq, hash: `${seq}`.padStart(64, '0'), at: at(seq), instance: 'host-a', keyId: '0123456789abcdef', signature: `sig-${seq}` });

      it('records checkpoints, one per seq, and reads the latest, one, and those from a seq on', async () => {
        expect(await store.auditCheckpoints.latest()).toBeNull();
        await store.auditCheckpoints.record(checkpoint(10), 11);
        await store.auditCheckpoints.record(checkpoint(30), 31);
        await store.auditCheckpoints.record(checkpoint(20), 40);
        await expect(store.auditCheckpoints.record({ ...checkpoint(20), instance: 'host-b' }, 41)).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.auditCheckpoints.latest()).toEqual({ checkpoint: checkpoint(30), eventSeq: 31 });
        expect(await store.auditCheckpoints.get(20)).toEqual(checkpoint(20));
        expect(await store.auditCheckpoints.get(21)).toBeNull();
        expect((await store.auditCheckpoints.list(20)).map((found) => found.seq)).toEqual([20, 30]);
      });
    });

    describe('transactions', () => {
      it('commits everything written in a transaction together and returns the result of the work', async () => {
        const record = flow();
        const result = await store.transaction(async (tx) => {
          await tx.flows.insert(record);
          const [written] = await tx.audit.append([event({ flowId: record.id })]);
          expect(await tx.flows.get(record.id)).toEqual(record);
          return written?.seq;
        });
        expect(result).toBe(1);
        expect(await store.flows.get(record.id)).toEqual(record);
        expect(await store.audit.head()).toMatchObject({ seq: 1 });
      });

      it('leaves nothing behind and rethrows when the work throws', async () => {
        const record = flow();
        const failure = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.flows.insert(record);
            await tx.audit.append([event({ flowId: record.id })]);
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await store.flows.get(record.id)).toBeNull();
        expect(await store.audit.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
        expect(await store.audit.query({ limit: 10 })).toEqual([]);
      });

      it('rolls back a transaction whose later write fails, keeping the chain able to continue', async () => {
        const record = flow();
        await store.flows.insert(record);
        await expect(
          store.transaction(async (tx) => {
            await tx.audit.append([event()]);
            await tx.flows.insert(record);
          }),
        ).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.audit.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
        await store.audit.append([event()]);
        expect(await verifyChain(store.audit.iterate())).toMatchObject({ ok: true, count: 1 });
      });
    });

    describe('outbox', () => {
      it('enqueues a message as pending with no attempts', async () => {
        const message = outboxMessage();
        await store.outbox.enqueue(message);
        expect(await store.outbox.get(message.id)).toEqual({
          ...message,
          status: 'pending',
          attempts: 0,
          leaseUntil: null,
          deliveredAt: null,
          lastError: null,
          deliveredVia: null,
        } satisfies OutboxRecord);
        expect(await store.outbox.get(uid())).toBeNull();
      });

      it('leases due messages oldest first, up to the limit, counting each lease as an attempt', async () => {
        const later = outboxMessage({ availableAt: at(2) });
        const sooner = outboxMessage({ availableAt: at(1) });
        const third = outboxMessage({ availableAt: at(3) });
        const notYet = outboxMessage({ availableAt: at(MINUTE) });
        for (const message of [later, sooner, third, notYet]) await store.outbox.enqueue(message);

        const claimed = await store.outbox.claimDue(at(10), at(10 + MINUTE), 2);

        expect(claimed.map((message) => message.id)).toEqual([sooner.id, later.id]);
        expect(claimed[0]).toMatchObject({ status: 'sending', attempts: 1, leaseUntil: at(10 + MINUTE) });
        expect((await store.outbox.claimDue(at(10), at(10 + MINUTE), 10)).map((message) => message.id)).toEqual([third.id]);
        expect(await store.outbox.claimDue(at(10), at(10 + MINUTE), 10)).toEqual([]);
      });

      it('leases a message again once its lease has run out, but not while it holds', async () => {
        const message = outboxMessage();
        await store.outbox.enqueue(message);
        await store.outbox.claimDue(at(0), at(MINUTE), 10);
        expect(await store.outbox.claimDue(at(MINUTE - 1), at(2 * MINUTE), 10)).toEqual([]);
        expect(await store.outbox.claimDue(at(MINUTE), at(2 * MINUTE), 10)).toMatchObject([{ id: message.id, attempts: 2, leaseUntil: at(2 * MINUTE) }]);
      });

      it('never leases the same message to two concurrent callers', async () => {
        const ids = times(40, (index) => uid() + String(index));
        for (const [index, id] of ids.entries()) await store.outbox.enqueue(outboxMessage({ id, availableAt: at(index) }));

        const seen: string[] = [];
        for (let round = 0; round < 20 && seen.length < ids.length; round += 1) {
          const batches = await Promise.all(times(2, () => store.outbox.claimDue(at(MINUTE), at(10 * MINUTE), 7)));
          for (const batch of batches) seen.push(...batch.map((message) => message.id));
        }
        expect(new Set(seen).size).toBe(seen.length);
        expect([...seen].sort()).toEqual([...ids].sort());
      });

      it('marks a message delivered, scrubbing the payload only when asked', async () => {
        const scrubbed = outboxMessage();
        const kept = outboxMessage();
        await store.outbox.enqueue(scrubbed);
        await store.outbox.enqueue(kept);
        await store.outbox.claimDue(at(1), at(MINUTE), 10);

        await store.outbox.markDelivered(scrubbed.id, at(5), 'smtp', true);
        await store.outbox.markDelivered(kept.id, at(6), 'dev-outbox', false);

        expect(await store.outbox.get(scrubbed.id)).toMatchObject({ status: 'delivered', deliveredAt: at(5), deliveredVia: 'smtp', payloadCiphertext: null, leaseUntil: null });
        expect(await store.outbox.get(kept.id)).toMatchObject({ status: 'delivered', deliveredVia: 'dev-outbox', payloadCiphertext: kept.payloadCiphertext });
        expect(await store.outbox.claimDue(at(2 * MINUTE), at(3 * MINUTE), 10)).toEqual([]);
      });

      it('puts a failed message back for a retry at the given time, or marks it dead for good', async () => {
        const retried = outboxMessage();
        const dead = outboxMessage();
        await store.outbox.enqueue(retried);
        await store.outbox.enqueue(dead);
        await store.outbox.claimDue(at(0), at(MINUTE), 10);

        await store.outbox.markFailed(retried.id, 'smtp 451 try later', at(5 * MINUTE));
        await store.outbox.markFailed(dead.id, 'smtp 550 no such user', null);

        expect(await store.outbox.get(retried.id)).toMatchObject({ status: 'pending', availableAt: at(5 * MINUTE), leaseUntil: null, lastError: 'smtp 451 try later', attempts: 1 });
        expect(await store.outbox.get(dead.id)).toMatchObject({ status: 'dead', leaseUntil: null, lastError: 'smtp 550 no such user' });
        expect(await store.outbox.claimDue(at(5 * MINUTE - 1), at(10 * MINUTE), 10)).toEqual([]);
        expect((await store.outbox.claimDue(at(5 * MINUTE), at(10 * MINUTE), 10)).map((message) => message.id)).toEqual([retried.id]);
        expect((await store.outbox.claimDue(at(60 * MINUTE), at(70 * MINUTE), 10)).map((message) => message.id)).not.toContain(dead.id);
      });

      it('lists messages by status, account and creation time, oldest first, up to the limit', async () => {
        const owner = accountId();
        const a = outboxMessage({ accountId: owner, createdAt: at(1) });
        const b = outboxMessage({ accountId: null, createdAt: at(2) });
        const c = outboxMessage({ accountId: owner, createdAt: at(3) });
        for (const message of [c, a, b]) await store.outbox.enqueue(message);
        await store.outbox.markFailed(b.id, 'gone', null);
        const ids = async (query: Parameters<Repositories['outbox']['list']>[0]) => (await store.outbox.list(query)).map((message) => message.id);

        expect(await ids({ limit: 10 })).toEqual([a.id, b.id, c.id]);
        expect(await ids({ limit: 2 })).toEqual([a.id, b.id]);
        expect(await ids({ status: 'pending', limit: 10 })).toEqual([a.id, c.id]);
        expect(await ids({ accountId: owner, limit: 10 })).toEqual([a.id, c.id]);
        expect(await ids({ afterCreatedAt: at(1), limit: 10 })).toEqual([b.id, c.id]);
      });
    });

    describe('admin tokens', () => {
      it('finds a token by its hash and lists tokens in creation order', async () => {
        const older = adminToken({ createdAt: at(1), expiresAt: at(MINUTE), lastUsedAt: at(2), scopes: ['accounts:read'] });
        const newer = adminToken({ createdAt: at(2) });
        await store.adminTokens.insert(newer);
        await store.adminTokens.insert(older);
        expect(await store.adminTokens.findByHash(older.tokenHash)).toEqual(older);
        expect(await store.adminTokens.findByHash('unknown')).toBeNull();
        expect(await store.adminTokens.list()).toEqual([older, newer]);
      });

      it('revokes a live token once, and neither an expired nor an unknown one', async () => {
        const live = adminToken({ expiresAt: at(MINUTE) });
        const expired = adminToken({ expiresAt: at(1) });
        await store.adminTokens.insert(live);
        await store.adminTokens.insert(expired);

        expect(await store.adminTokens.revoke(live.id, at(5))).toBe(true);
        expect(await store.adminTokens.revoke(live.id, at(6))).toBe(false);
        expect(await store.adminTokens.revoke(expired.id, at(5))).toBe(false);
        expect(await store.adminTokens.revoke(uid(), at(5))).toBe(false);
        expect(await store.adminTokens.findByHash(live.tokenHash)).toMatchObject({ revokedAt: at(5) });
      });

      it('records when a token was last used, and rejects a duplicate hash with DuplicateError', async () => {
        const token = adminToken();
        await store.adminTokens.insert(token);
        await store.adminTokens.touch(token.id, at(7));
        expect(await store.adminTokens.findByHash(token.tokenHash)).toMatchObject({ lastUsedAt: at(7) });
        await expect(store.adminTokens.insert({ ...token, id: uid() })).rejects.toBeInstanceOf(DuplicateError);
      });
    });

    describe('built-in accounts', () => {
      it('finds an account by id and by username exactly as it was written', async () => {
        const record = account({ workEmail: null, department: null, groups: [], enabled: false, failedSignIns: 2, lockedAt: at(3) });
        await store.builtinAccounts.insert(record);
        expect(await store.builtinAccounts.get(record.id)).toEqual(record);
        expect(await store.builtinAccounts.findByUsername(record.username)).toEqual(record);
        expect(await store.builtinAccounts.findByUsername('nobody')).toBeNull();
        expect(await store.builtinAccounts.get(accountId())).toBeNull();
      });

      it('rejects a second account with the same username with DuplicateError', async () => {
        const record = account({ username: 'ada' });
        await store.builtinAccounts.insert(record);
        await expect(store.builtinAccounts.insert(account({ username: 'ada' }))).rejects.toBeInstanceOf(DuplicateError);
        expect(await store.builtinAccounts.findByUsername('ada')).toEqual(record);
      });

      it('finds every account sharing a work email, so callers can tell an ambiguous email apart', async () => {
        const first = account({ username: 'b', workEmail: 'shared@example.org' });
        const second = account({ username: 'a', workEmail: 'shared@example.org' });
        await store.builtinAccounts.insert(first);
        await store.builtinAccounts.insert(second);
        await store.builtinAccounts.insert(account({ username: 'c', workEmail: 'own@example.org' }));
        expect(await store.builtinAccounts.findByEmail('shared@example.org')).toEqual([second, first]);
        expect(await store.builtinAccounts.findByEmail('none@example.org')).toEqual([]);
      });

      it('lists accounts by username in pages, optionally matching part of a name or email in any case', async () => {
        for (const [username, displayName, workEmail] of [
          ['carol', 'Carol Danvers', 'carol@example.org'],
          ['alice', 'Alice Liddell', 'alice@example.org'],
          ['bob', 'Bob_Ross', null],
          ['dave', 'Dave 100%', 'dave@corp.example'],
        ] as const) {
          await store.builtinAccounts.insert(account({ username, displayName, workEmail }));
        }
        const names = async (options: Parameters<Repositories['builtinAccounts']['list']>[0]) => (await store.builtinAccounts.list(options)).map((record) => record.username);

        expect(await names({ limit: 10 })).toEqual(['alice', 'bob', 'carol', 'dave']);
        expect(await names({ limit: 2 })).toEqual(['alice', 'bob']);
        expect(await names({ afterUsername: 'bob', limit: 10 })).toEqual(['carol', 'dave']);
        expect(await names({ query: 'LIDDELL', limit: 10 })).toEqual(['alice']);
        expect(await names({ query: 'example.org', limit: 10 })).toEqual(['alice', 'carol']);
        expect(await names({ query: '_', limit: 10 })).toEqual(['bob']);
        expect(await names({ query: '%', limit: 10 })).toEqual(['dave']);
        expect(await names({ query: 'a', afterUsername: 'alice', limit: 1 })).toEqual(['carol']);
      });

      it('changes the password and its timestamp, and enables or disables the account', async () => {
        const record = account();
        await store.builtinAccounts.insert(record);
        await store.builtinAccounts.setPassword(record.id, 'new-hash', at(MINUTE));
        await store.builtinAccounts.setEnabled(record.id, false);
        expect(await store.builtinAccounts.get(record.id)).toEqual({ ...record, passwordHash: 'new-hash', passwordChangedAt: at(MINUTE), enabled: false });
        await store.builtinAccounts.setEnabled(record.id, true);
        expect(await store.builtinAccounts.get(record.id)).toMatchObject({ enabled: true });
      });

      it('counts failed sign-ins and locks the account when the count reaches the threshold', async () => {
        const record = account();
        await store.builtinAccounts.insert(record);
        const results = [];
        for (let i = 1; i <= 4; i += 1) results.push(await store.builtinAccounts.recordFailedSignIn(record.id, 3, at(i)));
        expect(results).toEqual([
          { failedSignIns: 1, lockedNow: false },
          { failedSignIns: 2, lockedNow: false },
          { failedSignIns: 3, lockedNow: true },
          { failedSignIns: 4, lockedNow: false },
        ]);
        expect(await store.builtinAccounts.get(record.id)).toMatchObject({ failedSignIns: 4, lockedAt: at(3) });
      });

      it('reports lockedNow to exactly one of 20 concurrent failures that cross the threshold', async () => {
        const record = account();
        await store.builtinAccounts.insert(record);
        const results = await Promise.all(times(20, () => store.builtinAccounts.recordFailedSignIn(record.id, 5, at(1))));
        expect(results.map((result) => result.failedSignIns).sort((a, b) => a - b)).toEqual(times(20, (index) => index + 1));
        expect(results.filter((result) => result.lockedNow)).toEqual([{ failedSignIns: 5, lockedNow: true }]);
      });

      it('clears the failure count without unlocking, and unlocking clears both', async () => {
        const record = account();
        await store.builtinAccounts.insert(record);
        await store.builtinAccounts.recordFailedSignIn(record.id, 1, at(1));
        await store.builtinAccounts.clearFailedSignIns(record.id);
        expect(await store.builtinAccounts.get(record.id)).toMatchObject({ failedSignIns: 0, lockedAt: at(1) });
        await store.builtinAccounts.recordFailedSignIn(record.id, 1, at(2));
        await store.builtinAccounts.unlock(record.id);
        expect(await store.builtinAccounts.get(record.id)).toMatchObject({ failedSignIns: 0, lockedAt: null });
        expect(await store.builtinAccounts.recordFailedSignIn(record.id, 1, at(3))).toEqual({ failedSignIns: 1, lockedNow: true });
      });

      it('counts nothing for an unknown account', async () => {
        expect(await store.builtinAccounts.recordFailedSignIn(accountId(), 1, at(1))).toEqual({ failedSignIns: 0, lockedNow: false });
      });
    });
  });
}
