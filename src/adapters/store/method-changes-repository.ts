import type { Kysely, Selectable } from 'kysely';
import type { AccountId, EnrollmentId } from '../../core/account/ids.ts';
import type { EnrollmentStatus } from '../../core/account/account.ts';
import type { MethodId } from '../../core/methods/method-ids.ts';
import type { MethodChangeRecord, MethodChangeRepository, RemovedEnrollmentSnapshot, SingleUsePurpose } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';

/** A removed enrollment as JSON text: times as epoch milliseconds, everything else as stored. */
interface StoredSnapshot {
  readonly enrollment: {
    readonly id: string;
    readonly accountId: string;
    readonly methodId: string;
    readonly status: string;
    readonly label: string;
    readonly secretCiphertext: string;
    readonly channelFingerprint: string | null;
    readonly createdAt: number;
    readonly verifiedAt: number | null;
    readonly lastUsedAt: number | null;
  };
  readonly singleUse: readonly { readonly keyHash: string; readonly purpose: string; readonly createdAt: number }[];
}

const encodeRemoved = (removed: readonly RemovedEnrollmentSnapshot[]): string =>
  JSON.stringify(
    removed.map(({ enrollment, singleUse }): StoredSnapshot => ({
      enrollment: {
        ...enrollment,
        createdAt: enrollment.createdAt.getTime(),
        verifiedAt: enrollment.verifiedAt?.getTime() ?? null,
        lastUsedAt: enrollment.lastUsedAt?.getTime() ?? null,
      },
      singleUse: singleUse.map((item) => ({ ...item, createdAt: item.createdAt.getTime() })),
    })),
  );

const decodeRemoved = (text: string): RemovedEnrollmentSnapshot[] =>
  (JSON.parse(text) as StoredSnapshot[]).map(({ enrollment, singleUse }) => ({
    enrollment: {
      id: enrollment.id as EnrollmentId,
      accountId: enrollment.accountId as AccountId,
      methodId: enrollment.methodId as MethodId,
      status: enrollment.status as EnrollmentStatus,
      label: enrollment.label,
      secretCiphertext: enrollment.secretCiphertext,
      channelFingerprint: enrollment.channelFingerprint,
      createdAt: new Date(enrollment.createdAt),
      verifiedAt: enrollment.verifiedAt === null ? null : new Date(enrollment.verifiedAt),
      lastUsedAt: enrollment.lastUsedAt === null ? null : new Date(enrollment.lastUsedAt),
    },
    singleUse: singleUse.map((item) => ({ keyHash: item.keyHash, purpose: item.purpose as SingleUsePurpose, createdAt: new Date(item.createdAt) })),
  }));

function toRecord(row: Selectable<Database['method_changes']>): MethodChangeRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    createdAt: toDate(row.created_at),
    addedEnrollmentId: row.added_enrollment_id,
    addedMethodId: row.added_method_id,
    coolsOff: Number(row.cools_off) === 1,
    removed: decodeRemoved(row.removed),
    afterRecovery: Number(row.after_recovery) === 1,
    tokenHash: row.token_hash,
    tokenExpiresAt: toDate(row.token_expires_at),
    disputedAt: toDateOrNull(row.disputed_at),
    revertedAt: toDateOrNull(row.reverted_at),
  };
}

/**
 * Method changes and freezes over Kysely, for SQLite and PostgreSQL alike. A dispute is one
 * conditional UPDATE (unused, unexpired, not reverted): on PostgreSQL the row lock makes a second
 * concurrent caller re-check and find it used; SQLite runs one writer at a time.
 */
export function methodChangeRepository(db: Kysely<Database>): MethodChangeRepository {
  return {
    async insert(change) {
      await db
        .insertInto('method_changes')
        .values({
          id: change.id,
          account_id: change.accountId,
          created_at: change.createdAt.getTime(),
          added_enrollment_id: change.addedEnrollmentId,
          added_method_id: change.addedMethodId,
          cools_off: change.coolsOff ? 1 : 0,
          removed: encodeRemoved(change.removed),
          after_recovery: change.afterRecovery ? 1 : 0,
          token_hash: change.tokenHash,
          token_expires_at: change.tokenExpiresAt.getTime(),
          disputed_at: msOrNull(change.disputedAt),
          reverted_at: msOrNull(change.revertedAt),
        })
        .execute();
    },
    async findByTokenHash(tokenHash) {
      const row = await db.selectFrom('method_changes').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async dispute(tokenHash, now) {
      const result = await db
        .updateTable('method_changes')
        .set({ disputed_at: now.getTime() })
        .where('token_hash', '=', tokenHash)
        .where('disputed_at', 'is', null)
        .where('reverted_at', 'is', null)
        .where('token_expires_at', '>', now.getTime())
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return null;
      const row = await db.selectFrom('method_changes').selectAll().where('token_hash', '=', tokenHash).executeTakeFirstOrThrow();
      return toRecord(row);
    },
    async listForAccount(accountId, since) {
      let query = db.selectFrom('method_changes').selectAll().where('account_id', '=', accountId);
      if (since) query = query.where('created_at', '>=', since.getTime());
      const rows = await query.orderBy('created_at').orderBy('id').execute();
      return rows.map(toRecord);
    },
    async markReverted(id, now) {
      await db.updateTable('method_changes').set({ reverted_at: now.getTime() }).where('id', '=', id).where('reverted_at', 'is', null).execute();
    },
    async coolingOffEnrollmentIds(accountId) {
      const rows = await db
        .selectFrom('method_changes')
        .select('added_enrollment_id')
        .where('account_id', '=', accountId)
        .where('cools_off', '=', 1)
        .where('reverted_at', 'is', null)
        .where('added_enrollment_id', 'is not', null)
        .execute();
      return new Set(rows.map((row) => row.added_enrollment_id).filter((id): id is EnrollmentId => id !== null));
    },
    async unconsumedSingleUse(enrollmentId) {
      const rows = await db.selectFrom('single_use').select(['key_hash', 'purpose', 'created_at']).where('enrollment_id', '=', enrollmentId).where('consumed_at', 'is', null).orderBy('key_hash').execute();
      return rows.map((row) => ({ keyHash: row.key_hash, purpose: row.purpose, createdAt: toDate(row.created_at) }));
    },
    async freeze(freeze) {
      const result = await db
        .insertInto('self_service_freezes')
        .values({ account_id: freeze.accountId, frozen_at: freeze.frozenAt.getTime(), change_id: freeze.changeId })
        .onConflict((conflict) => conflict.column('account_id').doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
    async getFreeze(accountId) {
      const row = await db.selectFrom('self_service_freezes').selectAll().where('account_id', '=', accountId).executeTakeFirst();
      return row === undefined ? null : { accountId: row.account_id, frozenAt: toDate(row.frozen_at), changeId: row.change_id };
    },
    async unfreeze(accountId) {
      const result = await db.deleteFrom('self_service_freezes').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
