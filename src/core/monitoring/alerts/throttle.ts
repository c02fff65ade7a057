import type { AlertRecord, FindingEffect } from './alert.ts';

/** How often alerts may notify people. */
export interface ThrottleSettings {
  /** At most one notification per dedupe key within this many seconds (escalations excepted). */
  readonly perKeyWindowSeconds: number;
  /** At most this many alert notifications in any 60 seconds, across all keys. */
  readonly globalPerMinute: number;
}

/** The global cap's window. */
export const GLOBAL_WINDOW_SECONDS = 60;

export type NotificationReason = 'raised' | 'escalated' | 'repeated';

export type NotificationDecision =
  /** Tell people now. */
  | { readonly kind: 'notify'; readonly reason: NotificationReason }
  /** Nothing to tell: the key was notified within its window, or the alert is being handled. */
  | { readonly kind: 'throttled' }
  /** Worth telling, but the global cap is reached: counted, and summarised later. */
  | { readonly kind: 'suppressed'; readonly reason: NotificationReason };

/**
 * Decides whether an alert, just updated by a finding, notifies people. Pure: the caller gathers
 * `notificationsInWindow` (alert notifications sent in the last GLOBAL_WINDOW_SECONDS) in the same
 * transaction that stores the result.
 *
 * - A new alert notifies; so does an escalation (the severity rose), whatever the per-key window.
 * - A repeat notifies again only once the per-key window has passed since the last notification,
 *   and only while the alert is open: an acknowledged alert has someone on it.
 * - Anything that would notify is suppressed while the global cap is reached.
 */
export function decideNotification(alert: AlertRecord, effect: FindingEffect, notificationsInWindow: number, now: Date, settings: ThrottleSettings): NotificationDecision {
  let reason: NotificationReason;
  if (effect === 'raised' || effect === 'escalated') {
    reason = effect;
  } else {
    if (alert.status !== 'open') return { kind: 'throttled' };
    const last = alert.lastNotifiedAt;
    if (last !== null && now.getTime() - last.getTime() < settings.perKeyWindowSeconds * 1000) return { kind: 'throttled' };
    reason = 'repeated';
  }
  if (notificationsInWindow >= settings.globalPerMinute) return { kind: 'suppressed', reason };
  return { kind: 'notify', reason };
}

/**
 * Whether to send a summary of suppressed notifications now: when there are any, and no summary
 * went out in the last GLOBAL_WINDOW_SECONDS. Summaries do not count against the cap (so a storm
 * cannot starve them) and there is at most one a minute (so they cannot become the storm).
 */
export function shouldSummarise(suppressedCount: number, lastSummaryAt: Date | null, now: Date): boolean {
  if (suppressedCount === 0) return false;
  return lastSummaryAt === null || now.getTime() - lastSummaryAt.getTime() >= GLOBAL_WINDOW_SECONDS * 1000;
}
