import type { AccountId } from '../account/ids.ts';
import type { AuditEventInput } from '../audit/events.ts';
import { enrollmentContext } from '../enrollment/secrets.ts';
import type { Finding } from '../monitoring/finding.ts';
import type { FindingSink } from '../monitoring/finding-sink.ts';
import type { Policy } from '../policy/schema.ts';
import type { SimSwapCheck } from '../ports/sim-swap.ts';
import type { EnrollmentRecord } from '../ports/store.ts';
import type { SecretCipher } from '../ports/system.ts';

/** Why a phone is out of recovery: its SIM changed within the window, or the check went unanswered under `refuse`. */
export type SimSwapVerdict = 'swapped' | 'unavailable';

/** One refused phone: what the flow audits and alerts on. No number, only the enrollment. */
export interface SimSwapRefusal {
  readonly enrollmentId: string;
  readonly verdict: SimSwapVerdict;
  /** For `unavailable`: timeout, network, http_status or malformed. */
  readonly cause: string | null;
}

export interface SimSwapScreening {
  /** Enrollment id → verdict, for the gate-eligibility context. */
  readonly verdicts: ReadonlyMap<string, SimSwapVerdict>;
  readonly refusals: readonly SimSwapRefusal[];
  /** Checks that went unanswered but were allowed by policy (`onUnavailable: allow`). */
  readonly allowedUnavailable: readonly { readonly enrollmentId: string; readonly cause: string }[];
}

export const NO_SCREENING: SimSwapScreening = { verdicts: new Map(), refusals: [], allowedUnavailable: [] };

/**
 * Screens an account's phones with the operator before an SMS code is sent or accepted. The
 * lookups happen here, before the pure gate rules run; their verdicts go into the eligibility
 * context (gate-eligibility.ts, reason `sim_swap.recent` / `sim_swap.unavailable`), so a swapped
 * phone is treated exactly like a method the account does not have: no code is sent and the flow
 * looks the same as for anyone else.
 */
export class SimSwapGuard {
  constructor(
    private readonly check: SimSwapCheck,
    private readonly cipher: SecretCipher,
    private readonly sink: FindingSink,
  ) {}

  /** Checks every active sms_code enrollment among `enrollments` (one gateway call each, in parallel). */
  async screen(enrollments: readonly EnrollmentRecord[], policy: Policy): Promise<SimSwapScreening> {
    const phones = enrollments.filter((enrollment) => enrollment.methodId === 'sms_code' && enrollment.status === 'active');
    if (phones.length === 0) return NO_SCREENING;
    const { maxAgeHours, onUnavailable } = policy.simSwap;
    const results = await Promise.all(
      phones.map(async (enrollment) => {
        const secret = JSON.parse(this.cipher.decrypt(enrollment.secretCiphertext, enrollmentContext(enrollment.id))) as Record<string, unknown>;
        const phone = secret['phone'];
        // A stored number that is not a string cannot be checked: it is as good as unanswered.
        const result = typeof phone === 'string' ? await this.check.checkRecentSwap(phone, maxAgeHours) : ({ kind: 'unavailable', reason: 'malformed' } as const);
        return { enrollment, result };
      }),
    );
    const verdicts = new Map<string, SimSwapVerdict>();
    const refusals: SimSwapRefusal[] = [];
    const allowedUnavailable: { enrollmentId: string; cause: string }[] = [];
    for (const { enrollment, result } of results) {
      if (result.kind === 'checked') {
        if (!result.swapped) continue;
        verdicts.set(enrollment.id, 'swapped');
        refusals.push({ enrollmentId: enrollment.id, verdict: 'swapped', cause: null });
      } else if (onUnavailable === 'refuse') {
        verdicts.set(enrollment.id, 'unavailable');
        refusals.push({ enrollmentId: enrollment.id, verdict: 'unavailable', cause: result.reason });
      } else {
        allowedUnavailable.push({ enrollmentId: enrollment.id, cause: result.reason });
      }
    }
    return { verdicts, refusals, allowedUnavailable };
  }

  /** The audit events of a screening, on the flow's base (same transaction as the flow step). */
  events(screening: SimSwapScreening, base: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>, policy: Policy, stage: 'send' | 'answer'): AuditEventInput[] {
    const maxAge = policy.simSwap.maxAgeHours;
    return [
      ...screening.refusals.map(
        (refusal): AuditEventInput =>
          refusal.verdict === 'swapped'
            ? { ...base, type: 'sim_swap.detected', outcome: 'failure', reason: 'sim_swap.recent', data: { method: 'sms_code', enrollment_id: refusal.enrollmentId, max_age_hours: maxAge, stage } }
            : { ...base, type: 'sim_swap.check_unavailable', outcome: 'failure', reason: 'sim_swap.unavailable', data: { method: 'sms_code', enrollment_id: refusal.enrollmentId, cause: refusal.cause, action: 'refused', stage } },
      ),
      ...screening.allowedUnavailable.map(
        (item): AuditEventInput => ({ ...base, type: 'sim_swap.check_unavailable', outcome: 'info', reason: 'sim_swap.unavailable', data: { method: 'sms_code', enrollment_id: item.enrollmentId, cause: item.cause, action: 'allowed', stage } }),
      ),
    ];
  }

  /**
   * Raises a high-severity finding for every swapped phone (the alert service stores, dedupes and
   * delivers it). Called after the flow step committed; a failing sink loses no audit: the
   * `sim_swap.detected` event is already written.
   */
  async alert(screening: SimSwapScreening, context: { subject: AccountId; ip: string; department: string | null; at: Date; policy: Policy }): Promise<void> {
    for (const refusal of screening.refusals) {
      if (refusal.verdict !== 'swapped') continue;
      const finding: Finding = {
        detectorId: 'sim_swap',
        severity: 'high',
        dedupeKey: `sim_swap:${context.subject}:${refusal.enrollmentId}`,
        summary: `A recovery tried to use a phone whose SIM card was swapped within the last ${context.policy.simSwap.maxAgeHours} hours; no code was sent to it`,
        subject: context.subject,
        ip: context.ip,
        department: context.department,
        observed: { method: 'sms_code', enrollment_id: refusal.enrollmentId, max_age_hours: context.policy.simSwap.maxAgeHours },
        baseline: 'the mobile operator reported a SIM change within the policy window (CAMARA SIM Swap check)',
        eventIds: [],
        at: context.at,
      };
      try {
        await this.sink.raise(finding);
      } catch {
        // The committed `sim_swap.detected` event keeps the fact; failing the person's request here
        // would make a swapped phone answer differently from any other choice (ENUM-4).
      }
    }
  }
}
