import type { Kysely, Selectable } from 'kysely';
import type { AlertRecord } from '../../core/monitoring/alerts/alert.ts';
import type { AlertDeliveryRecord, AlertNotificationRecord, AlertRepository } from '../../core/ports/store.ts';
import { insertUnique, type Engine } from './kysely-store.ts';
import type { Database } from './schema.ts';
import { toDate, toDateOrNull } from './columns.ts';

/*
 * Alerts over Kysely for SQLite and PostgreSQL. One active alert per dedupe key is the unique
 * `active_key` column (null once resolved), so the database, not a read-then-write, decides which of
 * two concurrent raisers creates the alert. Updates are compare-and-set on `version`.
 */

function toAlert(row: Selectable<Database['alerts']>): AlertRecord {
  return {
    id: row.id,
    dedupeKey: row.dedupe_key,
    detectorId: row.detector_id,
    severity: row.severity,
    status: row.status,
    summary: row.summary,
    subject: row.subject,
    ip: row.ip,
    department: row.department,
    observed: JSON.parse(row.observed) as AlertRecord['observed'],
    baseline: row.baseline,
    eventIds: JSON.parse(row.event_ids) as string[],
    occurrences: row.occurrences,
    firstSeenAt: toDate(row.first_seen_at),
    lastSeenAt: toDate(row.last_seen_at),
    acknowledged:
      row.acknowledged_at === null ? null : { at: toDate(row.acknowledged_at), by: row.acknowledged_by ?? '', reason: row.acknowledged_reason ?? '' },
    resolved: row.resolved_at === null ? null : { at: toDate(row.resolved_at), by: row.resolved_by ?? '', reason: row.resolved_reason ?? '' },
    recurrenceOf: row.recurrence_of,
    lastNotifiedAt: toDateOrNull(row.last_notified_at),
    notifiedSeverity: row.notified_severity,
    version: row.version,
  };
}

/** Every column but the id, from a record. */
function toRow(alert: AlertRecord): Omit<Selectable<Database['alerts']>, 'id'> {
  return {
    dedupe_key: alert.dedupeKey,
    active_key: alert.status === 'resolved' ? null : alert.dedupeKey,
    detector_id: alert.detectorId,
    severity: alert.severity,
    status: alert.status,
    summary: alert.summary,
    subject: alert.subject,
    ip: alert.ip,
    department: alert.department,
    observed: JSON.stringify(alert.observed),
    baseline: alert.baseline,
    event_ids: JSON.stringify(alert.eventIds),
    occurrences: alert.occurrences,
    first_seen_at: alert.firstSeenAt.getTime(),
    last_seen_at: alert.lastSeenAt.getTime(),
    acknowledged_at: alert.acknowledged?.at.getTime() ?? null,
    acknowledged_by: alert.acknowledged?.by ?? null,
    acknowledged_reason: alert.acknowledged?.reason ?? null,
    resolved_at: alert.resolved?.at.getTime() ?? null,
    resolved_by: alert.resolved?.by ?? null,
    resolved_reason: alert.resolved?.reason ?? null,
    recurrence_of: alert.recurrenceOf,
    last_notified_at: alert.lastNotifiedAt?.getTime() ?? null,
    notified_severity: alert.notifiedSeverity,
    version: alert.version,
  };
}

const toNotification = (row: Selectable<Database['alert_notifications']>): AlertNotificationRecord => ({
  id: row.id,
  alertId: row.alert_id,
  kind: row.kind,
  status: row.status,
  severity: row.severity,
  createdAt: toDate(row.created_at),
});

const toDelivery = (row: Selectable<Database['alert_deliveries']>): AlertDeliveryRecord => ({
  id: row.id,
  notificationId: row.notification_id,
  alertId: row.alert_id,
  target: row.target,
  payload: row.payload,
  status: row.status,
  attempts: row.attempts,
  createdAt: toDate(row.created_at),
  availableAt: toDate(row.available_at),
  leaseUntil: toDateOrNull(row.lease_until),
  deliveredAt: toDateOrNull(row.delivered_at),
  lastError: row.last_error,
});

export function alertRepository(db: Kysely<Database>, engine: Engine): AlertRepository {
  return {
    async insert(alert) {
      await insertUnique(db.insertInto('alerts').values({ id: alert.id, ...toRow(alert) }).execute(), 'active alert for this dedupe key');
    },
    async get(id) {
      const row = await db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toAlert(row);
    },
    async findActive(dedupeKey) {
      let select = db.selectFrom('alerts').selectAll().where('active_key', '=', dedupeKey);
      // PostgreSQL: concurrent raisers of one key queue on the row instead of failing their compare-and-set.
      if (engine === 'postgres') select = select.forUpdate();
      const row = await select.executeTakeFirst();
      return row === undefined ? null : toAlert(row);
    },
    async latestResolved(dedupeKey) {
      const row = await db
        .selectFrom('alerts')
        .selectAll()
        .where('dedupe_key', '=', dedupeKey)
        .where('resolved_at', 'is not', null)
        .orderBy('resolved_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row === undefined ? null : toAlert(row);
    },
    async update(alert, expectedVersion) {
      const result = await db
        .updateTable('alerts')
        .set({ ...toRow(alert), version: expectedVersion + 1 })
        .where('id', '=', alert.id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return result.numUpdatedRows === 1n;
    },
    async list(query) {
      let select = db.selectFrom('alerts').selectAll();
      if (query.status) select = select.where('status', '=', query.status);
      if (query.severity) select = select.where('severity', '=', query.severity);
      if (query.detectorId) select = select.where('detector_id', '=', query.detectorId);
      if (query.since) select = select.where('last_seen_at', '>=', query.since.getTime());
      if (query.until) select = select.where('first_seen_at', '<', query.until.getTime());
      const after = query.after;
      if (after) {
        const at = after.firstSeenAt.getTime();
        select = select.where((eb) => eb.or([eb('first_seen_at', '<', at), eb.and([eb('first_seen_at', '=', at), eb('id', '<', after.id)])]));
      }
      const rows = await select.orderBy('first_seen_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
      return rows.map(toAlert);
    },
    async lockThrottle() {
      // An UPDATE holds the row lock until commit on PostgreSQL; on SQLite the write transaction is already exclusive.
      await db.updateTable('alert_throttle').set((eb) => ({ version: eb('version', '+', 1) })).where('id', '=', 1).execute();
    },
    async recordNotification(notification) {
      await db
        .insertInto('alert_notifications')
        .values({
          id: notification.id,
          alert_id: notification.alertId,
          kind: notification.kind,
          status: notification.status,
          severity: notification.severity,
          created_at: notification.createdAt.getTime(),
        })
        .execute();
    },
    async countNotifications(kind, status, since) {
      const row = await db
        .selectFrom('alert_notifications')
        .select((eb) => eb.fn.countAll().as('count'))
        .where('kind', '=', kind)
        .where('status', '=', status)
        .where('created_at', '>=', since.getTime())
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
    async lastSummaryAt() {
      const row = await db
        .selectFrom('alert_notifications')
        .select((eb) => eb.fn.max('created_at').as('at'))
        .where('kind', '=', 'suppressed_summary')
        .executeTakeFirst();
      return toDateOrNull(row?.at ?? null);
    },
    async listSuppressed(limit) {
      const rows = await db.selectFrom('alert_notifications').selectAll().where('status', '=', 'suppressed').orderBy('created_at').orderBy('id').limit(limit).execute();
      return rows.map(toNotification);
    },
    async markSummarised(ids) {
      if (ids.length === 0) return 0;
      const result = await db.updateTable('alert_notifications').set({ status: 'summarised' }).where('id', 'in', [...ids]).where('status', '=', 'suppressed').executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async enqueueDeliveries(deliveries) {
      if (deliveries.length === 0) return;
      await db
        .insertInto('alert_deliveries')
        .values(
          deliveries.map((delivery) => ({
            id: delivery.id,
            notification_id: delivery.notificationId,
            alert_id: delivery.alertId,
            target: delivery.target,
            payload: delivery.payload,
            status: 'pending' as const,
            attempts: 0,
            created_at: delivery.createdAt.getTime(),
            available_at: delivery.availableAt.getTime(),
            lease_until: null,
            delivered_at: null,
            last_error: null,
          })),
        )
        .execute();
    },
    /** Each lease counts as an attempt, so a delivery whose worker keeps crashing still runs out of attempts. */
    async claimDueDeliveries(now, leaseUntil, limit) {
      const at = now.getTime();
      let due = db
        .selectFrom('alert_deliveries')
        .select('id')
        .where((eb) => eb.or([eb.and([eb('status', '=', 'pending'), eb('available_at', '<=', at)]), eb.and([eb('status', '=', 'sending'), eb('lease_until', '<=', at)])]))
        .orderBy('available_at')
        .orderBy('created_at')
        .limit(limit);
      // PostgreSQL: rows another worker is leasing are skipped; SQLite: the one UPDATE is its own write transaction.
      if (engine === 'postgres') due = due.forUpdate().skipLocked();
      const rows = await db
        .updateTable('alert_deliveries')
        .set((eb) => ({ status: 'sending', lease_until: leaseUntil.getTime(), attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', due)
        .returningAll()
        .execute();
      return rows.sort((a, b) => a.available_at - b.available_at || a.created_at - b.created_at || (a.id < b.id ? -1 : 1)).map(toDelivery);
    },
    async markDeliveryDelivered(id, now) {
      await db.updateTable('alert_deliveries').set({ status: 'delivered', delivered_at: now.getTime(), lease_until: null, last_error: null }).where('id', '=', id).execute();
    },
    async markDeliveryFailed(id, error, retryAt) {
      await db
        .updateTable('alert_deliveries')
        .set(retryAt === null ? { status: 'dead', lease_until: null, last_error: error } : { status: 'pending', available_at: retryAt.getTime(), lease_until: null, last_error: error })
        .where('id', '=', id)
        .execute();
    },
    async listDeliveries(query) {
      let select = db.selectFrom('alert_deliveries').selectAll();
      if (query.alertId) select = select.where('alert_id', '=', query.alertId);
      if (query.status) select = select.where('status', '=', query.status);
      const rows = await select.orderBy('created_at').orderBy('id').limit(query.limit).execute();
      return rows.map(toDelivery);
    },
  };
}
