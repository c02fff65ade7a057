import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFinding, type AlertRecord } from '../../src/core/monitoring/alerts/alert.ts';
import { DuplicateError, type Store } from '../../src/core/ports/store.ts';
import { ENGINES, startHarness, type Harness } from '../support/harness.ts';

/* The atomicity the AlertRepository port promises, on SQLite and PostgreSQL. */

const newAlert = (dedupeKey: string, now = new Date()): AlertRecord =>
  applyFinding(
    null,
    { detectorId: 'reset_spray', severity: 'medium', dedupeKey, summary: 's', subject: null, ip: null, department: null, observed: {}, baseline: null, eventIds: [], at: now },
    now,
    () => randomUUID(),
  ).alert;

describe.each(ENGINES)('alert repository on %s', (engine) => {
  let h: Harness;
  let store: Store;
  beforeAll(async () => {
    h = await startHarness({ engine });
    store = h.latchkey.store;
  });
  afterAll(async () => {
    await h.close();
  });

  it('allows one active alert per key, and a new one once the old is resolved', async () => {
    const first = newAlert('k:active');
    await store.alerts.insert(first);
    await expect(store.alerts.insert(newAlert('k:active'))).rejects.toBeInstanceOf(DuplicateError);
    const resolved: AlertRecord = { ...first, status: 'resolved', resolved: { at: new Date(), by: 'cli:test', reason: 'done' } };
    expect(await store.alerts.update(resolved, first.version)).toBe(true);
    expect(await store.alerts.findActive('k:active')).toBeNull();
    expect((await store.alerts.latestResolved('k:active'))?.id).toBe(first.id);
    const second = newAlert('k:active');
    await store.alerts.insert(second);
    expect((await store.alerts.findActive('k:active'))?.id).toBe(second.id);
  });

  it('updates only from the version that was read', async () => {
    const alert = newAlert('k:cas');
    await store.alerts.insert(alert);
    expect(await store.alerts.update({ ...alert, occurrences: 2 }, 0)).toBe(true);
    expect(await store.alerts.update({ ...alert, occurrences: 99 }, 0)).toBe(false);
    expect(await store.alerts.get(alert.id)).toMatchObject({ occurrences: 2, version: 1 });
  });

  it('never leases one delivery to two concurrent claimers, and takes back a lease that ran out', async () => {
    const now = new Date();
    const notificationId = randomUUID();
    await store.alerts.enqueueDeliveries(Array.from({ length: 20 }, () => ({ id: randomUUID(), notificationId, alertId: null, target: 'webhook:soc', payload: '{}', createdAt: now, availableAt: now })));
    const lease = new Date(now.getTime() + 60_000);
    const [a, b] = await Promise.all([store.alerts.claimDueDeliveries(now, lease, 15), store.alerts.claimDueDeliveries(now, lease, 15)]);
    const ids = [...(a ?? []), ...(b ?? [])].map((delivery) => delivery.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
    expect(await store.alerts.claimDueDeliveries(now, lease, 50)).toEqual([]);
    const later = new Date(lease.getTime() + 1);
    const reclaimed = await store.alerts.claimDueDeliveries(later, new Date(later.getTime() + 60_000), 50);
    expect(reclaimed).toHaveLength(20);
    expect(reclaimed.every((delivery) => delivery.attempts === 2 && delivery.status === 'sending')).toBe(true);
  });

  it('lets exactly one summariser take a set of suppressed notifications', async () => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) await store.alerts.recordNotification({ id, alertId: null, kind: 'alert', status: 'suppressed', severity: 'low', createdAt: new Date() });
    const results = await Promise.all([store.alerts.markSummarised(ids), store.alerts.markSummarised(ids)]);
    expect(results.sort()).toEqual([0, 2]);
    expect(await store.alerts.listSuppressed(10)).toEqual([]);
  });
});
