import type { Kysely, Selectable } from 'kysely';
import type { AccountId } from '../../core/account/ids.ts';
import type { DrillRow, OpeningRecord, SealRecord } from '../../core/breakglass/records.ts';
import type { BreakGlassRepository } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import { insertUnique } from './kysely-store.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';

const words = (text: string): string[] => (text === '' ? [] : text.split(' '));

function toSeal(row: Selectable<Database['break_glass_seals']>): SealRecord {
  return {
    id: row.id,
    accountId: row.account_id as AccountId,
    username: row.username,
    custodians: JSON.parse(row.custodians) as string[],
    threshold: Number(row.threshold),
    status: row.status,
    passwordMac: row.password_mac,
    groups: JSON.parse(row.groups) as string[],
    directoryPasswordChangedAt: toDateOrNull(row.directory_password_changed_at),
    sealedAt: toDate(row.sealed_at),
    sealedBy: row.sealed_by,
    replaces: row.replaces,
    openedAt: toDateOrNull(row.opened_at),
    resealDueAt: toDateOrNull(row.reseal_due_at),
    lastDrillAt: toDateOrNull(row.last_drill_at),
    pendingShares: row.pending_shares,
    watchState: words(row.watch_state),
    version: Number(row.version),
  };
}

function sealColumns(seal: SealRecord): Omit<Database['break_glass_seals'], 'id' | 'version'> {
  return {
    account_id: seal.accountId,
    // Retired seals leave the unique slot free for the account's next seal.
    live_account: seal.status === 'retired' ? null : seal.accountId,
    username: seal.username,
    custodians: JSON.stringify(seal.custodians),
    threshold: seal.threshold,
    status: seal.status,
    password_mac: seal.passwordMac,
    groups: JSON.stringify(seal.groups),
    directory_password_changed_at: msOrNull(seal.directoryPasswordChangedAt),
    sealed_at: seal.sealedAt.getTime(),
    sealed_by: seal.sealedBy,
    replaces: seal.replaces,
    opened_at: msOrNull(seal.openedAt),
    reseal_due_at: msOrNull(seal.resealDueAt),
    last_drill_at: msOrNull(seal.lastDrillAt),
    pending_shares: seal.pendingShares,
    watch_state: seal.watchState.join(' '),
  };
}

function toDrill(row: Selectable<Database['break_glass_drills']>): DrillRow {
  return { id: row.id, sealId: row.seal_id, accountId: row.account_id as AccountId, at: toDate(row.at), result: row.result, record: row.record, keyId: row.key_id, signature: row.signature };
}

function toOpening(row: Selectable<Database['break_glass_openings']>): OpeningRecord {
  return {
    id: row.id,
    sealId: row.seal_id,
    accountId: row.account_id as AccountId,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    status: row.status,
    sharesCiphertext: row.shares_ciphertext,
    submitted: words(row.submitted).map((pair) => {
      const at = pair.indexOf(':');
      return { share: Number(pair.slice(0, at)), by: pair.slice(at + 1) };
    }),
    version: Number(row.version),
  };
}

function openingColumns(opening: OpeningRecord): Omit<Database['break_glass_openings'], 'id' | 'version'> {
  return {
    seal_id: opening.sealId,
    account_id: opening.accountId,
    reason: opening.reason,
    created_by: opening.createdBy,
    created_at: opening.createdAt.getTime(),
    expires_at: opening.expiresAt.getTime(),
    status: opening.status,
    shares_ciphertext: opening.sharesCiphertext,
    submitted: opening.submitted.map((entry) => `${entry.share}:${entry.by}`).join(' '),
  };
}

/**
 * Break-glass custody over Kysely, for SQLite and PostgreSQL alike. Every write that must not race
 * is one conditional statement: the unique `live_account` column keeps one live seal per account,
 * version-guarded UPDATEs make seal and opening changes compare-and-set, and pending shares are
 * taken by an UPDATE that only the first caller's WHERE still matches.
 */
export function breakGlassRepository(db: Kysely<Database>): BreakGlassRepository {
  return {
    async insertSeal(seal) {
      await insertUnique(db.insertInto('break_glass_seals').values({ id: seal.id, version: seal.version, ...sealColumns(seal) }).execute(), 'a live seal for this account');
    },
    async getSeal(id) {
      const row = await db.selectFrom('break_glass_seals').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toSeal(row);
    },
    async liveSeal(accountId) {
      const row = await db.selectFrom('break_glass_seals').selectAll().where('live_account', '=', accountId).executeTakeFirst();
      return row === undefined ? null : toSeal(row);
    },
    async listLive() {
      const rows = await db.selectFrom('break_glass_seals').selectAll().where('live_account', 'is not', null).orderBy('sealed_at').orderBy('id').execute();
      return rows.map(toSeal);
    },
    async updateSeal(seal, expectedVersion) {
      const result = await db
        .updateTable('break_glass_seals')
        .set({ ...sealColumns(seal), version: expectedVersion + 1 })
        .where('id', '=', seal.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
    async takePendingShares(id) {
      const row = await db.selectFrom('break_glass_seals').select('pending_shares').where('id', '=', id).executeTakeFirst();
      if (row === undefined || row.pending_shares === null) return null;
      const taken = await db
        .updateTable('break_glass_seals')
        .set((eb) => ({ pending_shares: null, version: eb('version', '+', 1) }))
        .where('id', '=', id)
        .where('pending_shares', '=', row.pending_shares)
        .executeTakeFirst();
      return taken.numUpdatedRows === 1n ? row.pending_shares : null;
    },
    async insertDrill(drill) {
      await insertUnique(
        db
          .insertInto('break_glass_drills')
          .values({ id: drill.id, seal_id: drill.sealId, account_id: drill.accountId, at: drill.at.getTime(), result: drill.result, record: drill.record, key_id: drill.keyId, signature: drill.signature })
          .execute(),
        'drill',
      );
    },
    async getDrill(id) {
      const row = await db.selectFrom('break_glass_drills').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toDrill(row);
    },
    async listDrills(accountId, limit) {
      const rows = await db.selectFrom('break_glass_drills').selectAll().where('account_id', '=', accountId).orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toDrill);
    },
    async insertOpening(opening) {
      await insertUnique(db.insertInto('break_glass_openings').values({ id: opening.id, version: opening.version, ...openingColumns(opening) }).execute(), 'opening');
    },
    async getOpening(id) {
      const row = await db.selectFrom('break_glass_openings').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toOpening(row);
    },
    async updateOpening(opening, expectedVersion) {
      const result = await db
        .updateTable('break_glass_openings')
        .set({ ...openingColumns(opening), version: expectedVersion + 1 })
        .where('id', '=', opening.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
  };
}

