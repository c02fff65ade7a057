import type { SealRecord } from './records.ts';

/** What the directory says about a sealed account now. */
export interface ObservedAccount {
  /** False when the account is gone (deleted, renamed out of scope). */
  readonly exists: boolean;
  readonly enabled: boolean;
  readonly groups: readonly string[];
  /** The directory's password-changed time; null when it does not tell. */
  readonly passwordChangedAt: Date | null;
}

export const WATCH_MISMATCH_KINDS = ['account_missing', 'account_disabled', 'password_changed', 'groups_changed'] as const;
export type WatchMismatchKind = (typeof WATCH_MISMATCH_KINDS)[number];

export interface WatchMismatch {
  readonly kind: WatchMismatchKind;
  /** Facts for the audit record and the alert: names and times, never a secret. */
  readonly detail: string;
}

const fold = (group: string): string => group.normalize('NFKC').toLowerCase();

/**
 * Compares a seal with what the directory holds now. A password written outside Latchkey is seen
 * by the directory's password-changed time moving away from the one read right after the seal wrote
 * its password: with no copy of the password kept, no bind can tell. A directory that does not
 * report the time (null at seal or now) leaves that check out rather than guessing.
 */
export function compareWithSeal(seal: Pick<SealRecord, 'groups' | 'directoryPasswordChangedAt'>, observed: ObservedAccount): WatchMismatch[] {
  if (!observed.exists) return [{ kind: 'account_missing', detail: 'the directory no longer has the account' }];
  const mismatches: WatchMismatch[] = [];
  if (!observed.enabled) mismatches.push({ kind: 'account_disabled', detail: 'the account is disabled in the directory' });
  const sealed = seal.directoryPasswordChangedAt;
  const now = observed.passwordChangedAt;
  if (sealed !== null && now !== null && now.getTime() !== sealed.getTime()) {
    mismatches.push({ kind: 'password_changed', detail: `password changed at ${now.toISOString()}, outside Latchkey (sealed password set at ${sealed.toISOString()})` });
  }
  const before = new Set(seal.groups.map(fold));
  const after = new Set(observed.groups.map(fold));
  const added = [...after].filter((group) => !before.has(group)).sort();
  const removed = [...before].filter((group) => !after.has(group)).sort();
  if (added.length > 0 || removed.length > 0) {
    mismatches.push({ kind: 'groups_changed', detail: [added.length > 0 ? `added to ${added.join(', ')}` : '', removed.length > 0 ? `removed from ${removed.join(', ')}` : ''].filter(Boolean).join('; ') });
  }
  return mismatches;
}

/** When the account's next drill is due: a drill interval after its last drill, or after its first seal when never drilled. */
export function nextDrillDue(seal: Pick<SealRecord, 'lastDrillAt' | 'sealedAt'>, intervalDays: number): Date {
  const from = seal.lastDrillAt ?? seal.sealedAt;
  return new Date(from.getTime() + intervalDays * 86_400_000);
}
