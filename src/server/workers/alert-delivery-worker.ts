import { DrainingWorker } from './draining-worker.ts';
import type { AuditEventInput } from '../../core/audit/events.ts';
import type { AlertDeliverer } from '../../core/monitoring/alerts/alert-deliverer.ts';
import type { AlertService } from '../../core/monitoring/alerts/alert-service.ts';
import type { AlertNotification } from '../../core/monitoring/alerts/notification.ts';
import { PermanentDeliveryError } from '../../core/ports/message-channel.ts';
import type { AlertDeliveryRecord, Repositories, Store } from '../../core/ports/store.ts';
import type { Clock } from '../../core/ports/system.ts';
import { retryDelayMs } from './outbox-worker.ts';

export interface AlertDeliveryWorkerOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly alerts: AlertService;
  readonly deliverers: ReadonlyMap<string, AlertDeliverer>;
  readonly maxAttempts: number;
  readonly pollIntervalMs: number;
  readonly batchSize?: number;
  /** How long a leased delivery is ours before another worker may take it over after a crash. */
  readonly leaseSeconds?: number;
}

const WORKER_ACTOR = { kind: 'system' as const, id: 'alert-delivery-worker' };

/**
 * Delivers queued alert notifications to webhooks and syslog after their transaction committed,
 * with retries and exponential backoff (the outbox's schedule); e-mail goes through the outbox and
 * its worker. Each tick also sends the summary of notifications the global cap suppressed. Leases
 * make it safe to run in every instance, and every outcome is audited: `alert.delivered`, or
 * `alert.delivery_failed` with `delivery.retrying` / `delivery.abandoned`.
 */
export class AlertDeliveryWorker extends DrainingWorker {
  constructor(private readonly options: AlertDeliveryWorkerOptions) {
    super(options.pollIntervalMs);
  }

  protected async drainAll(): Promise<number> {
    await this.options.alerts.flushSuppressed();
    let total = 0;
    for (;;) {
      const now = this.options.clock.now();
      const batch = await this.options.store.alerts.claimDueDeliveries(now, new Date(now.getTime() + (this.options.leaseSeconds ?? 60) * 1000), this.options.batchSize ?? 20);
      if (batch.length === 0) return total;
      total += batch.length;
      // Targets are attempted side by side, so one slow webhook delays no other target beyond its own timeout.
      await Promise.all(batch.map((delivery) => this.attempt(delivery)));
    }
  }

  private async attempt(delivery: AlertDeliveryRecord): Promise<void> {
    const { store, clock, deliverers, maxAttempts } = this.options;
    const data = { delivery_id: delivery.id, notification_id: delivery.notificationId, alert_id: delivery.alertId, target: delivery.target, attempts: delivery.attempts };
    const base = { actor: WORKER_ACTOR, subject: null, ip: null, userAgent: null, department: null, tier: null, flowId: null };
    let event: AuditEventInput;
    let write: (tx: Repositories) => Promise<void>;
    try {
      const deliverer = deliverers.get(delivery.target);
      if (!deliverer) throw new PermanentDeliveryError(`${delivery.target}: no longer configured`);
      await deliverer.deliver(JSON.parse(delivery.payload) as AlertNotification, delivery.id);
      const now = clock.now();
      event = { ...base, at: now, type: 'alert.delivered', outcome: 'success', reason: null, data };
      write = (tx) => tx.alerts.markDeliveryDelivered(delivery.id, now);
    } catch (error) {
      const permanent = error instanceof PermanentDeliveryError;
      const giveUp = permanent || delivery.attempts >= maxAttempts;
      const message = error instanceof Error ? error.message.slice(0, 200) : 'delivery failed';
      const now = clock.now();
      event = { ...base, at: now, type: 'alert.delivery_failed', outcome: 'failure', reason: giveUp ? 'delivery.abandoned' : 'delivery.retrying', data: { ...data, permanent, error: message } };
      write = (tx) => tx.alerts.markDeliveryFailed(delivery.id, message, giveUp ? null : new Date(now.getTime() + retryDelayMs(delivery.attempts)));
    }
    // At-least-once: marked delivered only after the send succeeded; if this write fails the lease
    // runs out and the delivery is sent again (the receiver can drop it by X-Latchkey-Delivery).
    await store.transaction(async (tx) => {
      await write(tx);
      await tx.audit.append([event]);
    });
  }
}
