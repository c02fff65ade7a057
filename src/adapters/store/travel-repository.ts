import type { Kysely, Selectable } from 'kysely';
import type { TravelRepository } from '../../core/ports/store.ts';
import type { TravelWindow } from '../../core/travel/travel.ts';
import type { Database } from './schema.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';

/* Declared trips over Kysely, the same queries on SQLite and PostgreSQL. */

const toWindow = (row: Selectable<Database['travel_windows']>): TravelWindow => ({
  id: row.id,
  accountId: row.account_id,
  countries: JSON.parse(row.countries) as string[],
  fromDate: row.from_date,
  toDate: row.to_date,
  // bigint columns may come back as text from some drivers; epoch milliseconds fit a double.
  startsAt: toDate(row.starts_at),
  endsAt: toDate(row.ends_at),
  createdAt: toDate(row.created_at),
  cancelledAt: toDateOrNull(row.cancelled_at),
});

export function travelRepository(db: Kysely<Database>): TravelRepository {
  return {
    async insert(window) {
      await db
        .insertInto('travel_windows')
        .values({
          id: window.id,
          account_id: window.accountId,
          countries: JSON.stringify(window.countries),
          from_date: window.fromDate,
          to_date: window.toDate,
          starts_at: window.startsAt.getTime(),
          ends_at: window.endsAt.getTime(),
          created_at: window.createdAt.getTime(),
          cancelled_at: msOrNull(window.cancelledAt),
        })
        .execute();
    },
    async get(id) {
      const row = await db.selectFrom('travel_windows').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toWindow(row);
    },
    async listForAccount(accountId, endsAfter) {
      const rows = await db
        .selectFrom('travel_windows')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('ends_at', '>', endsAfter.getTime())
        .orderBy('starts_at')
        .orderBy('id')
        .execute();
      return rows.map(toWindow);
    },
    async listInForce(endsAfter) {
      const rows = await db.selectFrom('travel_windows').selectAll().where('ends_at', '>', endsAfter.getTime()).where('cancelled_at', 'is', null).orderBy('id').execute();
      return rows.map(toWindow);
    },
    async cancel(id, accountId, at) {
      const result = await db
        .updateTable('travel_windows')
        .set({ cancelled_at: at.getTime() })
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .where('cancelled_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}
