import { TIERS, type Tier } from '../account/account.ts';
import type { AuditEventType, AuditRecord } from '../audit/events.ts';
import { ERROR_CODES } from '../errors.ts';
import { METHOD_IDS, type MethodId } from '../methods/method-ids.ts';

/*
 * The Prometheus counters for the report's figures, as pure functions of audit records. Labels are
 * closed sets (purpose, tier, method, event type, a catalogued reason), never account ids,
 * departments or free text, so the number of series stays bounded whatever the traffic.
 */

export const METRIC_EVENT_TYPES = [
  'recovery.started',
  'recovery.completed',
  'challenge.failed',
  'challenge.exhausted',
  'password.rejected',
  'recovery.rate_limited',
  'recovery.expired',
  'recovery.refused',
  'recovery.interrupted',
] as const satisfies readonly AuditEventType[];

const FAILURE_EVENT_TYPES: ReadonlySet<AuditEventType> = new Set(METRIC_EVENT_TYPES.filter((type) => type !== 'recovery.started' && type !== 'recovery.completed'));
/** Reasons the engine records that are not error codes; any other text is reported as `other`. */
const EXTRA_REASONS: ReadonlySet<string> = new Set(['process.interrupted']);

export type RecoveryMetricSample =
  | { readonly metric: 'recoveries'; readonly labels: { readonly purpose: 'reset' | 'unlock'; readonly tier: Tier; readonly outcome: 'started' | 'completed' } }
  | { readonly metric: 'decoys'; readonly labels: { readonly purpose: 'reset' | 'unlock' } }
  | { readonly metric: 'completed_gates'; readonly labels: { readonly purpose: 'reset' | 'unlock'; readonly tier: Tier; readonly method: MethodId } }
  | { readonly metric: 'failures'; readonly labels: { readonly type: AuditEventType; readonly reason: string } };

const recoveryPurpose = (value: unknown): 'reset' | 'unlock' | null => (value === 'reset' || value === 'unlock' ? value : null);
const knownTier = (value: string | null): Tier | null => (value !== null && (TIERS as readonly string[]).includes(value) ? (value as Tier) : null);
const knownMethod = (value: string): MethodId | null => ((METHOD_IDS as readonly string[]).includes(value) ? (value as MethodId) : null);

/**
 * The counter increments one audit record stands for (each sample is +1). Started and completed
 * count reset and unlock flows (sign-in gates are not recoveries) by tier, decoys apart; failures
 * count every failure event of the flow engine, sign-in gates included, by type and reason.
 */
export function recoveryMetricSamples(record: Pick<AuditRecord, 'type' | 'tier' | 'reason' | 'data'>): RecoveryMetricSample[] {
  if (FAILURE_EVENT_TYPES.has(record.type)) {
    const reason = record.reason === null ? 'none' : record.reason in ERROR_CODES || EXTRA_REASONS.has(record.reason) ? record.reason : 'other';
    return [{ metric: 'failures', labels: { type: record.type, reason } }];
  }
  const purpose = recoveryPurpose(record.data['purpose']);
  if (purpose === null) return [];
  const tier = knownTier(record.tier);
  if (record.type === 'recovery.started') {
    if (record.data['decoy'] === true || tier === null) return [{ metric: 'decoys', labels: { purpose } }];
    return [{ metric: 'recoveries', labels: { purpose, tier, outcome: 'started' } }];
  }
  if (record.type === 'recovery.completed' && tier !== null) {
    const gates = typeof record.data['gates'] === 'string' ? record.data['gates'].split(' ') : [];
    const methods = [...new Set(gates)].map(knownMethod).filter((method): method is MethodId => method !== null);
    return [{ metric: 'recoveries', labels: { purpose, tier, outcome: 'completed' } }, ...methods.map((method) => ({ metric: 'completed_gates' as const, labels: { purpose, tier, method } }))];
  }
  return [];
}
