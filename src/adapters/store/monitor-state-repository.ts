import type { Kysely } from 'kysely';
import type { MonitorStateRepository, PendingFinding } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import { toDate } from './columns.ts';

/** Rows per multi-row INSERT: well under both engines' bind-parameter limits. */
const INSERT_CHUNK = 200;

/**
 * The detector runner's state over Kysely, for SQLite and PostgreSQL alike. The commit's
 * compare-and-set is one conditional UPDATE of the single cursor row, made first inside the
 * transaction: on PostgreSQL it takes the row lock, so a second committer waits and then finds the
 * version moved; on SQLite the transaction is IMMEDIATE and excludes every other writer anyway.
 */
export function monitorStateRepository(db: Kysely<Database>): MonitorStateRepository {
  const toPending = (row: { id: string; seq: number | string; finding: string; created_at: number | string }): PendingFinding => ({
    id: row.id,
    seq: Number(row.seq),
    finding: row.finding,
    createdAt: toDate(row.created_at),
  });
  return {
    async load() {
      const cursor = await db.selectFrom('monitor_cursor').select(['version', 'cursor']).where('id', '=', 1).executeTakeFirstOrThrow();
      const rows = await db.selectFrom('monitor_state').select(['name', 'state']).execute();
      return { version: Number(cursor.version), cursor: Number(cursor.cursor), states: Object.fromEntries(rows.map((row) => [row.name, row.state])) };
    },
    async version() {
      const row = await db.selectFrom('monitor_cursor').select('version').where('id', '=', 1).executeTakeFirstOrThrow();
      return Number(row.version);
    },
    commit(expectedVersion, cursor, states, findings, now) {
      const work = async (trx: Kysely<Database>): Promise<boolean> => {
        const moved = await trx
          .updateTable('monitor_cursor')
          .set({ version: expectedVersion + 1, cursor, updated_at: now.getTime() })
          .where('id', '=', 1)
          .where('version', '=', expectedVersion)
          .executeTakeFirst();
        if (moved.numUpdatedRows !== 1n) return false;
        for (const [name, state] of Object.entries(states)) {
          await trx
            .insertInto('monitor_state')
            .values({ name, state, updated_at: now.getTime() })
            .onConflict((conflict) => conflict.column('name').doUpdateSet({ state, updated_at: now.getTime() }))
            .execute();
        }
        for (let start = 0; start < findings.length; start += INSERT_CHUNK) {
          const chunk = findings.slice(start, start + INSERT_CHUNK);
          await trx
            .insertInto('monitor_pending_findings')
            .values(chunk.map((finding) => ({ id: finding.id, seq: finding.seq, finding: finding.finding, created_at: finding.createdAt.getTime(), lease_until: null })))
            .execute();
        }
        return true;
      };
      return db.isTransaction ? work(db) : db.transaction().execute(work);
    },
    async claimPending(now, leaseUntil, limit) {
      const at = now.getTime();
      const candidates = await db
        .selectFrom('monitor_pending_findings')
        .selectAll()
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
        .orderBy('seq')
        .orderBy('id')
        .limit(limit)
        .execute();
      const claimed: PendingFinding[] = [];
      for (const row of candidates) {
        // One conditional UPDATE per row: whoever moves the lease owns the finding; the others skip it.
        const taken = await db
          .updateTable('monitor_pending_findings')
          .set({ lease_until: leaseUntil.getTime() })
          .where('id', '=', row.id)
          .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
          .executeTakeFirst();
        if (taken.numUpdatedRows === 1n) claimed.push(toPending(row));
      }
      return claimed;
    },
    async removePending(id) {
      await db.deleteFrom('monitor_pending_findings').where('id', '=', id).execute();
    },
    async countPending() {
      const row = await db.selectFrom('monitor_pending_findings').select((eb) => eb.fn.countAll<number | string>().as('count')).executeTakeFirstOrThrow();
      return Number(row.count);
    },
  };
}
