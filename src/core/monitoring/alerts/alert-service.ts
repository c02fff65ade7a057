import { asAccountId } from '../../account/ids.ts';
import type { AppDeps } from '../../app/deps.ts';
import type { AuditEventInput } from '../../audit/events.ts';
import { DomainError } from '../../errors.ts';
import { enqueueMessage } from '../../notifications/outbox.ts';
import { DuplicateError, type AlertQuery, type Repositories } from '../../ports/store.ts';
import type { Finding } from '../finding.ts';
import type { FindingSink } from '../finding-sink.ts';
import { applyFinding, transitionAlert, type AlertCommand, type AlertRecord } from './alert.ts';
import { alertView, notificationText, notificationTitle, oneLine, sanitiseFinding, type AlertNotification, type SuppressedEntry } from './notification.ts';
import { decideNotification, GLOBAL_WINDOW_SECONDS, shouldSummarise, type NotificationReason, type ThrottleSettings } from './throttle.ts';

/** Where and how often alerts notify people; read on every raise so a reload applies at once. */
export interface AlertSettings {
  readonly throttle: ThrottleSettings;
  /** E-mail recipients: notifications go through the outbox (dev outbox, or SMTP when configured). */
  readonly emailRecipients: readonly string[];
  /** Names of the asynchronous targets (`webhook:<name>`, `syslog`): one queued delivery each. */
  readonly targets: readonly string[];
}

/** Who changes an alert's status: a console admin (id: the account) or an admin token over the API, or the CLI. */
export interface AlertActor {
  readonly kind: 'admin' | 'admin_token' | 'cli';
  readonly id: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/** An alert as the admin API shows it: the subject's username only for a caller allowed to read accounts. */
export type AlertDetail = ReturnType<typeof alertView> & {
  readonly subjectUsername?: string | null;
  readonly acknowledged: { readonly at: string; readonly by: string; readonly reason: string } | null;
  readonly resolved: { readonly at: string; readonly by: string; readonly reason: string } | null;
};

class AlertConflict extends Error {
  override readonly name = 'AlertConflict';
}

const SYSTEM_ACTOR = { kind: 'system' as const, id: 'alert-service' };
const RAISE_ATTEMPTS = 5;

/**
 * Stores, deduplicates, throttles and dispatches alerts; the FindingSink detectors raise into.
 *
 * Each finding is one transaction: the alert is created or updated, the throttle decides with the
 * notification counts read in that transaction, and the notification is queued (e-mail in the
 * outbox, webhooks and syslog in the alert delivery queue) together with the audit events. Delivery
 * happens after commit in workers, so a slow webhook never blocks a detector. When two processes
 * raise the same key at once, the database lets one create the alert and the other retries as a
 * repeat.
 */
export class AlertService implements FindingSink {
  constructor(
    private readonly deps: AppDeps,
    private readonly settings: () => AlertSettings,
  ) {}

  async raise(raw: Finding): Promise<void> {
    const finding = sanitiseFinding(raw);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.store.transaction((tx) => this.raiseIn(tx, finding));
        return;
      } catch (error) {
        const contended = error instanceof DuplicateError || error instanceof AlertConflict;
        if (!contended || attempt >= RAISE_ATTEMPTS) throw error;
      }
    }
  }

  private async raiseIn(tx: Repositories, finding: Finding): Promise<void> {
    const { clock, random } = this.deps;
    const settings = this.settings();
    const now = clock.now();
    const active = await tx.alerts.findActive(finding.dedupeKey);
    const previous = active === null ? await tx.alerts.latestResolved(finding.dedupeKey) : null;
    const { alert, effect } = applyFinding(active, finding, now, () => random.uuid(), previous);
    await tx.alerts.lockThrottle();
    const sentInWindow = await tx.alerts.countNotifications('alert', 'sent', new Date(now.getTime() - GLOBAL_WINDOW_SECONDS * 1000));
    const decision = decideNotification(alert, effect, sentInWindow, now, settings.throttle);
    const stored: AlertRecord = decision.kind === 'notify' ? { ...alert, lastNotifiedAt: now, notifiedSeverity: alert.severity } : alert;
    if (active === null) await tx.alerts.insert(stored);
    else if (!(await tx.alerts.update(stored, active.version))) throw new AlertConflict('the alert changed meanwhile');

    const base = this.auditBase(stored, now);
    const events: AuditEventInput[] = [];
    if (effect === 'raised') {
      events.push({ ...base, type: 'alert.raised', data: { alert_id: stored.id, detector: stored.detectorId, severity: stored.severity, dedupe_key: stored.dedupeKey, recurrence_of: stored.recurrenceOf, notification: decision.kind } });
    } else if (effect === 'escalated' && active !== null) {
      events.push({ ...base, type: 'alert.escalated', data: { alert_id: stored.id, detector: stored.detectorId, severity: stored.severity, previous_severity: active.severity, occurrences: stored.occurrences, notification: decision.kind } });
    }
    if (decision.kind === 'notify') {
      events.push(...(await this.notify(tx, stored, decision.reason, now)));
    } else if (decision.kind === 'suppressed') {
      await tx.alerts.recordNotification({ id: random.uuid(), alertId: stored.id, kind: 'alert', status: 'suppressed', severity: stored.severity, createdAt: now });
      events.push({ ...base, type: 'alert.suppressed', data: { alert_id: stored.id, severity: stored.severity, notification_reason: decision.reason } });
    }
    if (events.length > 0) await tx.audit.append(events);
  }

  private auditBase(alert: AlertRecord, now: Date): Omit<AuditEventInput, 'type' | 'data'> {
    return { at: now, actor: SYSTEM_ACTOR, subject: alert.subject, outcome: 'info', reason: null, ip: alert.ip, userAgent: null, department: alert.department, tier: null, flowId: null };
  }

  private async notify(tx: Repositories, alert: AlertRecord, reason: NotificationReason, now: Date): Promise<AuditEventInput[]> {
    const id = this.deps.random.uuid();
    await tx.alerts.recordNotification({ id, alertId: alert.id, kind: 'alert', status: 'sent', severity: alert.severity, createdAt: now });
    return this.dispatch(tx, { kind: 'alert', id, at: now.toISOString(), reason, alert: alertView(alert) }, alert.id, now);
  }

  /** Queues one notification for every configured recipient and target; returns the audit events of the e-mails. */
  private async dispatch(tx: Repositories, notification: AlertNotification, alertId: string | null, now: Date): Promise<AuditEventInput[]> {
    const { random, cipher } = this.deps;
    const settings = this.settings();
    const events: AuditEventInput[] = [];
    const subject = notificationTitle(notification);
    const text = notificationText(notification);
    // The outbox's message events carry no subject: a notification about an account is not activity of that account.
    const messageAudit = { at: now, actor: SYSTEM_ACTOR, subject: null, ip: null, userAgent: null, department: null, tier: null, flowId: null };
    for (const to of settings.emailRecipients) {
      events.push(await enqueueMessage(tx, { random, cipher }, { channel: 'email', to, subject, text, purpose: 'security_alert' }, null, now, messageAudit));
    }
    const payload = JSON.stringify(notification);
    await tx.alerts.enqueueDeliveries(settings.targets.map((target) => ({ id: random.uuid(), notificationId: notification.id, alertId, target, payload, createdAt: now, availableAt: now })));
    return events;
  }

  /**
   * Sends one summary of the notifications the global cap held back, when there are some and no
   * summary went out in the last minute; the workers call it on every tick. True if it sent one.
   */
  async flushSuppressed(): Promise<boolean> {
    const { store, clock, random } = this.deps;
    return store.transaction(async (tx) => {
      const now = clock.now();
      const suppressed = await tx.alerts.listSuppressed(1000);
      if (!shouldSummarise(suppressed.length, await tx.alerts.lastSummaryAt(), now)) return false;
      // A concurrent summariser that got there first leaves nothing for this one.
      if ((await tx.alerts.markSummarised(suppressed.map((entry) => entry.id))) !== suppressed.length) throw new AlertConflict('summarised concurrently');
      const counts = new Map<string, number>();
      for (const entry of suppressed) if (entry.alertId) counts.set(entry.alertId, (counts.get(entry.alertId) ?? 0) + 1);
      const alerts: SuppressedEntry[] = [];
      for (const [alertId, count] of [...counts.entries()].slice(0, 20)) {
        const alert = await tx.alerts.get(alertId);
        if (alert) alerts.push({ alertId, severity: alert.severity, summary: alert.summary, count });
      }
      const id = random.uuid();
      await tx.alerts.recordNotification({ id, alertId: null, kind: 'suppressed_summary', status: 'sent', severity: null, createdAt: now });
      const since = suppressed[0]?.createdAt ?? now;
      const notification: AlertNotification = { kind: 'suppressed_summary', id, at: now.toISOString(), suppressed: { count: suppressed.length, since: since.toISOString(), until: now.toISOString(), alerts } };
      const events = await this.dispatch(tx, notification, null, now);
      if (events.length > 0) await tx.audit.append(events);
      return true;
    }).catch((error: unknown) => {
      if (error instanceof AlertConflict) return false;
      throw error;
    });
  }

  acknowledge(id: string, reason: string, actor: AlertActor): Promise<AlertDetail> {
    return this.transition(id, 'acknowledge', reason, actor);
  }

  resolve(id: string, reason: string, actor: AlertActor): Promise<AlertDetail> {
    return this.transition(id, 'resolve', reason, actor);
  }

  private async transition(id: string, kind: AlertCommand['kind'], rawReason: string, actor: AlertActor): Promise<AlertDetail> {
    const reason = oneLine(rawReason.trim(), 500);
    if (reason === '') throw new DomainError('request.invalid', 'reason: say why, in a few words.');
    const by = `${actor.kind === 'admin_token' ? 'token' : actor.kind}:${actor.id ?? 'unknown'}`;
    for (let attempt = 1; ; attempt += 1) {
      const result = await this.deps.store.transaction(async (tx) => {
        const alert = await tx.alerts.get(id);
        if (!alert) throw new DomainError('alert.not_found');
        const now = this.deps.clock.now();
        const next = transitionAlert(alert, { kind, at: now, by, reason });
        if (!next.ok) throw new DomainError('alert.wrong_status', next.reason, { alertStatus: alert.status });
        if (!(await tx.alerts.update(next.alert, alert.version))) return null;
        await tx.audit.append([
          {
            at: now,
            actor: { kind: actor.kind, id: actor.id },
            type: kind === 'acknowledge' ? 'alert.acknowledged' : 'alert.resolved',
            subject: alert.subject,
            outcome: 'success',
            reason: null,
            ip: actor.ip,
            userAgent: actor.userAgent,
            department: alert.department,
            tier: null,
            flowId: null,
            data: { alert_id: alert.id, reason_text: reason },
          },
        ]);
        return { ...next.alert, version: alert.version + 1 };
      });
      // A raise updated the alert between our read and write: read it again and decide afresh.
      if (result !== null) return this.detail(result, false);
      if (attempt >= RAISE_ATTEMPTS) throw new DomainError('alert.wrong_status', 'The alert kept changing; try again.');
    }
  }

  /** Lists alerts for an admin (the read is audited); usernames only when `withUsernames`. */
  async list(actor: AlertActor, query: AlertQuery, withUsernames: boolean): Promise<AlertDetail[]> {
    const alerts = await this.deps.store.alerts.list(query);
    await this.recordRead(actor, { count: alerts.length });
    return Promise.all(alerts.map((alert) => this.detail(alert, withUsernames)));
  }

  async get(actor: AlertActor, id: string, withUsernames: boolean): Promise<AlertDetail> {
    const alert = await this.deps.store.alerts.get(id);
    if (!alert) throw new DomainError('alert.not_found');
    await this.recordRead(actor, { alert_id: alert.id });
    return this.detail(alert, withUsernames);
  }

  private async recordRead(actor: AlertActor, data: Readonly<Record<string, string | number>>): Promise<void> {
    const now = this.deps.clock.now();
    await this.deps.store.transaction((tx) =>
      tx.audit.append([{ type: 'admin.alerts_queried', at: now, actor: { kind: actor.kind, id: actor.id }, subject: null, outcome: 'success', reason: null, ip: actor.ip, userAgent: actor.userAgent, department: null, tier: null, flowId: null, data }]),
    );
  }

  private async detail(alert: AlertRecord, withUsernames: boolean): Promise<AlertDetail> {
    const transition = (value: AlertRecord['acknowledged']) => (value === null ? null : { at: value.at.toISOString(), by: value.by, reason: value.reason });
    const detail = { ...alertView(alert), acknowledged: transition(alert.acknowledged), resolved: transition(alert.resolved) };
    if (!withUsernames) return detail;
    const account = alert.subject === null ? null : await this.deps.directory.getAccount(asAccountId(alert.subject));
    return { ...detail, subjectUsername: account?.username ?? null };
  }
}
