import type { Kysely, Selectable } from 'kysely';
import { asAccountId, asFlowId } from '../../core/account/ids.ts';
import type { PrivilegedHoldRecord, PrivilegedHoldRepository } from '../../core/ports/store.ts';
import { insertUnique } from './kysely-store.ts';
import type { Database } from './schema.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';

/* Privileged recovery holds over Kysely, the same queries on SQLite and PostgreSQL. */

const BLOCKING: readonly PrivilegedHoldRecord['status'][] = ['held', 'unconfirmed'];

const toHold = (row: Selectable<Database['privileged_holds']>): PrivilegedHoldRecord => ({
  id: row.id,
  accountId: asAccountId(row.account_id),
  flowId: asFlowId(row.flow_id),
  purpose: row.purpose === 'unlock' ? 'unlock' : 'reset',
  status: row.status === 'confirmed' ? 'confirmed' : row.status === 'unconfirmed' ? 'unconfirmed' : 'held',
  createdAt: toDate(row.created_at),
  deadlineAt: toDate(row.deadline_at),
  resolvedAt: toDateOrNull(row.resolved_at),
  resolvedBy: row.resolved_by,
  version: Number(row.version),
});

export function privilegedHoldRepository(db: Kysely<Database>): PrivilegedHoldRepository {
  return {
    async insert(hold) {
      await insertUnique(
        db
          .insertInto('privileged_holds')
          .values({
            id: hold.id,
            account_id: hold.accountId,
            flow_id: hold.flowId,
            purpose: hold.purpose,
            status: hold.status,
            created_at: hold.createdAt.getTime(),
            deadline_at: hold.deadlineAt.getTime(),
            resolved_at: msOrNull(hold.resolvedAt),
            resolved_by: hold.resolvedBy,
            version: hold.version,
          })
          .execute(),
        `privileged hold ${hold.id}`,
      );
    },
    async get(id) {
      const row = await db.selectFrom('privileged_holds').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toHold(row);
    },
    async blockingForAccount(accountId) {
      const rows = await db
        .selectFrom('privileged_holds')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('status', 'in', BLOCKING)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toHold);
    },
    async listOverdue(now, limit) {
      const rows = await db
        .selectFrom('privileged_holds')
        .selectAll()
        .where('status', '=', 'held')
        .where('deadline_at', '<=', now.getTime())
        .orderBy('deadline_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toHold);
    },
    async list(query) {
      let select = db.selectFrom('privileged_holds').selectAll();
      if (query.status) select = select.where('status', '=', query.status);
      const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map(toHold);
    },
    async update(hold, expectedVersion) {
      const result = await db
        .updateTable('privileged_holds')
        .set({ status: hold.status, resolved_at: msOrNull(hold.resolvedAt), resolved_by: hold.resolvedBy, version: expectedVersion + 1 })
        .where('id', '=', hold.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
