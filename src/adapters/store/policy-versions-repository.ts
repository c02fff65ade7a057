import type { Kysely, Selectable } from 'kysely';
import type { PolicyVersionRepository } from '../../core/ports/store.ts';
import type { PolicyVersionRecord } from '../../core/policy/versions.ts';
import { insertUnique } from './kysely-store.ts';
import type { Database } from './schema.ts';
import { toDate } from './columns.ts';

/* Published policy versions over Kysely, the same queries on SQLite and PostgreSQL. */

type Row = Selectable<Database['policy_versions']>;
type Summary = Omit<PolicyVersionRecord, 'text' | 'diff'>;

// bigint columns may come back as text from the PostgreSQL driver; every value here fits a double.
const toSummary = (row: Omit<Row, 'text' | 'diff'>): Summary => ({
  version: Number(row.version),
  hash: row.hash,
  createdAt: toDate(row.created_at),
  actorKind: row.actor_kind,
  actorId: row.actor_id,
  reason: row.reason,
  source: row.source,
  linesAdded: Number(row.lines_added),
  linesRemoved: Number(row.lines_removed),
});
const toRecord = (row: Row): PolicyVersionRecord => ({ ...toSummary(row), text: row.text, diff: row.diff });

const SUMMARY_COLUMNS = ['version', 'hash', 'created_at', 'actor_kind', 'actor_id', 'reason', 'source', 'lines_added', 'lines_removed'] as const;

export function policyVersionRepository(db: Kysely<Database>): PolicyVersionRepository {
  return {
    async insert(record) {
      await insertUnique(
        db
          .insertInto('policy_versions')
          .values({
            version: record.version,
            text: record.text,
            hash: record.hash,
            created_at: record.createdAt.getTime(),
            actor_kind: record.actorKind,
            actor_id: record.actorId,
            reason: record.reason,
            source: record.source,
            diff: record.diff,
            lines_added: record.linesAdded,
            lines_removed: record.linesRemoved,
          })
          .execute(),
        `policy version ${record.version}`,
      );
    },
    async get(version) {
      const row = await db.selectFrom('policy_versions').selectAll().where('version', '=', version).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async latest() {
      const row = await db.selectFrom('policy_versions').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async latestNumber() {
      const row = await db.selectFrom('policy_versions').select('version').orderBy('version', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? 0 : Number(row.version);
    },
    async list({ beforeVersion, limit }) {
      let query = db.selectFrom('policy_versions').select(SUMMARY_COLUMNS).orderBy('version', 'desc').limit(limit);
      if (beforeVersion !== undefined) query = query.where('version', '<', beforeVersion);
      const rows = await query.execute();
      return rows.map(toSummary);
    },
  };
}
