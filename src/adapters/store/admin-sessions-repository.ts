import { sql, type Kysely, type Selectable } from 'kysely';
import type { AdminRole } from '../../core/admin/principal.ts';
import type { AdminSessionRecord, AdminSessionRepository } from '../../core/ports/store.ts';
import { insertUnique } from './kysely-store.ts';
import type { Database } from './schema.ts';
import { toDate } from './columns.ts';

/* Admin-console sessions over Kysely, the same queries on SQLite and PostgreSQL. */

const toRecord = (row: Selectable<Database['admin_sessions']>): AdminSessionRecord => ({
  id: row.id,
  tokenHash: row.token_hash,
  accountId: row.account_id,
  username: row.username,
  stage: row.stage,
  roles: JSON.parse(row.roles) as AdminRole[],
  failedAttempts: Number(row.failed_attempts),
  createdAt: toDate(row.created_at),
  lastSeenAt: toDate(row.last_seen_at),
  expiresAt: toDate(row.expires_at),
  rolesCheckedAt: toDate(row.roles_checked_at),
});

export function adminSessionRepository(db: Kysely<Database>): AdminSessionRepository {
  return {
    async insert(session) {
      await insertUnique(
        db
          .insertInto('admin_sessions')
          .values({
            id: session.id,
            token_hash: session.tokenHash,
            account_id: session.accountId,
            username: session.username,
            stage: session.stage,
            roles: JSON.stringify(session.roles),
            failed_attempts: session.failedAttempts,
            created_at: session.createdAt.getTime(),
            last_seen_at: session.lastSeenAt.getTime(),
            expires_at: session.expiresAt.getTime(),
            roles_checked_at: session.rolesCheckedAt.getTime(),
          })
          .execute(),
        'admin session',
      );
    },
    async findByTokenHash(tokenHash) {
      const row = await db.selectFrom('admin_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async activate(id, newTokenHash, roles, now, expiresAt) {
      // One conditional UPDATE: only the caller that finds the session still awaiting changes it.
      const result = await db
        .updateTable('admin_sessions')
        .set({ stage: 'active', token_hash: newTokenHash, roles: JSON.stringify(roles), last_seen_at: now.getTime(), roles_checked_at: now.getTime(), expires_at: expiresAt.getTime() })
        .where('id', '=', id)
        .where('stage', '=', 'awaiting_second_factor')
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
    async recordFailure(id) {
      const row = await db
        .updateTable('admin_sessions')
        .set({ failed_attempts: sql<number>`failed_attempts + 1` })
        .where('id', '=', id)
        .returning('failed_attempts')
        .executeTakeFirst();
      return row === undefined ? 0 : Number(row.failed_attempts);
    },
    async touch(id, now, roles) {
      await db
        .updateTable('admin_sessions')
        .set({ last_seen_at: now.getTime(), ...(roles ? { roles: JSON.stringify(roles), roles_checked_at: now.getTime() } : {}) })
        .where('id', '=', id)
        .execute();
    },
    async delete(id) {
      const result = await db.deleteFrom('admin_sessions').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async deleteForAccount(accountId) {
      const result = await db.deleteFrom('admin_sessions').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async deleteExpired(now, idleSeconds) {
      const result = await db
        .deleteFrom('admin_sessions')
        .where((eb) => eb.or([eb('expires_at', '<=', now.getTime()), eb('last_seen_at', '<=', now.getTime() - idleSeconds * 1000)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
