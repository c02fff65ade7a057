import { describe, expect, it } from 'vitest';
import { asAccountId } from '../../src/core/account/ids.ts';
import { isAlertEvent } from '../../src/core/audit/events.ts';
import type { AlertSeverity, Finding } from '../../src/core/monitoring/finding.ts';
import { applyFinding, MAX_ALERT_EVENT_IDS, transitionAlert, type AlertRecord, type AlertCommand } from '../../src/core/monitoring/alerts/alert.ts';
import { decideNotification, shouldSummarise, type NotificationDecision, type ThrottleSettings } from '../../src/core/monitoring/alerts/throttle.ts';
import { alertView, notificationText, notificationTitle, sanitiseFinding } from '../../src/core/monitoring/alerts/notification.ts';

/*
 * The pure core of alerting: dedupe (applyFinding), throttle (decideNotification) and the status
 * machine (transitionAlert), driven by an injected clock so that windows are crossed without waiting.
 */

class ManualClock {
  private ms = Date.parse('2026-03-02T09:00:00Z');
  now(): Date {
    return new Date(this.ms);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

const finding = (overrides: Partial<Finding> = {}): Finding => ({
  detectorId: 'repeated_failures',
  severity: 'high',
  dedupeKey: 'repeated_failures:ip:203.0.113.9',
  summary: '12 failed gates from one address within 15 minutes',
  subject: null,
  ip: '203.0.113.9',
  department: null,
  observed: { failures: 12, window_minutes: 15 },
  baseline: 'threshold 10 per 15 minutes',
  eventIds: ['e1', 'e2'],
  at: new Date('2026-03-02T09:00:00Z'),
  ...overrides,
});

const SETTINGS: ThrottleSettings = { perKeyWindowSeconds: 900, globalPerMinute: 3 };

/**
 * A tiny in-memory alert service over the pure functions: one active alert per key, notifications
 * recorded with their time so the global window can be counted. It mirrors what AlertService does in
 * one transaction, so the sequences below exercise exactly the decisions the service makes.
 */
function simulator(clock: ManualClock, settings = SETTINGS) {
  const active = new Map<string, AlertRecord>();
  const sent: Date[] = [];
  let ids = 0;
  return {
    raise(input: Finding): { alert: AlertRecord; decision: NotificationDecision } {
      const now = clock.now();
      const { alert, effect } = applyFinding(active.get(input.dedupeKey) ?? null, { ...input, at: now }, now, () => `alert-${(ids += 1)}`);
      const inWindow = sent.filter((at) => now.getTime() - at.getTime() < 60_000).length;
      const decision = decideNotification(alert, effect, inWindow, now, settings);
      const stored = decision.kind === 'notify' ? { ...alert, lastNotifiedAt: now, notifiedSeverity: alert.severity } : alert;
      if (decision.kind === 'notify') sent.push(now);
      active.set(input.dedupeKey, stored);
      return { alert: stored, decision };
    },
    set(alert: AlertRecord): void {
      active.set(alert.dedupeKey, alert);
    },
  };
}

describe('deduplication', () => {
  it('folds repeats of one key into one alert: count, last seen, newest facts, evidence appended without duplicates', () => {
    const clock = new ManualClock();
    const sim = simulator(clock);
    const first = sim.raise(finding()).alert;
    clock.advance(120);
    const second = sim.raise(finding({ eventIds: ['e2', 'e3'], observed: { failures: 19, window_minutes: 15 }, summary: '19 failed gates from one address within 15 minutes' })).alert;

    expect(second.id).toBe(first.id);
    expect(second.occurrences).toBe(2);
    expect(second.firstSeenAt).toEqual(first.firstSeenAt);
    expect(second.lastSeenAt.getTime() - first.firstSeenAt.getTime()).toBe(120_000);
    expect(second.eventIds).toEqual(['e1', 'e2', 'e3']);
    expect(second.observed).toEqual({ failures: 19, window_minutes: 15 });
    expect(second.summary).toContain('19 failed gates');
  });

  it('keeps different keys apart', () => {
    const sim = simulator(new ManualClock());
    const a = sim.raise(finding()).alert;
    const b = sim.raise(finding({ dedupeKey: 'repeated_failures:ip:198.51.100.7', ip: '198.51.100.7' })).alert;
    expect(b.id).not.toBe(a.id);
    expect(b.occurrences).toBe(1);
  });

  it(`bounds the evidence at ${MAX_ALERT_EVENT_IDS} event ids, dropping the oldest`, () => {
    const clock = new ManualClock();
    let alert: AlertRecord | null = null;
    for (let batch = 0; batch < 6; batch += 1) {
      const eventIds = Array.from({ length: 50 }, (_, index) => `event-${batch * 50 + index}`);
      alert = applyFinding(alert, finding({ eventIds }), clock.now(), () => 'alert-1').alert;
    }
    expect(alert?.eventIds).toHaveLength(MAX_ALERT_EVENT_IDS);
    expect(alert?.eventIds[0]).toBe('event-100');
    expect(alert?.eventIds.at(-1)).toBe('event-299');
    expect(alert?.occurrences).toBe(6);
  });

  it('keeps the highest severity seen and reports a rise as an escalation', () => {
    const now = new ManualClock().now();
    const high = applyFinding(null, finding({ severity: 'high' }), now, () => 'a').alert;
    expect(applyFinding(high, finding({ severity: 'medium' }), now, () => 'b')).toMatchObject({ effect: 'repeated', alert: { severity: 'high' } });
    expect(applyFinding(high, finding({ severity: 'critical' }), now, () => 'b')).toMatchObject({ effect: 'escalated', alert: { severity: 'critical', id: 'a' } });
  });

  it('raises a new alert linked to the resolved one when a resolved key recurs', () => {
    const now = new ManualClock().now();
    const recurrence = applyFinding(null, finding(), now, () => 'new-alert', { id: 'old-alert' });
    expect(recurrence).toMatchObject({ effect: 'raised', alert: { id: 'new-alert', recurrenceOf: 'old-alert', occurrences: 1, status: 'open' } });
  });

  it('never dates an alert in the future of the server clock', () => {
    const now = new ManualClock().now();
    const alert = applyFinding(null, finding({ at: new Date(now.getTime() + 3_600_000) }), now, () => 'a').alert;
    expect(alert.lastSeenAt).toEqual(now);
  });
});

describe('throttling', () => {
  it('notifies a new alert, stays quiet on repeats within the per-key window, and notifies again once it has passed', () => {
    const clock = new ManualClock();
    const sim = simulator(clock);
    expect(sim.raise(finding()).decision).toEqual({ kind: 'notify', reason: 'raised' });
    clock.advance(60);
    expect(sim.raise(finding()).decision).toEqual({ kind: 'throttled' });
    clock.advance(839); // 899 s after the notification: still inside the 900 s window
    expect(sim.raise(finding()).decision).toEqual({ kind: 'throttled' });
    clock.advance(1);
    expect(sim.raise(finding()).decision).toEqual({ kind: 'notify', reason: 'repeated' });
    clock.advance(1);
    expect(sim.raise(finding()).decision).toEqual({ kind: 'throttled' });
  });

  it('notifies an escalation at once, inside the per-key window', () => {
    const clock = new ManualClock();
    const sim = simulator(clock);
    sim.raise(finding({ severity: 'high' }));
    clock.advance(10);
    const escalated = sim.raise(finding({ severity: 'critical' }));
    expect(escalated.decision).toEqual({ kind: 'notify', reason: 'escalated' });
    expect(escalated.alert.notifiedSeverity).toBe('critical');
    clock.advance(10);
    expect(sim.raise(finding({ severity: 'critical' })).decision).toEqual({ kind: 'throttled' });
  });

  it('stays quiet on repeats of an acknowledged alert, but not on its escalation', () => {
    const clock = new ManualClock();
    const sim = simulator(clock);
    const raised = sim.raise(finding({ severity: 'medium' })).alert;
    const acknowledged = transitionAlert(raised, { kind: 'acknowledge', at: clock.now(), by: 'token:t1', reason: 'looking into it' });
    if (!acknowledged.ok) throw new Error('refused');
    sim.set(acknowledged.alert);
    clock.advance(3600);
    expect(sim.raise(finding({ severity: 'medium' })).decision).toEqual({ kind: 'throttled' });
    expect(sim.raise(finding({ severity: 'high' })).decision).toEqual({ kind: 'notify', reason: 'escalated' });
  });

  it('caps notifications across keys per minute, suppressing the rest until the window slides', () => {
    const clock = new ManualClock();
    const sim = simulator(clock);
    const decisions = Array.from({ length: 5 }, (_, index) => sim.raise(finding({ dedupeKey: `reset_spray:ip:192.0.2.${index}` })).decision.kind);
    expect(decisions).toEqual(['notify', 'notify', 'notify', 'suppressed', 'suppressed']);
    clock.advance(59);
    expect(sim.raise(finding({ dedupeKey: 'reset_spray:ip:192.0.2.50' })).decision).toEqual({ kind: 'suppressed', reason: 'raised' });
    clock.advance(1);
    expect(sim.raise(finding({ dedupeKey: 'reset_spray:ip:192.0.2.51' })).decision).toEqual({ kind: 'notify', reason: 'raised' });
  });

  it('summarises suppressed notifications at most once a minute, and only when there are some', () => {
    const now = new ManualClock().now();
    expect(shouldSummarise(0, null, now)).toBe(false);
    expect(shouldSummarise(4, null, now)).toBe(true);
    expect(shouldSummarise(4, new Date(now.getTime() - 59_000), now)).toBe(false);
    expect(shouldSummarise(4, new Date(now.getTime() - 60_000), now)).toBe(true);
  });
});

describe('the status machine', () => {
  const base = applyFinding(null, finding(), new Date('2026-03-02T09:00:00Z'), () => 'alert-1').alert;
  const at = new Date('2026-03-02T10:00:00Z');
  const command = (kind: AlertCommand['kind']): AlertCommand => ({ kind, at, by: 'token:t1', reason: `${kind} because` });
  const acknowledged = { ...base, status: 'acknowledged' as const, acknowledged: { at, by: 'token:t0', reason: 'on it' } };
  const resolved = { ...base, status: 'resolved' as const, resolved: { at, by: 'token:t0', reason: 'fixed' } };

  it.each([
    ['open', 'acknowledge', base, 'acknowledged'],
    ['open', 'resolve', base, 'resolved'],
    ['acknowledged', 'resolve', acknowledged, 'resolved'],
  ] as const)('allows %s → %s', (_from, kind, alert, to) => {
    const result = transitionAlert(alert, command(kind));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.alert.status).toBe(to);
    const transition = kind === 'acknowledge' ? result.alert.acknowledged : result.alert.resolved;
    expect(transition).toEqual({ at, by: 'token:t1', reason: `${kind} because` });
  });

  it('keeps who acknowledged an alert, and why, when it is resolved', () => {
    const result = transitionAlert(acknowledged, command('resolve'));
    expect(result.ok && result.alert.acknowledged).toEqual({ at, by: 'token:t0', reason: 'on it' });
  });

  it.each([
    ['acknowledged', 'acknowledge', acknowledged, /already acknowledged/],
    ['resolved', 'acknowledge', resolved, /already resolved/],
    ['resolved', 'resolve', resolved, /already resolved/],
  ] as const)('refuses %s → %s with the reason', (_from, kind, alert, reason) => {
    const result = transitionAlert(alert, command(kind));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('what an alert may carry', () => {
  it('masks full phone numbers, drops facts named like secrets and strips line breaks before anything is stored or sent', () => {
    const clean = sanitiseFinding(
      finding({
        summary: 'Recovery by SMS to +447700900123 right after the number changed\r\nInjected: line',
        dedupeKey: 'recent_method_change:+447700900123',
        observed: { new_phone: '+447700900123', reset_token: 'abc', one_time_password: '12345678', gates: 2 },
        baseline: 'phone changed 3 minutes before, number +15551234567',
      }),
    );
    const everything = JSON.stringify(clean);
    expect(everything).not.toContain('447700900123');
    expect(everything).not.toContain('5551234567');
    expect(everything).not.toContain('abc');
    expect(everything).not.toContain('12345678');
    expect(clean.summary).toBe('Recovery by SMS to +44•••••••23 right after the number changed Injected: line');
    expect(clean.observed).toEqual({ new_phone: '+44•••••••23', reset_token: '[redacted]', one_time_password: '[redacted]', gates: 2 });
  });

  it('renders an e-mail title and text that explain the alert without reading code', () => {
    const alert = applyFinding(null, finding({ subject: asAccountId('builtin:00000000-0000-4000-8000-000000000001') }), new Date('2026-03-02T09:00:00Z'), () => 'alert-1').alert;
    const notification = { kind: 'alert' as const, id: 'n1', at: '2026-03-02T09:00:00.000Z', reason: 'raised' as const, alert: alertView(alert) };
    expect(notificationTitle(notification)).toBe('[Latchkey] high: 12 failed gates from one address within 15 minutes');
    const text = notificationText(notification);
    expect(text).toContain('Observed:\n  failures: 12\n  window_minutes: 15');
    expect(text).toContain('Baseline: threshold 10 per 15 minutes');
    expect(text).toContain('Account: builtin:00000000-0000-4000-8000-000000000001');
    expect(text).toContain('Evidence: 2 audit event(s), newest e2.');
  });

  it('marks alert events so detectors skip them and an alert never feeds its own detectors', () => {
    expect(isAlertEvent('alert.raised')).toBe(true);
    expect(isAlertEvent('alert.delivery_failed')).toBe(true);
    expect(isAlertEvent('admin.alerts_queried')).toBe(true);
    expect(isAlertEvent('challenge.failed')).toBe(false);
  });
});

const severities: AlertSeverity[] = ['low', 'medium', 'high', 'critical'];
describe('severity order', () => {
  it.each(severities.slice(1).map((severity, index) => [severities[index] as AlertSeverity, severity]))('%s → %s is an escalation', (from, to) => {
    const now = new Date();
    const alert = applyFinding(null, finding({ severity: from }), now, () => 'a').alert;
    expect(applyFinding(alert, finding({ severity: to }), now, () => 'b').effect).toBe('escalated');
  });
});
