import type { Kysely, Selectable } from 'kysely';
import type { Checkpoint } from '../../core/audit/checkpoint.ts';
import type { AuditCheckpointRepository } from '../../core/ports/store.ts';
import { insertUnique } from './kysely-store.ts';
import type { Database } from './schema.ts';
import { toDate } from './columns.ts';

/* Signed audit checkpoints over Kysely, the same queries on SQLite and PostgreSQL. */

const toCheckpoint = (row: Selectable<Database['audit_checkpoints']>): Checkpoint => ({
  // bigint columns may come back as text from some drivers; seq always fits a double.
  seq: Number(row.seq),
  hash: row.hash,
  at: toDate(row.at),
  instance: row.instance,
  keyId: row.key_id,
  signature: row.signature,
});

export function auditCheckpointRepository(db: Kysely<Database>): AuditCheckpointRepository {
  return {
    async record(checkpoint, eventSeq) {
      await insertUnique(
        db
          .insertInto('audit_checkpoints')
          .values({
            seq: checkpoint.seq,
            hash: checkpoint.hash,
            at: checkpoint.at.getTime(),
            instance: checkpoint.instance,
            key_id: checkpoint.keyId,
            signature: checkpoint.signature,
            event_seq: eventSeq,
          })
          .execute(),
        `a checkpoint of #${checkpoint.seq}`,
      );
    },
    async latest() {
      const row = await db.selectFrom('audit_checkpoints').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
      return row === undefined ? null : { checkpoint: toCheckpoint(row), eventSeq: Number(row.event_seq) };
    },
    async get(seq) {
      const row = await db.selectFrom('audit_checkpoints').selectAll().where('seq', '=', seq).executeTakeFirst();
      return row === undefined ? null : toCheckpoint(row);
    },
    async list(fromSeq = 0) {
      const rows = await db.selectFrom('audit_checkpoints').selectAll().where('seq', '>=', fromSeq).orderBy('seq').execute();
      return rows.map(toCheckpoint);
    },
  };
}
