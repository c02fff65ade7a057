import type { ChannelKind, MethodId, StrengthClass } from '../methods/method-ids.ts';
import { STRENGTH_CLASSES } from '../methods/method-ids.ts';
import type { TierPolicy } from './schema.ts';

/**
 * The facts about a passed (or proposed) gate that policy needs: which method, how strong it is,
 * which channel its proof travelled over, and whether it counts at all. Gate evaluation compares
 * these facts, never method internals, so adding a method needs no change here.
 */
export interface GateFact {
  readonly methodId: MethodId;
  readonly strength: StrengthClass;
  readonly channel: ChannelKind;
  /** False for methods that are never a factor on their own (security questions: FAC-6). */
  readonly countsAsGate: boolean;
}

/**
 * The gate facts of every known method, as policy validation sees them. The schema uses them to
 * refuse policies that could never be satisfied (too few independent channels, no method of a
 * required strength class). Each `RecoveryMethod` must declare the same strength, channel and
 * `countsAsGate`; the flow engine passes the method's own facts to {@link evaluateGates}.
 */
export const METHOD_GATE_FACTS: Readonly<Record<MethodId, GateFact>> = {
  email_code: { methodId: 'email_code', strength: 'possession_weak', channel: 'email', countsAsGate: true },
  sms_code: { methodId: 'sms_code', strength: 'possession_weak', channel: 'phone', countsAsGate: true },
  totp: { methodId: 'totp', strength: 'possession', channel: 'authenticator_app', countsAsGate: true },
  recovery_code: { methodId: 'recovery_code', strength: 'possession', channel: 'printed_codes', countsAsGate: true },
  security_questions: { methodId: 'security_questions', strength: 'knowledge', channel: 'knowledge', countsAsGate: false },
  temporary_access_pass: { methodId: 'temporary_access_pass', strength: 'possession', channel: 'issued_pass', countsAsGate: true },
  webauthn: { methodId: 'webauthn', strength: 'phishing_resistant', channel: 'security_key', countsAsGate: true },
};

/** Where a flow stands against its tier's gate rules. */
export interface GateEvaluation {
  /** True when every rule is met: enough independent gates and, if required, one of a strong class. */
  readonly satisfied: boolean;
  /** How many more gates the flow needs at least (0 when satisfied). */
  readonly remaining: number;
  /** The `requireOneOf` classes still unmet (empty when met or when the tier sets no such rule), strongest first. */
  readonly missingClasses: readonly StrengthClass[];
}

/** Why a candidate gate may not be taken next; both are catalogued error codes. */
export type GateRefusalReason = 'method.already_used' | 'method.not_allowed';

/** The answer of {@link canAddGate}. */
export type GateAdmission = { readonly ok: true } | { readonly ok: false; readonly reason: GateRefusalReason };

/**
 * Picks the gates that count, in the order they were passed: a gate counts only if its method
 * counts as a gate, is allowed for the tier, and neither its method nor its channel has counted
 * before. SECURITY: this is FAC-3 — an email code and an email link, or two SMS codes, are one
 * proof, never two.
 */
function countedGates(tier: TierPolicy, gates: readonly GateFact[]): GateFact[] {
  if (!tier.selfService) return [];
  const methods = new Set<MethodId>();
  const channels = new Set<ChannelKind>();
  const counted: GateFact[] = [];
  for (const gate of gates) {
    if (!gate.countsAsGate || !tier.allowedMethods.includes(gate.methodId)) continue;
    if (methods.has(gate.methodId) || channels.has(gate.channel)) continue;
    methods.add(gate.methodId);
    channels.add(gate.channel);
    counted.push(gate);
  }
  return counted;
}

/**
 * Evaluates the gates a flow has passed against its tier's rules. Pure: the engine calls it after
 * every gate and only issues a grant when `satisfied` is true (FAC-1, FAC-2). Gates that do not
 * count (duplicates, channel reuse, methods the tier does not allow, non-factors, any gate of a
 * tier without self-service) are ignored, so a tampered or stale gate list can never satisfy the
 * policy on its own.
 *
 * `remaining` is the smallest number of further gates that could satisfy the tier: when the count
 * is reached but no gate is of a `requireOneOf` class, one more (strong) gate is still needed.
 */
export function evaluateGates(tier: TierPolicy, gates: readonly GateFact[]): GateEvaluation {
  const counted = countedGates(tier, gates);
  const strongMet = tier.requireOneOf.length === 0 || counted.some((gate) => tier.requireOneOf.includes(gate.strength));
  const slotsLeft = Math.max(0, tier.gatesRequired - counted.length);
  const remaining = Math.max(slotsLeft, strongMet ? 0 : 1);
  const missingClasses = strongMet ? [] : STRENGTH_CLASSES.filter((strength) => tier.requireOneOf.includes(strength));
  return { satisfied: remaining === 0, remaining, missingClasses };
}

/**
 * Decides whether a candidate method may be challenged next, so that every gate the flow takes
 * counts and the flow can always still finish. Refuses with `method.not_allowed` when the tier
 * has no self-service, the method is not allowed for the tier or is not a factor, the tier is
 * already satisfied, or only one gate remains and the candidate is not of a `requireOneOf` class
 * (otherwise email + SMS could use up both gates and leave the flow stuck: FAC-1). Refuses with
 * `method.already_used` when the same method, or another method over the same channel, has
 * already been passed in this flow (FAC-3).
 */
export function canAddGate(tier: TierPolicy, gates: readonly GateFact[], candidate: GateFact): GateAdmission {
  if (!tier.selfService || !candidate.countsAsGate || !tier.allowedMethods.includes(candidate.methodId)) {
    return { ok: false, reason: 'method.not_allowed' };
  }
  if (gates.some((gate) => gate.methodId === candidate.methodId || gate.channel === candidate.channel)) {
    return { ok: false, reason: 'method.already_used' };
  }
  const counted = countedGates(tier, gates);
  const evaluation = evaluateGates(tier, gates);
  if (evaluation.remaining === 0) return { ok: false, reason: 'method.not_allowed' };
  const slotsLeft = tier.gatesRequired - counted.length;
  if (evaluation.missingClasses.length > 0 && slotsLeft <= 1 && !tier.requireOneOf.includes(candidate.strength)) {
    return { ok: false, reason: 'method.not_allowed' };
  }
  return { ok: true };
}
