import { maskPhone } from '../../account/masking.ts';
import type { AlertSeverity, Finding } from '../finding.ts';
import type { AlertRecord, AlertStatus } from './alert.ts';
import type { NotificationReason } from './throttle.ts';

/** An alert as it leaves Latchkey (webhook, syslog, email, API): JSON-ready, nothing secret. */
export interface AlertView {
  readonly id: string;
  readonly detectorId: string;
  readonly dedupeKey: string;
  readonly severity: AlertSeverity;
  readonly status: AlertStatus;
  readonly summary: string;
  /** The account id only (an opaque id such as `builtin:…`), never a name or an address. */
  readonly subject: string | null;
  readonly ip: string | null;
  readonly department: string | null;
  readonly observed: Readonly<Record<string, string | number | boolean | null>>;
  readonly baseline: string | null;
  readonly eventIds: readonly string[];
  readonly occurrences: number;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly recurrenceOf: string | null;
}

export interface SuppressedEntry {
  readonly alertId: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  readonly count: number;
}

/** What one notification says; stored with each queued delivery so retries send the same thing. */
export type AlertNotification =
  | { readonly kind: 'alert'; readonly id: string; readonly at: string; readonly reason: NotificationReason; readonly alert: AlertView }
  | {
      readonly kind: 'suppressed_summary';
      readonly id: string;
      readonly at: string;
      readonly suppressed: { readonly count: number; readonly since: string; readonly until: string; readonly alerts: readonly SuppressedEntry[] };
    };

export function alertView(alert: AlertRecord): AlertView {
  return {
    id: alert.id,
    detectorId: alert.detectorId,
    dedupeKey: alert.dedupeKey,
    severity: alert.severity,
    status: alert.status,
    summary: alert.summary,
    subject: alert.subject,
    ip: alert.ip,
    department: alert.department,
    observed: alert.observed,
    baseline: alert.baseline,
    eventIds: alert.eventIds,
    occurrences: alert.occurrences,
    firstSeenAt: alert.firstSeenAt.toISOString(),
    lastSeenAt: alert.lastSeenAt.toISOString(),
    recurrenceOf: alert.recurrenceOf,
  };
}

const E164_ANYWHERE = /\+[1-9]\d{6,14}/g;
const SECRET_KEY = /password|secret|token|passcode|otp|seed|answer/i;
// eslint-disable-next-line no-control-regex -- control characters are what we strip
const CONTROL = /[\u0000-\u001f\u007f]+/g;
const MAX_TEXT = 500;

/** One line of text: control characters (CR, LF, ANSI escapes) become spaces, and it is bounded. */
export const oneLine = (text: string, max = MAX_TEXT): string => text.replace(CONTROL, ' ').slice(0, max);

/** Masks any full phone number in text: `+447700900123` → `+44•••••••23`. */
const maskPhones = (text: string): string => text.replace(E164_ANYWHERE, (phone) => maskPhone(phone));

/**
 * The finding as it may be stored and sent. Detectors promise scalar, secret-free facts; this is the
 * belt to their braces.
 *
 * SECURITY: an alert travels to mailboxes, chat channels and a SIEM, far beyond the admin API, so a
 * full phone number becomes its mask (a SIM-swap needs the number), a fact whose name says secret
 * is dropped to `[redacted]`, and text loses control characters (log injection into syslog, LOG-4).
 */
export function sanitiseFinding(finding: Finding): Finding {
  const text = (value: string, max?: number): string => maskPhones(oneLine(value, max));
  const observed: Record<string, string | number | boolean | null> = {};
  for (const [key, value] of Object.entries(finding.observed).slice(0, 50)) {
    const name = oneLine(key, 64);
    observed[name] = SECRET_KEY.test(name) ? '[redacted]' : typeof value === 'string' ? text(value) : value;
  }
  return {
    ...finding,
    detectorId: oneLine(finding.detectorId, 64),
    dedupeKey: text(finding.dedupeKey, 200),
    summary: text(finding.summary),
    ip: finding.ip === null ? null : oneLine(finding.ip, 64),
    department: finding.department === null ? null : oneLine(finding.department, 200),
    observed,
    baseline: finding.baseline === null ? null : text(finding.baseline),
    eventIds: finding.eventIds.slice(0, 50).map((id) => oneLine(id, 64)),
  };
}

/** The e-mail subject line (one line; the channel refuses line breaks in headers anyway). */
export function notificationTitle(notification: AlertNotification): string {
  if (notification.kind === 'suppressed_summary') return `[Latchkey] ${notification.suppressed.count} alert notifications suppressed`;
  const { alert, reason } = notification;
  const label = reason === 'escalated' ? 'escalated to ' : reason === 'repeated' ? 'still ' : '';
  return oneLine(`[Latchkey] ${label}${alert.severity}: ${alert.summary}`, 200);
}

/** The plain-text body used by e-mail, Slack's fallback text and the syslog message. */
export function notificationText(notification: AlertNotification): string {
  if (notification.kind === 'suppressed_summary') {
    const { suppressed } = notification;
    return [
      `${suppressed.count} alert notifications were suppressed between ${suppressed.since} and ${suppressed.until} because the global cap was reached.`,
      'Read them in the alerts API (GET /api/admin/alerts). Alerts concerned:',
      ...suppressed.alerts.map((entry) => `- [${entry.severity}] ${entry.summary} (alert ${entry.alertId}, ${entry.count}×)`),
    ].join('\n');
  }
  const { alert } = notification;
  const facts = Object.entries(alert.observed).map(([key, value]) => `  ${key}: ${String(value)}`);
  return [
    `${alert.summary}`,
    '',
    `Severity: ${alert.severity}   Status: ${alert.status}   Detector: ${alert.detectorId}`,
    `Seen ${alert.occurrences} time(s), first ${alert.firstSeenAt}, last ${alert.lastSeenAt}.`,
    ...(alert.subject ? [`Account: ${alert.subject}`] : []),
    ...(alert.ip ? [`Address: ${alert.ip}`] : []),
    ...(alert.department ? [`Department: ${alert.department}`] : []),
    ...(facts.length > 0 ? ['Observed:', ...facts] : []),
    ...(alert.baseline ? [`Baseline: ${alert.baseline}`] : []),
    `Evidence: ${alert.eventIds.length} audit event(s)${alert.eventIds.length > 0 ? `, newest ${alert.eventIds[alert.eventIds.length - 1] ?? ''}` : ''}.`,
    ...(alert.recurrenceOf ? [`This recurs after alert ${alert.recurrenceOf} was resolved.`] : []),
    '',
    `Alert ${alert.id}: acknowledge or resolve it with POST /api/admin/alerts/${alert.id}/acknowledge or /resolve.`,
  ].join('\n');
}
