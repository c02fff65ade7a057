import type { Tier } from '../../src/core/account/account.ts';
import { asAccountId, asEnrollmentId, asFlowId, type AccountId } from '../../src/core/account/ids.ts';
import type { AuditData, AuditEventInput, AuditEventType, AuditOutcome } from '../../src/core/audit/events.ts';
import type { MethodId } from '../../src/core/methods/method-ids.ts';
import type { EnrollmentStatus } from '../../src/core/account/account.ts';
import type { Store } from '../../src/core/ports/store.ts';

/*
 * The hand-built data set of the report tests. Events have the shapes the recovery service records
 * (see src/core/flows/recovery/service.ts and transition.ts; test/reports/real-flow.test.ts checks a
 * real reset against the same reading), appended through the store with chosen times.
 *
 * The expected figures are worked out by hand in usage-report.test.ts from the comments here.
 */

export const NOW = new Date('2026-03-10T12:00:00Z');
export const PERIOD = { from: '2026-03-02', to: '2026-03-05' };
const DAY_MS = 86_400_000;
const daysAgo = (days: number): Date => new Date(NOW.getTime() - days * DAY_MS);
const at = (text: string): Date => new Date(text);

interface SeedAccount {
  readonly name: string;
  readonly department: string | null;
  readonly groups: string[];
  readonly enabled: boolean;
  /** method, status, days since created, since verified (null: never), since last used (null: never). */
  readonly enrollments: readonly [MethodId, EnrollmentStatus, number, number | null, number | null][];
}

/*
 * Coverage (default policy: standard needs 2 gates incl. totp or recovery_code; privileged allows
 * only totp and recovery_code; break-glass has no self-service):
 *   alice  Sales, standard: email + totp → covered           (totp last used 200 days ago: stale)
 *   bob    Sales, standard: email + sms → not covered (no possession-class method)  (sms verified 400 days ago, never used: stale)
 *   carol  Engineering, standard: totp (+ a pending recovery_code) → not covered
 *   dave   Engineering, privileged: totp + recovery_code (+ email) → covered
 *   erin   no department, privileged: totp + email → not covered (email is not allowed for privileged)
 *   frank  Sales, break-glass: totp + recovery_code → without self-service (recovery_code used 30 days ago: not stale)
 *   gina   Sales, standard, DISABLED: totp + email → not counted (email verified 250 days ago: stale)
 *   hank   Engineering, standard: nothing → not covered
 */
export const ACCOUNTS: readonly SeedAccount[] = [
  { name: 'alice', department: 'Sales', groups: [], enabled: true, enrollments: [['email_code', 'active', 300, 300, 5], ['totp', 'active', 300, 300, 200]] },
  { name: 'bob', department: 'Sales', groups: [], enabled: true, enrollments: [['email_code', 'active', 10, 10, null], ['sms_code', 'active', 400, 400, null]] },
  { name: 'carol', department: 'Engineering', groups: ['staff'], enabled: true, enrollments: [['totp', 'active', 60, 60, 2], ['recovery_code', 'pending', 1, null, null]] },
  { name: 'dave', department: 'Engineering', groups: ['admins'], enabled: true, enrollments: [['totp', 'active', 90, 90, 1], ['recovery_code', 'active', 90, 90, null], ['email_code', 'active', 90, 90, 50]] },
  { name: 'erin', department: null, groups: ['Domain Admins'], enabled: true, enrollments: [['totp', 'active', 20, 20, 20], ['email_code', 'active', 20, 20, null]] },
  { name: 'frank', department: 'Sales', groups: ['break-glass'], enabled: true, enrollments: [['totp', 'active', 365, 365, 100], ['recovery_code', 'active', 365, 365, 30]] },
  { name: 'gina', department: 'Sales', groups: [], enabled: false, enrollments: [['totp', 'active', 40, 40, 3], ['email_code', 'active', 250, 250, null]] },
  { name: 'hank', department: 'Engineering', groups: [], enabled: true, enrollments: [] },
];

export const accountIdOf = (name: string): AccountId => asAccountId(`builtin:report-${name}`);

interface FlowSpec {
  readonly id: string;
  readonly purpose: 'reset' | 'unlock' | 'sign_in';
  readonly account: string | null;
  readonly decoy?: boolean;
  readonly tier: Tier | null;
  readonly department: string | null;
  readonly start: string;
  /** [type, outcome, reason, data, time] after the start. */
  readonly steps: readonly [AuditEventType, AuditOutcome, string | null, AuditData, string][];
}

const completed = (purpose: 'reset' | 'unlock', gates: string, time: string): FlowSpec['steps'] => [
  ['recovery.gates_satisfied', 'success', null, { gates }, time],
  ['grant.claimed', 'info', null, { purpose }, time],
  [purpose === 'reset' ? 'password.reset' : 'account.unlocked', 'success', null, purpose === 'reset' ? {} : { via: 'self_service' }, time],
  ['recovery.completed', 'success', null, { purpose, gates }, time],
];
const passed = (method: MethodId, time: string): FlowSpec['steps'][number] => ['challenge.passed', 'success', null, { method, challenge_id: 'c' }, time];
const failed = (method: MethodId, time: string): FlowSpec['steps'][number] => ['challenge.failed', 'failure', 'challenge.invalid', { method, challenge_id: 'c' }, time];

/*
 * Flows. Period [2026-03-02, 2026-03-05) UTC; a flow counts on the day its recovery.started falls.
 *   F0  alice reset, started 03-01 23:59 (before the period), completed; its failed email code at 03-02 00:00:30 is a failure in the period
 *   F1  03-02 alice reset  standard Sales        completed (email_code totp); a failed totp, a rejected password
 *   F2  03-02 bob reset    standard Sales        open (two failed email codes, then abandoned)
 *   F3  03-02 dave unlock  privileged Engineering completed (totp recovery_code)
 *   F4  03-02 decoy reset (unknown identifier): one failed email code
 *   F5  03-02 decoy reset over the identifier limit: recovery.rate_limited (identifier)
 *   F6  03-03 carol reset  standard Engineering  exhausted totp, then expired (awaiting_method_choice)
 *   F7  03-03 alice unlock standard Sales        completed (email_code totp)
 *   F8  03-03 erin reset   privileged (none)     superseded by F9
 *   F9  03-03 erin reset   privileged (none)     completed (totp recovery_code)
 *   F10 03-03 alice sign-in gate (not a recovery): a failed totp, excluded from flows and failures
 *   --  03-03 a request over the per-IP limit (no flow): recovery.rate_limited (ip)
 *   F11 03-04 hank reset   standard Engineering  started 23:50, completed 03-05 00:05 (after the period: still a success of 03-04)
 *   F12 03-04 frank reset  break-glass: a decoy, recovery.refused
 *   F13 03-04 bob unlock   standard Sales        interrupted
 *   F14 03-05 00:00 alice reset (at the period's end, excluded), open
 */
export const FLOWS: readonly FlowSpec[] = [
  { id: 'f0', purpose: 'reset', account: 'alice', tier: 'standard', department: 'Sales', start: '2026-03-01T23:59:00Z', steps: [failed('email_code', '2026-03-02T00:00:30Z'), passed('email_code', '2026-03-02T00:00:40Z'), passed('totp', '2026-03-02T00:00:50Z'), ...completed('reset', 'email_code totp', '2026-03-02T00:01:00Z')] },
  { id: 'f1', purpose: 'reset', account: 'alice', tier: 'standard', department: 'Sales', start: '2026-03-02T09:00:00Z', steps: [passed('email_code', '2026-03-02T09:01:00Z'), failed('totp', '2026-03-02T09:02:00Z'), passed('totp', '2026-03-02T09:03:00Z'), ['password.rejected', 'failure', 'password.policy', { rules: 'too short' }, '2026-03-02T09:04:00Z'], ...completed('reset', 'email_code totp', '2026-03-02T09:05:00Z')] },
  { id: 'f2', purpose: 'reset', account: 'bob', tier: 'standard', department: 'Sales', start: '2026-03-02T10:00:00Z', steps: [failed('email_code', '2026-03-02T10:01:00Z'), failed('email_code', '2026-03-02T10:02:00Z')] },
  { id: 'f3', purpose: 'unlock', account: 'dave', tier: 'privileged', department: 'Engineering', start: '2026-03-02T11:00:00Z', steps: [passed('totp', '2026-03-02T11:01:00Z'), passed('recovery_code', '2026-03-02T11:02:00Z'), ...completed('unlock', 'totp recovery_code', '2026-03-02T11:03:00Z')] },
  { id: 'f4', purpose: 'reset', account: null, decoy: true, tier: null, department: null, start: '2026-03-02T12:00:00Z', steps: [failed('email_code', '2026-03-02T12:01:00Z')] },
  { id: 'f5', purpose: 'reset', account: null, decoy: true, tier: null, department: null, start: '2026-03-02T13:00:00Z', steps: [['recovery.rate_limited', 'failure', 'rate.limited', { bucket: 'identifier' }, '2026-03-02T13:00:00Z']] },
  { id: 'f6', purpose: 'reset', account: 'carol', tier: 'standard', department: 'Engineering', start: '2026-03-03T08:00:00Z', steps: [['challenge.exhausted', 'failure', 'challenge.invalid', { method: 'totp', challenge_id: 'c' }, '2026-03-03T08:05:00Z'], ['recovery.expired', 'failure', 'flow.expired', { step: 'awaiting_method_choice' }, '2026-03-03T08:20:00Z']] },
  { id: 'f7', purpose: 'unlock', account: 'alice', tier: 'standard', department: 'Sales', start: '2026-03-03T09:00:00Z', steps: [passed('email_code', '2026-03-03T09:01:00Z'), passed('totp', '2026-03-03T09:02:00Z'), ...completed('unlock', 'email_code totp', '2026-03-03T09:03:00Z')] },
  { id: 'f8', purpose: 'reset', account: 'erin', tier: 'privileged', department: null, start: '2026-03-03T10:00:00Z', steps: [passed('totp', '2026-03-03T10:01:00Z'), ['recovery.superseded', 'info', null, { by_flow: 'f9' }, '2026-03-03T10:10:00Z']] },
  { id: 'f9', purpose: 'reset', account: 'erin', tier: 'privileged', department: null, start: '2026-03-03T10:05:00Z', steps: [passed('totp', '2026-03-03T10:06:00Z'), passed('recovery_code', '2026-03-03T10:07:00Z'), ...completed('reset', 'totp recovery_code', '2026-03-03T10:10:00Z')] },
  { id: 'f10', purpose: 'sign_in', account: 'alice', tier: 'standard', department: 'Sales', start: '2026-03-03T11:00:00Z', steps: [failed('totp', '2026-03-03T11:01:00Z')] },
  { id: 'f11', purpose: 'reset', account: 'hank', tier: 'standard', department: 'Engineering', start: '2026-03-04T23:50:00Z', steps: [passed('totp', '2026-03-04T23:55:00Z'), passed('email_code', '2026-03-05T00:04:00Z'), ...completed('reset', 'totp email_code', '2026-03-05T00:05:00Z')] },
  { id: 'f12', purpose: 'reset', account: null, decoy: true, tier: null, department: 'Sales', start: '2026-03-04T12:00:00Z', steps: [['recovery.refused', 'failure', 'self_service.unavailable', { tier: 'break_glass' }, '2026-03-04T12:00:00Z']] },
  { id: 'f13', purpose: 'unlock', account: 'bob', tier: 'standard', department: 'Sales', start: '2026-03-04T15:00:00Z', steps: [passed('email_code', '2026-03-04T15:01:00Z'), passed('sms_code', '2026-03-04T15:02:00Z'), ['grant.claimed', 'info', null, { purpose: 'unlock' }, '2026-03-04T15:03:00Z'], ['recovery.interrupted', 'failure', 'process.interrupted', { purpose: 'unlock', claimed_at: '2026-03-04T15:03:00Z' }, '2026-03-04T15:20:00Z']] },
  { id: 'f14', purpose: 'reset', account: 'alice', tier: 'standard', department: 'Sales', start: '2026-03-05T00:00:00Z', steps: [] },
];

const flowUuid = (id: string): string => `00000000-0000-4000-8000-${id.replace('f', '').padStart(12, '0')}`;

function flowEvents(flow: FlowSpec): AuditEventInput[] {
  const subject = flow.account && !flow.decoy ? accountIdOf(flow.account) : null;
  const base = {
    actor: subject ? { kind: 'person' as const, id: subject } : { kind: 'anonymous' as const, id: null },
    subject,
    ip: '192.0.2.10',
    userAgent: 'report-test',
    department: flow.department,
    tier: flow.tier,
    flowId: asFlowId(flowUuid(flow.id)),
  };
  const started: AuditEventInput = { ...base, type: 'recovery.started', at: at(flow.start), outcome: 'info', reason: null, data: { purpose: flow.purpose, decoy: flow.decoy ?? false, identifier_hash: 'h' } };
  return [started, ...flow.steps.map(([type, outcome, reason, data, time]) => ({ ...base, type, at: at(time), outcome, reason, data }))];
}

/** Inserts the accounts and enrollments, and appends every flow's events plus the per-IP refusal, in time order. */
export async function seedReportData(store: Store): Promise<void> {
  const created = daysAgo(500);
  await store.transaction(async (tx) => {
    for (const account of ACCOUNTS) {
      await tx.builtinAccounts.insert({
        id: accountIdOf(account.name),
        username: account.name,
        displayName: account.name,
        workEmail: `${account.name}@corp.test`,
        department: account.department,
        groups: account.groups,
        enabled: account.enabled,
        passwordHash: 'not-a-real-hash',
        failedSignIns: 0,
        lockedAt: null,
        createdAt: created,
        passwordChangedAt: created,
      });
      for (const [method, status, createdDays, verifiedDays, usedDays] of account.enrollments) {
        await tx.enrollments.insert({
          id: asEnrollmentId(`report-${account.name}-${method}`),
          accountId: accountIdOf(account.name),
          methodId: method,
          status,
          label: method,
          secretCiphertext: 'unused-by-reports',
          channelFingerprint: null,
          createdAt: daysAgo(createdDays),
          verifiedAt: verifiedDays === null ? null : daysAgo(verifiedDays),
          lastUsedAt: usedDays === null ? null : daysAgo(usedDays),
        });
      }
    }
    const ipRefusal: AuditEventInput = { type: 'recovery.rate_limited', at: at('2026-03-03T11:30:00Z'), actor: { kind: 'anonymous', id: null }, subject: null, outcome: 'failure', reason: 'rate.limited', ip: '192.0.2.99', userAgent: null, department: null, tier: null, flowId: null, data: { bucket: 'ip' } };
    const events = [...FLOWS.flatMap(flowEvents), ipRefusal].sort((a, b) => a.at.getTime() - b.at.getTime());
    await tx.audit.append(events);
  });
}
