import type { Tier } from '../../account/account.ts';
import type { MethodId } from '../../methods/method-ids.ts';
import { STRENGTH_CLASSES } from '../../methods/method-ids.ts';
import { METHOD_GATE_FACTS } from '../gates.ts';
import type { Policy } from '../schema.ts';
import { resolveTier } from '../tier.ts';
import { reconfirmation } from '../../lifecycle/rules.ts';
import type { AccountFacts } from './account-recovery.ts';
import type { FindingSeverity } from './recovery-paths.ts';

export const ACCOUNT_FINDING_CODES = ['account.privileged_weak_methods_only', 'account.shared_channel', 'account.method_not_reconfirmed'] as const;
export type AccountFindingCode = (typeof ACCOUNT_FINDING_CODES)[number];

export interface AccountRef {
  readonly username: string;
  readonly tier: Tier;
  readonly department: string | null;
}

/** A finding about registered methods; never carries an address, number or fingerprint. */
export interface AccountFinding {
  readonly code: AccountFindingCode;
  readonly severity: FindingSeverity;
  readonly accounts: readonly AccountRef[];
  readonly methods: readonly MethodId[];
  readonly message: string;
}

const possessionRank = STRENGTH_CLASSES.indexOf('possession');

/**
 * Findings about the methods people registered, under a policy:
 * - a privileged account whose active methods are all weak (email, SMS, knowledge): it can neither
 *   recover nor is it protected as the tier intends;
 * - one alternate email or phone number registered on several accounts (grouped by the keyed
 *   `channelFingerprint`, so the address itself is never read): whoever holds it can pass that gate
 *   for all of them;
 * - an active method neither verified nor used within `lifecycle.reconfirmation.intervalDays`
 *   (due; lapsed once the grace days are over too), by the lifecycle rules the flow applies.
 * Sorted by severity, then code, then first username, so output is stable.
 */
export function accountFindings(accounts: readonly AccountFacts[], policy: Policy, now: Date): AccountFinding[] {
  const findings: AccountFinding[] = [];
  const refOf = (account: AccountFacts): AccountRef => ({
    username: account.username,
    tier: resolveTier(policy, account.groups, account.directoryPrivileged),
    department: account.department,
  });
  const byFingerprint = new Map<string, { accounts: Map<string, AccountFacts>; methods: Set<MethodId> }>();

  for (const account of accounts) {
    const ref = refOf(account);
    const active = account.enrollments.filter((enrollment) => enrollment.status === 'active');
    if (ref.tier === 'privileged' && active.length > 0 && active.every((enrollment) => STRENGTH_CLASSES.indexOf(METHOD_GATE_FACTS[enrollment.methodId].strength) > possessionRank)) {
      const methods = [...new Set(active.map((enrollment) => enrollment.methodId))];
      findings.push({ code: 'account.privileged_weak_methods_only', severity: 'high', accounts: [ref], methods, message: `privileged account ${ref.username} has only weak methods registered (${methods.join(', ')})` });
    }
    for (const enrollment of active) {
      if (enrollment.channelFingerprint !== null) {
        const group = byFingerprint.get(enrollment.channelFingerprint) ?? { accounts: new Map<string, AccountFacts>(), methods: new Set<MethodId>() };
        group.accounts.set(account.accountId, account);
        group.methods.add(enrollment.methodId);
        byFingerprint.set(enrollment.channelFingerprint, group);
      }
      const state = reconfirmation(enrollment, policy, now);
      if (state !== null && state.status !== 'current') {
        findings.push({
          code: 'account.method_not_reconfirmed',
          severity: state.status === 'lapsed' ? 'warning' : 'info',
          accounts: [ref],
          methods: [enrollment.methodId],
          message:
            state.status === 'lapsed'
              ? `${ref.username}'s ${enrollment.methodId} was not re-confirmed by ${state.lapsesAt.toISOString().slice(0, 10)} and no longer counts as a recovery gate`
              : `${ref.username}'s ${enrollment.methodId} is due for re-confirmation since ${state.dueAt.toISOString().slice(0, 10)} (it stops counting on ${state.lapsesAt.toISOString().slice(0, 10)})`,
        });
      }
    }
  }
  for (const group of byFingerprint.values()) {
    if (group.accounts.size < 2) continue;
    const refs = [...group.accounts.values()].map(refOf).sort((a, b) => a.username.localeCompare(b.username));
    const methods = [...group.methods];
    const what = methods.includes('sms_code') ? 'phone number' : 'alternate email address';
    findings.push({
      code: 'account.shared_channel',
      severity: refs.some((ref) => ref.tier !== 'standard') ? 'high' : 'warning',
      accounts: refs,
      methods,
      message: `one ${what} (${methods.join(', ')}) is registered on ${refs.length} accounts: ${refs.map((ref) => ref.username).join(', ')}`,
    });
  }
  const severityRank: Record<FindingSeverity, number> = { high: 0, warning: 1, info: 2 };
  return findings.sort(
    (a, b) => severityRank[a.severity] - severityRank[b.severity] || a.code.localeCompare(b.code) || (a.accounts[0]?.username ?? '').localeCompare(b.accounts[0]?.username ?? ''),
  );
}
