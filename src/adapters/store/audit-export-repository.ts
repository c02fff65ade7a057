import type { Kysely, Selectable } from 'kysely';
import type { AuditExportCursor, AuditExportRepository } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import { toDate, toDateOrNull } from './columns.ts';

/*
 * Audit export cursors over Kysely, for SQLite and PostgreSQL alike. Every state change is one
 * conditional UPDATE (lease free/expired/ours; cursor still where the holder read it; status
 * different from the stored one), which both engines apply atomically without row locks or a
 * particular isolation level: the lease needs no SELECT … FOR UPDATE SKIP LOCKED because the
 * WHERE clause is the lock.
 */

const toCursor = (row: Selectable<Database['audit_export_cursors']>): AuditExportCursor => ({
  sink: row.sink,
  deliveredSeq: Number(row.delivered_seq),
  status: row.status,
  lastError: row.last_error,
  leaseOwner: row.lease_owner,
  leaseUntil: toDateOrNull(row.lease_until),
  updatedAt: toDate(row.updated_at),
});

export function auditExportRepository(db: Kysely<Database>): AuditExportRepository {
  return {
    async get(sink) {
      const row = await db.selectFrom('audit_export_cursors').selectAll().where('sink', '=', sink).executeTakeFirst();
      return row === undefined ? null : toCursor(row);
    },
    async list() {
      const rows = await db.selectFrom('audit_export_cursors').selectAll().orderBy('sink').execute();
      return rows.map(toCursor);
    },
    async acquire(sink, owner, now, leaseUntil) {
      const at = now.getTime();
      await db
        .insertInto('audit_export_cursors')
        .values({ sink, delivered_seq: 0, status: 'active', last_error: null, lease_owner: null, lease_until: null, updated_at: at })
        .onConflict((oc) => oc.column('sink').doNothing())
        .execute();
      const row = await db
        .updateTable('audit_export_cursors')
        .set({ lease_owner: owner, lease_until: leaseUntil.getTime() })
        .where('sink', '=', sink)
        .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_owner', '=', owner), eb('lease_until', '<=', at)]))
        .returningAll()
        .executeTakeFirst();
      return row === undefined ? null : toCursor(row);
    },
    async release(sink, owner) {
      await db.updateTable('audit_export_cursors').set({ lease_owner: null, lease_until: null }).where('sink', '=', sink).where('lease_owner', '=', owner).execute();
    },
    async advance(sink, owner, fromSeq, toSeq, now) {
      if (toSeq < fromSeq) throw new RangeError(`an export cursor only moves forward (${fromSeq} → ${toSeq})`);
      const result = await db
        .updateTable('audit_export_cursors')
        .set({ delivered_seq: toSeq, updated_at: now.getTime() })
        .where('sink', '=', sink)
        .where('lease_owner', '=', owner)
        .where('delivered_seq', '=', fromSeq)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
    async setStatus(sink, status, lastError, now) {
      const result = await db
        .updateTable('audit_export_cursors')
        .set({ status, last_error: lastError, updated_at: now.getTime() })
        .where('sink', '=', sink)
        .where('status', '<>', status)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
    async minimumDelivered(sinkNames) {
      const names = [...new Set(sinkNames)];
      if (names.length === 0) return 0;
      const rows = await db.selectFrom('audit_export_cursors').select(['sink', 'delivered_seq']).where('sink', 'in', names).execute();
      // A sink without a row has delivered nothing yet: everything must be kept for it.
      if (rows.length < names.length) return 0;
      return Math.min(...rows.map((row) => Number(row.delivered_seq)));
    },
  };
}
