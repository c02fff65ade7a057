import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type { AccountId } from '../../core/account/ids.ts';
import type { AccessPassRecord, HelpdeskVerificationRecord, TemporaryAccessPassRepository } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import { insertUnique } from './kysely-store.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';

function toPass(row: Selectable<Database['temporary_access_passes']>): AccessPassRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    enrollmentId: row.enrollment_id,
    keyHash: row.key_hash,
    kind: row.kind,
    validFrom: toDate(row.valid_from),
    expiresAt: toDate(row.expires_at),
    maxUses: Number(row.max_uses),
    uses: Number(row.uses),
    issuedAt: toDate(row.issued_at),
    issuedByKind: row.issued_by_kind,
    issuedBy: row.issued_by,
    revokedAt: toDateOrNull(row.revoked_at),
    revokeReason: row.revoke_reason,
    lastUsedAt: toDateOrNull(row.last_used_at),
    sessionId: row.session_id,
  };
}

function toVerification(row: Selectable<Database['helpdesk_verifications']>): HelpdeskVerificationRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    agentKind: row.agent_kind,
    agentId: row.agent_id,
    method: row.method,
    enrollmentId: row.enrollment_id,
    approvalTokenHash: row.approval_token_hash,
    approverHint: row.approver_hint,
    reason: row.reason,
    ticket: row.ticket,
    status: row.status,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    verifiedAt: toDateOrNull(row.verified_at),
    usedAt: toDateOrNull(row.used_at),
  };
}

/**
 * Passes and helpdesk verifications over Kysely, for both engines. Every state change is one
 * conditional UPDATE … RETURNING (both SQLite ≥ 3.35 and PostgreSQL support it), so a use, a
 * revocation or a verification step is atomic without relying on isolation levels.
 */
export function temporaryAccessPassRepository(db: Kysely<Database>): TemporaryAccessPassRepository {
  return {
    async insert(pass) {
      await insertUnique(
        db
          .insertInto('temporary_access_passes')
          .values({
            id: pass.id,
            account_id: pass.accountId,
            live_account_id: pass.revokedAt === null && pass.uses < pass.maxUses ? pass.accountId : null,
            enrollment_id: pass.enrollmentId,
            key_hash: pass.keyHash,
            kind: pass.kind,
            valid_from: pass.validFrom.getTime(),
            expires_at: pass.expiresAt.getTime(),
            max_uses: pass.maxUses,
            uses: pass.uses,
            issued_at: pass.issuedAt.getTime(),
            issued_by_kind: pass.issuedByKind,
            issued_by: pass.issuedBy,
            revoked_at: msOrNull(pass.revokedAt),
            revoke_reason: pass.revokeReason,
            last_used_at: msOrNull(pass.lastUsedAt),
            session_id: pass.sessionId,
          })
          .execute(),
        'live temporary access pass for this account',
      );
    },
    async get(id) {
      const row = await db.selectFrom('temporary_access_passes').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toPass(row) : null;
    },
    async findLive(accountId) {
      const row = await db.selectFrom('temporary_access_passes').selectAll().where('live_account_id', '=', accountId).executeTakeFirst();
      return row ? toPass(row) : null;
    },
    async revokeLive(accountId, reason, now) {
      const row = await db
        .updateTable('temporary_access_passes')
        .set({ live_account_id: null, revoked_at: now.getTime(), revoke_reason: reason })
        .where('live_account_id', '=', accountId)
        .returningAll()
        .executeTakeFirst();
      return row ? { ...toPass(row), revokedAt: null, revokeReason: null } : null;
    },
    async use(enrollmentId, keyHash, now) {
      const at = now.getTime();
      const row = await db
        .updateTable('temporary_access_passes')
        .set({
          uses: sql<number>`uses + 1`,
          last_used_at: at,
          // The last use takes the pass out of the live set, so a new one can be issued.
          live_account_id: sql<AccountId | null>`case when uses + 1 >= max_uses then null else live_account_id end`,
        })
        .where('enrollment_id', '=', enrollmentId)
        .where('key_hash', '=', keyHash)
        .where('live_account_id', 'is not', null)
        .where('revoked_at', 'is', null)
        .where('valid_from', '<=', at)
        .where('expires_at', '>', at)
        .where(sql<boolean>`uses < max_uses`)
        .returningAll()
        .executeTakeFirst();
      return row ? toPass(row) : null;
    },
    async attachSession(id, sessionId) {
      await db.updateTable('temporary_access_passes').set({ session_id: sessionId }).where('id', '=', id).execute();
    },
    async findBySession(sessionId) {
      const row = await db.selectFrom('temporary_access_passes').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
      return row ? toPass(row) : null;
    },
    async retireExpired(now, limit) {
      const due = await db
        .selectFrom('temporary_access_passes')
        .select('id')
        .where('live_account_id', 'is not', null)
        .where('expires_at', '<=', now.getTime())
        .orderBy('expires_at')
        .limit(limit)
        .execute();
      const retired: AccessPassRecord[] = [];
      for (const { id } of due) {
        // Conditional per row: two sweepers never both report the same pass.
        const row = await db
          .updateTable('temporary_access_passes')
          .set({ live_account_id: null })
          .where('id', '=', id)
          .where('live_account_id', 'is not', null)
          .returningAll()
          .executeTakeFirst();
        if (row) retired.push(toPass(row));
      }
      return retired;
    },
    async insertVerification(verification) {
      await db
        .insertInto('helpdesk_verifications')
        .values({
          id: verification.id,
          account_id: verification.accountId,
          agent_kind: verification.agentKind,
          agent_id: verification.agentId,
          method: verification.method,
          enrollment_id: verification.enrollmentId,
          approval_token_hash: verification.approvalTokenHash,
          approver_hint: verification.approverHint,
          reason: verification.reason,
          ticket: verification.ticket,
          status: verification.status,
          created_at: verification.createdAt.getTime(),
          expires_at: verification.expiresAt.getTime(),
          verified_at: msOrNull(verification.verifiedAt),
          used_at: msOrNull(verification.usedAt),
        })
        .execute();
    },
    async getVerification(id) {
      const row = await db.selectFrom('helpdesk_verifications').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toVerification(row) : null;
    },
    async findVerificationByApprovalToken(tokenHash) {
      const row = await db.selectFrom('helpdesk_verifications').selectAll().where('approval_token_hash', '=', tokenHash).executeTakeFirst();
      return row ? toVerification(row) : null;
    },
    async moveVerification(id, from, to, now) {
      const at = now.getTime();
      const result = await db
        .updateTable('helpdesk_verifications')
        .set({ status: to, ...(to === 'verified' ? { verified_at: at } : {}), ...(to === 'used' ? { used_at: at } : {}) })
        .where('id', '=', id)
        .where('status', '=', from)
        .where('expires_at', '>', at)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
  };
}
