import { gateEligibility, type GateEligibilityContext } from './gate-eligibility.ts';
import type { AccountId, EnrollmentId, FlowId } from '../../account/ids.ts';
import { asChallengeId, asEnrollmentId, asFlowId } from '../../account/ids.ts';
import type { DirectoryAccount, Tier } from '../../account/account.ts';
import { canonicalIdentifier } from '../../account/identifier.ts';
import type { AuditEventInput } from '../../audit/events.ts';
import { DomainError } from '../../errors.ts';
import type { ChallengeAnswer, ChallengePrompt, MethodContext } from '../../methods/method.ts';
import { STRENGTH_CLASSES, type MethodId, type StrengthClass } from '../../methods/method-ids.ts';
import { getMethod } from '../../methods/registry.ts';
import { enqueueMessage } from '../../notifications/outbox.ts';
import { interruptedNotice, recoveryNotice } from '../../notifications/templates.ts';
import { canAddGate } from '../../policy/gates.ts';
import { checkPassword, breachedRejection, type PasswordRejection } from '../../policy/password-rules.ts';
import type { PasswordRules, Policy, TierPolicy } from '../../policy/schema.ts';
import { resolveTier } from '../../policy/tier.ts';
import type { FlowRecord, Repositories } from '../../ports/store.ts';
import type { AppDeps, RequestContext } from '../../app/deps.ts';
import type { RecoveryRiskCheck } from '../../ports/recovery-risk.ts';
import { openEnrollmentSecret } from '../../enrollment/secrets.ts';
import { noticeRecipients } from '../../notifications/recipients.ts';
import { openSession } from '../../enrollment/sessions.ts';
import { NO_SCREENING, type SimSwapGuard, type SimSwapScreening } from '../../phone/sim-swap-guard.ts';
import type { TravelStartCheck } from '../../travel/travel-index.ts';
import { isHoneytoken } from '../../honeytoken/honeytoken.ts';
import { reconfirmationDue, type ReconfirmationDue } from '../../lifecycle/rules.ts';
import type { PrivilegedRecovery } from './privileged-recovery.ts';
import { livePassFacts, usePassAsGate } from '../../helpdesk/access-pass-use.ts';
import type { SingleUseClaim } from '../../methods/method.ts';
import { flowSecretHash, formatFlowToken, newFlowSecret, parseFlowToken } from '../flow-token.ts';
import { applySecretUpdate } from '../../enrollment/secret-update.ts';
import { gatesOf, isTerminal, subjectOf, type RecoveryPurpose, type RecoveryState } from './state.ts';
import { gateFactOf, transition, type EventDraft, type RecoveryFacts, type RecoveryTransition, type StepOutcome } from './transition.ts';

/** What a client sees of a flow. Identical in shape for real and decoy subjects (ENUM-1, ENUM-3). */
export interface FlowView {
  readonly flowId: string;
  readonly purpose: RecoveryPurpose;
  readonly step: string;
  readonly gatesRequired: number;
  readonly gatesPassed: number;
  readonly methods: readonly { readonly id: MethodId; readonly strength: StrengthClass }[];
  readonly challenge: ChallengePrompt | null;
  readonly expiresAt: string;
  readonly grantExpiresAt: string | null;
  readonly password: { readonly minLength: number; readonly maxLength: number } | null;
}

export interface StepResult {
  readonly view: FlowView;
  /** Present when the flow secret was rotated: the client must use this token from now on. */
  readonly flowToken: string | null;
  readonly outcome: StepOutcome;
  readonly rejections: readonly string[];
  /** For a completed sign-in flow: the new session token. */
  readonly sessionToken?: string;
  /** After a wrong answer: how many more answers the open challenge takes (0 once it is exhausted). */
  readonly attemptsRemaining?: number;
  /** For a completed sign-in: methods the person is asked to confirm or replace (core/lifecycle). */
  readonly reconfirmation?: { readonly due: readonly ReconfirmationDue[] };
}

/** What a person with a grant may learn about a password before submitting it (live feedback). */
export interface PasswordReview {
  readonly view: FlowView;
  readonly rules: PasswordRules;
  /** Every rule the candidate breaks; empty when none was given or it passes. */
  readonly reasons: readonly PasswordRejection[];
}

const strengthRank = (strength: StrengthClass): number => STRENGTH_CLASSES.indexOf(strength);

/** Optional checks around the engine: each does its lookups here and hands the gate rules facts. */
export interface RecoveryGuards {
  /** Asks the operator about recent SIM swaps before an SMS code is sent or accepted. */
  readonly simSwap?: SimSwapGuard | null;
  /** Judges a start's country against the account's declared trips (in memory). */
  readonly travel?: TravelStartCheck | null;
}

/** The tier's gate count plus any risk step-up decided at start (never for the gate of a sign-in). */
const withStepUp = (rules: TierPolicy, state: Pick<RecoveryState, 'extraGates' | 'purpose'>): TierPolicy =>
  state.extraGates && state.purpose !== 'sign_in' ? { ...rules, gatesRequired: rules.gatesRequired + state.extraGates } : rules;

/**
 * Signing in to manage methods is password plus one gate, or the tier's full count (and strength
 * rule) when the sign-in carries extra gates: right after a recovery (core/lifecycle). The extra
 * gates are known to the person, who has just given the right password, so showing them reveals nothing.
 */
const signInRules = (rules: TierPolicy, state: Pick<RecoveryState, 'extraGates'>): TierPolicy =>
  state.extraGates ? { ...rules, gatesRequired: 1 + state.extraGates } : { ...rules, gatesRequired: 1, requireOneOf: [] };

/** The tier whose rules a subject is shown and held to; decoys and no-self-service tiers look standard. */
function displayTier(policy: Policy, state: Pick<RecoveryState, 'tier' | 'decoy'>): TierPolicy {
  return state.tier === 'privileged' && !state.decoy ? policy.tiers.privileged : policy.tiers.standard;
}

/** The rules that decide a flow; null when the subject may not self-serve at all. */
export function effectiveTierPolicy(policy: Policy, state: Pick<RecoveryState, 'tier' | 'decoy' | 'purpose' | 'extraGates'>): TierPolicy | null {
  if (state.decoy || state.tier === 'break_glass') return null;
  const rules = policy.tiers[state.tier];
  if (!rules.selfService) return null;
  // Signing in to manage methods is password plus one gate; recovery needs the tier's full count.
  return state.purpose === 'sign_in' ? signInRules(rules, state) : withStepUp(rules, state);
}

function visibleTierPolicy(policy: Policy, state: RecoveryState): TierPolicy {
  const shown = displayTier(policy, state);
  if (state.purpose === 'sign_in') return signInRules(shown, state);
  // SECURITY: a step-up shows only after the first gate: shown at start, it would tell whoever holds
  // the flow that the identifier is a real account with a declared trip (ENUM-3).
  return gatesOf(state).length > 0 ? withStepUp(shown, state) : shown;
}

/**
 * The recovery engine's application service: reset, unlock, and the gate of a sign-in, driven by
 * the pure state machine in transition.ts. Every step gathers facts, runs the transition, and then
 * persists the new state, the audit events and any outbox messages in one transaction.
 */
export class RecoveryService {
  constructor(
    private readonly deps: AppDeps,
    /** Consulted at every start (in memory only); null runs no real-time risk rules. */
    private readonly riskCheck: RecoveryRiskCheck | null = null,
    /** Admin notices and confirmation holds of privileged recoveries; null adds neither. */
    private readonly privileged: PrivilegedRecovery | null = null,
    /** SIM swap screening of phones and declared-travel step-up; unset runs neither. */
    private readonly guards: RecoveryGuards = {},
  ) {}

  /**
   * Starts a flow for an identifier. Unknown, ambiguous, disabled and no-self-service identifiers get
   * a decoy flow that looks and times the same and can never succeed (ENUM-1, ENUM-2, PRIV-4).
   */
  async start(input: { identifier: string; purpose: 'reset' | 'unlock' }, request: RequestContext): Promise<{ flowToken: string; view: FlowView }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    await this.limitIp(request, now, policy);
    const canonical = canonicalIdentifier(input.identifier);
    const lookup = canonical.ok ? await deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
    const account = lookup.kind === 'one' && lookup.account.enabled ? lookup.account : null;
    const identifierHash = deps.secrets.mac('identifier', canonical.ok ? canonical.value : input.identifier);
    const subjectKey = account ? account.id : `decoy:${identifierHash}`;
    const tier: Tier = account ? resolveTier(policy, account.groups, account.directoryPrivileged) : 'standard';

    // SECURITY: per-identifier start limit (RATE-1). Over the limit the reply stays the same; the flow
    // just becomes a decoy, so a flood neither reaches the person nor reveals that it was limited.
    const startDecision = await deps.rateLimiter.consume('identifier', subjectKey, policy.rateLimits.perIdentifier);
    const selfService = account !== null && tier !== 'break_glass' && policy.tiers[tier].selfService;
    // SECURITY: a deny-listed address, or one a detector flags for spraying or guessing, gets a decoy
    // like any refused start: telling it "refused" would confirm which identifiers are real.
    const risk = this.riskCheck?.assessStart(request.ip, now) ?? null;
    // SECURITY: a honeytoken is a tripwire: whatever it names runs as a decoy, audited with the source
    // address, and the reply is the one any account gets, so the prober cannot tell it was caught.
    const honeytoken = isHoneytoken(policy.honeytokens, canonical.ok ? canonical.value : null, lookup.kind === 'one' ? lookup.account : null);
    const held = account && tier === 'privileged' && selfService && !honeytoken && this.privileged ? await this.privileged.startRefusal(account.id) : null;
    // SECURITY: after a disputed method change the account's self-service is frozen; the start runs
    // as a decoy so whoever made the change learns nothing from it (core/lifecycle).
    const frozen = account !== null && (await deps.store.methodChanges.getFreeze(account.id)) !== null;
    const decoy = !selfService || !startDecision.allowed || risk !== null || honeytoken || held !== null || frozen;
    // Asked for every start, decoys included (in memory, no I/O), so timing does not tell them apart.
    const trip = this.guards.travel?.assessStart(decoy ? null : (account?.id ?? null), request.ip, now) ?? null;
    const steppedUp = !decoy && trip?.verdict === 'elsewhere';

    const flowId = asFlowId(deps.random.uuid());
    const secret = newFlowSecret(deps.random);
    const state: RecoveryState = {
      name: 'awaiting_method_choice',
      purpose: input.purpose,
      decoy,
      subjectKey,
      tier: decoy ? 'standard' : tier,
      department: account?.department ?? null,
      seed: deps.secrets.mac('decoy_seed', subjectKey),
      gates: [],
      ...(steppedUp ? { extraGates: 1 } : {}),
    };
    const shown = visibleTierPolicy(policy, state);
    const record: FlowRecord = {
      id: flowId,
      kind: 'recovery',
      accountId: decoy ? null : (account?.id ?? null),
      secretHash: flowSecretHash(deps.secrets, secret),
      state: JSON.stringify(state),
      stateName: state.name,
      terminal: false,
      version: 0,
      createdAt: now,
      updatedAt: now,
      expiresAt: new Date(now.getTime() + shown.flowTtlSeconds * 1000),
    };
    const base = this.auditBase(record, state, request, now, account);
    const events: AuditEventInput[] = [
      { ...base, type: 'recovery.started', outcome: 'info', reason: null, data: { purpose: input.purpose, decoy, identifier_hash: identifierHash } },
    ];
    if (account && !selfService) {
      events.push({ ...base, subject: account.id, tier, type: 'recovery.refused', outcome: 'failure', reason: 'self_service.unavailable', data: { tier } });
    } else if (!startDecision.allowed) {
      events.push({ ...base, subject: account?.id ?? null, type: 'recovery.rate_limited', outcome: 'failure', reason: 'rate.limited', data: { bucket: 'identifier' } });
    } else if (risk) {
      events.push({ ...base, subject: account?.id ?? null, type: 'recovery.risk_refused', outcome: 'failure', reason: `risk.${risk.rule}`, data: { detector: risk.detectorId, rule: risk.rule } });
    } else if (account && held) {
      events.push({ ...base, subject: account.id, tier, type: 'recovery.refused', outcome: 'failure', reason: held, data: { tier } });
    } else if (account && frozen) {
      events.push({ ...base, subject: account.id, tier, type: 'recovery.refused', outcome: 'failure', reason: 'self_service.frozen', data: { tier } });
    }
    if (steppedUp && trip) {
      events.push({ ...base, type: 'recovery.stepped_up', outcome: 'info', reason: 'travel.outside_declared_trip', data: { country: trip.country, declared_countries: trip.declared.join(' '), extra_gates: 1 } });
    }
    if (honeytoken) {
      events.push({ ...base, subject: account?.id ?? null, type: 'honeytoken.touched', outcome: 'failure', reason: 'honeytoken', data: { via: 'recovery_start', purpose: input.purpose, identifier_hash: identifierHash } });
    }
    await deps.store.transaction(async (tx) => {
      await tx.flows.insert(record);
      await tx.audit.append(events);
    });
    return { flowToken: formatFlowToken(flowId, secret), view: this.view(record, state, policy) };
  }

  /**
   * Starts the gate of a sign-in after the password was verified by the caller. Used by the
   * self-service session service; the account is known and enabled.
   */
  async startSignInGate(account: DirectoryAccount, request: RequestContext, options: { readonly extraGates?: number } = {}): Promise<{ flowToken: string; view: FlowView }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    const tier = resolveTier(policy, account.groups, account.directoryPrivileged);
    const flowId = asFlowId(deps.random.uuid());
    const secret = newFlowSecret(deps.random);
    const state: RecoveryState = {
      name: 'awaiting_method_choice',
      purpose: 'sign_in',
      decoy: false,
      subjectKey: account.id,
      tier: tier === 'break_glass' ? 'privileged' : tier,
      department: account.department,
      seed: deps.secrets.mac('decoy_seed', account.id),
      gates: [],
      ...(options.extraGates ? { extraGates: options.extraGates } : {}),
    };
    const rules = visibleTierPolicy(policy, state);
    const record: FlowRecord = {
      id: flowId,
      kind: 'sign_in',
      accountId: account.id,
      secretHash: flowSecretHash(deps.secrets, secret),
      state: JSON.stringify(state),
      stateName: state.name,
      terminal: false,
      version: 0,
      createdAt: now,
      updatedAt: now,
      expiresAt: new Date(now.getTime() + rules.flowTtlSeconds * 1000),
    };
    await deps.store.transaction(async (tx) => {
      await tx.flows.insert(record);
      await tx.audit.append([{ ...this.auditBase(record, state, request, now, account), type: 'recovery.started', outcome: 'info', reason: null, data: { purpose: 'sign_in', decoy: false } }]);
    });
    return { flowToken: formatFlowToken(flowId, secret), view: this.view(record, state, policy) };
  }

  /** The current view of a flow. */
  async describe(flowToken: string, request: RequestContext): Promise<FlowView> {
    const { record, state } = await this.load(flowToken, request);
    return this.view(record, state, this.deps.policy());
  }

  /** Chooses the method for the next gate and issues its challenge (a code is queued for delivery). */
  async chooseMethod(flowToken: string, methodId: MethodId, request: RequestContext): Promise<StepResult> {
    const { deps } = this;
    const policy = deps.policy();
    const { record, state } = await this.load(flowToken, request);
    const now = deps.clock.now();
    const rules = effectiveTierPolicy(policy, state);
    const visible = visibleTierPolicy(policy, state);
    // SECURITY: what may be chosen is decided by the visible rules for real and decoy subjects alike,
    // so forcing `method=sms_code` for an admin is refused the same way for everyone (FAC-4).
    const allowed = canAddGate(visible, gatesOf(state).map((gate) => gateFactOf(gate.methodId)), gateFactOf(methodId));
    if (!allowed.ok) throw new DomainError(allowed.reason);

    const method = getMethod(methodId);
    const account = record.accountId ? await this.account(record.accountId) : null;
    const usedEnrollments = new Set(gatesOf(state).map((gate) => gate.enrollmentId));
    const livePasses = methodId === 'temporary_access_pass' && account ? await livePassFacts(deps.store, account.id) : undefined;
    // SECURITY: the operator is asked before a code goes out, so no code reaches a swapped SIM.
    const screening = methodId === 'sms_code' && rules && account ? await this.screenPhones(account.id, (id) => !usedEnrollments.has(id), policy) : NO_SCREENING;
    const lifecycle = rules && account ? { purpose: state.purpose, coolingOffEnrollmentIds: await deps.store.methodChanges.coolingOffEnrollmentIds(account.id) } : null;
    const eligibility: GateEligibilityContext = { now, policy, tier: state.tier, usedEnrollmentIds: usedEnrollments, simSwap: screening.verdicts, ...(livePasses ? { livePasses } : {}), ...(lifecycle ? { lifecycle } : {}) };
    const enrollment = rules && account ? await this.activeEnrollment(account.id, methodId, eligibility) : null;
    // Audited only: the flow goes on as if the method had none, so the person holding it learns nothing.
    const skipped = rules && account && !enrollment ? await this.skippedEnrollments(account.id, methodId, eligibility) : [];
    const challengeId = asChallengeId(deps.random.uuid());
    const context = this.methodContext(policy, now, state.purpose);
    const challenge = await method.beginChallenge(enrollment, context, state.seed);
    const facts: RecoveryFacts = { now, tierPolicy: rules, choice: { enrollmentId: enrollment?.id ?? null, challengeId, prompt: challenge.prompt } };
    const result = transition(state, { type: 'ChooseMethod', methodId }, facts);

    const recipientKey = `${state.subjectKey}:${methodId}`;
    // SECURITY: the recipient budget is drawn on every choice, code to send or not, so choosing a
    // method costs the same rate-limiter round trip for a real person as for a decoy (ENUM-4).
    const sendAllowed = (await deps.rateLimiter.consume('recipient', recipientKey, policy.rateLimits.messagesPerRecipient)).allowed;

    await this.commit(record, state, result, request, now, account, async (tx, extraEvents, base) => {
      await tx.challenges.invalidateForFlow(record.id, now);
      await tx.challenges.insert({
        id: challengeId,
        flowId: record.id,
        accountId: record.accountId,
        methodId,
        enrollmentId: enrollment ? asEnrollmentId(enrollment.id) : null,
        secretHash: challenge.secretHash,
        attempts: 0,
        maxAttempts: (rules ?? visible).maxAttemptsPerChallenge,
        createdAt: now,
        expiresAt: new Date(now.getTime() + challenge.ttlSeconds * 1000),
        consumedAt: null,
      });
      if (challenge.message && sendAllowed) {
        extraEvents.push(await enqueueMessage(tx, deps, challenge.message, record.accountId, now, base));
      } else if (challenge.message) {
        extraEvents.push({ ...base, type: 'recovery.rate_limited', outcome: 'failure', reason: 'rate.limited', data: { bucket: 'recipient', method: methodId } });
      }
      if (this.guards.simSwap) extraEvents.push(...this.guards.simSwap.events(screening, base, policy, 'send'));
      for (const item of skipped) extraEvents.push({ ...base, type: 'recovery.enrollment_skipped', outcome: 'info', reason: item.reason, data: { method: methodId, enrollment_id: item.id } });
    });
    if (account && this.guards.simSwap) await this.guards.simSwap.alert(screening, { subject: account.id, ip: request.ip, department: account.department, at: now, policy });
    return { view: this.view(record, result.state, policy), flowToken: null, outcome: result.outcome, rejections: [] };
  }

  /**
   * Answers the open challenge. The attempt is counted, the answer verified and the challenge (and
   * any single-use secret) consumed atomically inside one transaction with the flow update, so that
   * of many parallel submissions of one code exactly one counts (TOK-5, RATE-4).
   */
  async answer(flowToken: string, answer: ChallengeAnswer, request: RequestContext): Promise<StepResult> {
    const { deps } = this;
    const policy = deps.policy();
    const { record, state } = await this.load(flowToken, request);
    if (state.name !== 'awaiting_challenge_answer') {
      throw new DomainError('flow.wrong_state', `This flow is at step '${state.name}'; there is no open challenge to answer.`);
    }
    const now = deps.clock.now();
    const rules = effectiveTierPolicy(policy, state);
    const visible = visibleTierPolicy(policy, state);
    // SECURITY: every answer, for every method, draws on one per-subject budget (RATE-2, RATE-8);
    // decoys are keyed the same way, so the throttle reply does not enumerate (ENUM-4).
    const budget = rules ?? visible;
    const shortWindow = await deps.rateLimiter.consume('account', state.subjectKey, budget.failureThrottle);
    const throttle = shortWindow.allowed ? await deps.rateLimiter.consume('account', state.subjectKey, budget.failureCeiling) : shortWindow;
    if (!throttle.allowed) {
      await deps.store.audit.append([{ ...this.auditBase(record, state, request, now, null), type: 'recovery.rate_limited', outcome: 'failure', reason: 'rate.limited', data: { bucket: 'account' } }]);
      throw new DomainError('rate.limited', 'Too many attempts. Wait before trying again.', { retryAfterSeconds: throttle.retryAfterSeconds });
    }
    const method = getMethod(state.methodId);
    const account = record.accountId ? await this.account(record.accountId) : null;
    // SECURITY: asked again when the code comes back: a SIM swapped after the code was sent must not
    // count either, since the code may have reached the new SIM.
    const answerScreening = state.methodId === 'sms_code' && state.enrollmentId && rules && account ? await this.screenPhones(account.id, (id) => id === state.enrollmentId, policy) : NO_SCREENING;
    const enrollment = state.enrollmentId && rules && !answerScreening.verdicts.has(state.enrollmentId) ? await this.enrollmentSecret(asEnrollmentId(state.enrollmentId)) : null;
    const context = this.methodContext(policy, now, state.purpose);
    const { result, rotatedSecret, sessionToken, attemptsRemaining } = await deps.store.transaction(async (tx) => {
      const challengeId = asChallengeId(state.challengeId);
      const attempt = await tx.challenges.registerAttempt(challengeId, now);
      let outcome: 'passed' | 'failed' | 'exhausted' = 'exhausted';
      // Decoy challenges carry the visible tier's cap and count attempts the same way, so this number
      // is the same for a real and an unknown subject (ENUM-4).
      let remaining = 0;
      if (attempt !== null) {
        const stored = await tx.challenges.get(challengeId);
        const verdict = await method.verify(answer, stored?.secretHash ?? null, enrollment, context);
        const passed = verdict.kind === 'match' && enrollment !== null && (await applySecretUpdate(tx, deps.cipher, enrollment.id, enrollment.ciphertext, verdict)) && (await this.consumeMatch(tx, challengeId, enrollment.id, verdict.singleUse, account?.id ?? null, now, this.auditBase(record, state, request, now, account)));
        outcome = passed ? 'passed' : attempt >= (stored?.maxAttempts ?? 0) ? 'exhausted' : 'failed';
        remaining = Math.max(0, (stored?.maxAttempts ?? 0) - attempt);
      }
      const step = transition(state, { type: 'AnswerChallenge' }, { now, tierPolicy: rules, answer: outcome });
      const base = this.auditBase(record, step.state, request, now, account);
      const rotated = step.effects.some((effect) => effect.kind === 'rotate_flow_secret') ? newFlowSecret(deps.random) : null;
      // A refused answer leaves the flow as it is: no compare-and-set, so a loser of a race cannot
      // undo the winner's gate.
      if (step.state !== state) await this.casUpdate(tx, record, step.state, rotated ? flowSecretHash(deps.secrets, rotated) : record.secretHash, now);
      if (outcome === 'passed' && enrollment) await tx.enrollments.touchLastUsed(asEnrollmentId(enrollment.id), now);
      const session = step.effects.some((effect) => effect.kind === 'create_session') && account ? await openSession(tx, deps, account.id, now, policy) : null;
      await tx.audit.append([...step.events.map((draft) => this.toEvent(draft, base)), ...(this.guards.simSwap?.events(answerScreening, base, policy, 'answer') ?? [])]);
      return { result: step, rotatedSecret: rotated, sessionToken: session, attemptsRemaining: outcome === 'passed' ? null : remaining };
    });
    if (account && this.guards.simSwap) await this.guards.simSwap.alert(answerScreening, { subject: account.id, ip: request.ip, department: account.department, at: now, policy });
    return {
      view: this.view(record, result.state, policy),
      flowToken: rotatedSecret ? formatFlowToken(record.id, rotatedSecret) : null,
      outcome: result.outcome,
      rejections: [],
      ...(sessionToken ? { sessionToken } : {}),
      ...(sessionToken && account ? { reconfirmation: { due: reconfirmationDue(await deps.store.enrollments.listForAccount(account.id), policy, now) } } : {}),
      ...(attemptsRemaining !== null ? { attemptsRemaining } : {}),
    };
  }

  /**
   * Sets the new password with the grant. A password the policy or the directory refuses keeps the
   * grant (the person tries another); only one request at a time can hold the grant (TOK-5).
   */
  async setPassword(flowToken: string, input: { password: string; confirmPassword: string }, request: RequestContext): Promise<StepResult> {
    const { deps } = this;
    const policy = deps.policy();
    const { record, state } = await this.load(flowToken, request);
    if (state.name !== 'awaiting_new_password') {
      throw new DomainError('flow.wrong_state', `This flow is at step '${state.name}'; a new password cannot be set yet.`);
    }
    if (input.password !== input.confirmPassword) throw new DomainError('password.mismatch');
    const now = deps.clock.now();
    const rules = effectiveTierPolicy(policy, state);
    const account = record.accountId ? await this.account(record.accountId) : null;
    if (!rules || !account) throw new DomainError('flow.not_found');

    const reasons = (await this.passwordRejections(input.password, rules, account, policy)).map((reason) => reason.message);
    const first = transition(state, { type: 'SetPassword' }, { now, tierPolicy: rules, passwordVerdict: reasons.length === 0 ? { ok: true } : { ok: false, reasons } });
    return this.complete(record, state, first, request, now, account, policy, () => deps.directory.setPassword(account.id, input.password));
  }

  /**
   * Checks a candidate password against the rules the flow's grant will apply, without using the
   * grant or changing the flow, for live feedback while the person types. Only a flow whose gates
   * are all passed answers, so nothing about the account is revealed that the gates did not already
   * open (decoys never get here). Each call counts against the flow's request budget like any step.
   */
  async reviewNewPassword(flowToken: string, password: string | null, request: RequestContext): Promise<PasswordReview> {
    const policy = this.deps.policy();
    const { record, state } = await this.load(flowToken, request);
    if (state.name !== 'awaiting_new_password') {
      throw new DomainError('flow.wrong_state', `This flow is at step '${state.name}'; there is no new password to check.`);
    }
    const rules = effectiveTierPolicy(policy, state);
    const account = record.accountId ? await this.account(record.accountId) : null;
    if (!rules || !account) throw new DomainError('flow.not_found');
    const reasons = password === null ? [] : await this.passwordRejections(password, rules, account, policy);
    return { view: this.view(record, state, policy), rules: rules.password, reasons };
  }

  /** Every password rule a candidate breaks: the pure rules first, the breached check only when they pass. */
  private async passwordRejections(password: string, rules: TierPolicy, account: DirectoryAccount, policy: Policy): Promise<PasswordRejection[]> {
    const verdict = checkPassword(password, rules.password, {
      username: account.username,
      displayName: account.displayName,
      organisationName: policy.organisationName,
      contextWords: policy.contextWords,
    });
    const reasons: PasswordRejection[] = verdict.ok ? [] : [...verdict.reasons];
    if (verdict.ok && rules.password.breachedCheck && this.deps.breach) {
      const rejection = breachedRejection(await this.deps.breach.timesSeen(password));
      if (rejection) reasons.push(rejection);
    }
    return reasons;
  }

  /**
   * Closes flows stuck in `completing`: a process claimed the grant and stopped (killed, crashed)
   * before recording the outcome. Whether the directory write happened is unknown, so the flow is
   * ended as `interrupted` and audited for someone to check; the grant can never be reused.
   */
  async sweepInterrupted(olderThanSeconds = 120): Promise<number> {
    const { deps } = this;
    const now = deps.clock.now();
    const stale = await deps.store.flows.listStale('completing', new Date(now.getTime() - olderThanSeconds * 1000), 100);
    let closed = 0;
    for (const record of stale) {
      const state = JSON.parse(record.state) as RecoveryState;
      const interrupted: RecoveryState = { ...subjectOf(state), name: 'interrupted' };
      const account = record.accountId ? await deps.directory.getAccount(record.accountId) : null;
      await deps.store.transaction(async (tx) => {
        const update = { state: JSON.stringify(interrupted), stateName: interrupted.name, terminal: true, secretHash: record.secretHash, expiresAt: record.expiresAt, updatedAt: now };
        if (!(await tx.flows.update(record.id, record.version, update))) return;
        const base = { ...this.auditBase(record, state, { ip: 'system', userAgent: null }, now, account), actor: { kind: 'system' as const, id: 'flow-sweeper' } };
        const events: AuditEventInput[] = [{ ...base, type: 'recovery.interrupted', outcome: 'failure', reason: 'process.interrupted', data: { purpose: state.purpose, claimed_at: record.updatedAt.toISOString() } }];
        if (account) {
          // The write may have happened: treat the account as recovered for safety's sake — its codes
          // and sessions end, and the person is told on every channel of record (SESS-1, SESS-4).
          await tx.challenges.invalidateForAccount(account.id, now);
          const sessionsEnded = await tx.sessions.deleteForAccount(account.id);
          if (sessionsEnded > 0) events.push({ ...base, type: 'session.ended', outcome: 'info', reason: null, data: { reason: 'recovery', sessions: sessionsEnded } });
          for (const [to, channel] of await noticeRecipients(tx, deps.cipher, account)) {
            events.push(await enqueueMessage(tx, deps, interruptedNotice(deps.policy().organisationName, state.purpose === 'unlock' ? 'unlock' : 'reset', channel, to, now), account.id, now, base));
          }
        }
        await tx.audit.append(events);
        closed += 1;
      });
    }
    return closed;
  }

  /** Clears the account's lock once every gate is passed; the password stays as it is. */
  async confirmUnlock(flowToken: string, request: RequestContext): Promise<StepResult> {
    const { deps } = this;
    const policy = deps.policy();
    const { record, state } = await this.load(flowToken, request);
    if (state.name !== 'awaiting_unlock_confirmation') {
      throw new DomainError('flow.wrong_state', `This flow is at step '${state.name}'; the account cannot be unlocked yet.`);
    }
    const now = deps.clock.now();
    const rules = effectiveTierPolicy(policy, state);
    const account = record.accountId ? await this.account(record.accountId) : null;
    if (!rules || !account) throw new DomainError('flow.not_found');
    const first = transition(state, { type: 'ConfirmUnlock' }, { now, tierPolicy: rules });
    return this.complete(record, state, first, request, now, account, policy, async () => {
      await deps.directory.unlock(account.id);
      return { ok: true };
    });
  }

  private async complete(
    record: FlowRecord,
    state: RecoveryState,
    first: RecoveryTransition,
    request: RequestContext,
    now: Date,
    account: DirectoryAccount,
    policy: Policy,
    write: () => Promise<{ ok: true } | { ok: false; reason: string }>,
  ): Promise<StepResult> {
    const { deps } = this;
    if (first.state.name !== 'completing') {
      await this.commit(record, state, first, request, now, account);
      return { view: this.view(record, first.state, policy), flowToken: null, outcome: first.outcome, rejections: first.rejections ?? [] };
    }
    // The privileged reads (who the security admins are) happen before the grant is claimed: if the
    // directory cannot list them, nothing has been written yet and the person simply retries.
    const privilegedFinish = this.privileged && state.tier === 'privileged' && state.purpose !== 'sign_in' ? await this.privileged.prepare(account, state.purpose) : null;
    const claimed = await this.claimGrant(record, first, request, now, account);
    let writeResult: { ok: true } | { ok: false; reason: string };
    try {
      writeResult = await write();
    } catch (error) {
      // The directory failed: give the grant back untouched so the person can retry shortly.
      const restored: RecoveryState = { ...first.state, name: state.name === 'awaiting_unlock_confirmation' ? 'awaiting_unlock_confirmation' : 'awaiting_new_password' } as RecoveryState;
      await deps.store.transaction(async (tx) => {
        await this.casUpdate(tx, claimed, restored, claimed.secretHash, deps.clock.now());
        await tx.audit.append([{ ...this.auditBase(record, state, request, now, account), type: state.purpose === 'unlock' ? 'account.unlocked' : 'password.reset', outcome: 'failure', reason: 'directory.unavailable', data: {} }]);
      });
      throw error instanceof DomainError ? error : new DomainError('directory.unavailable');
    }
    const finishedAt = deps.clock.now();
    const second = transition(first.state, { type: 'CompletionFinished' }, { now: finishedAt, tierPolicy: effectiveTierPolicy(policy, state), completion: writeResult });
    const finishing = second.effects.some((effect) => effect.kind === 'finish_recovery');
    await this.commit(claimed, first.state, second, request, finishedAt, account, async (tx, extraEvents, base) => {
      if (finishing) {
        await this.finishRecovery(tx, record.id, account, state.purpose, request, finishedAt, policy, extraEvents, base);
        await privilegedFinish?.(tx, { flowId: record.id, now: finishedAt, request, base }, extraEvents);
      }
    });
    if (second.effects.some((effect) => effect.kind === 'finish_recovery')) {
      await deps.rateLimiter.reset('account', account.id);
      if (state.purpose === 'reset') await deps.directory.unlock(account.id);
    }
    return { view: this.view(record, second.state, policy), flowToken: null, outcome: second.outcome, rejections: second.rejections ?? [] };
  }

  /**
   * Takes the grant for the directory write. SECURITY: two grants of one account (two flows that
   * both passed every gate) racing to set a password used to both reach the directory, and the
   * later write won while the 200 went to the other request (TOK-5). The claim now ends every open
   * flow of the account, this one included, in one statement, and then moves this one to
   * `completing` by compare-and-set: of any number of racing claims of one account exactly one
   * commits. The single UPDATE locks the account's flows in one order, so claims cannot deadlock.
   */
  private async claimGrant(record: FlowRecord, first: RecoveryTransition, request: RequestContext, now: Date, account: DirectoryAccount): Promise<FlowRecord> {
    const base = this.auditBase(record, first.state, request, now, account);
    return this.deps.store.transaction(async (tx) => {
      const ended = await tx.flows.supersedeOpen(account.id, null, JSON.stringify({ name: 'superseded' }), 'superseded', now);
      if (!ended.includes(record.id)) throw new DomainError('flow.conflict');
      // supersedeOpen moved this flow on by one version; the compare-and-set fails if anything else did.
      const claimed = await this.casUpdate(tx, { ...record, version: record.version + 1 }, first.state, record.secretHash, now);
      const events: AuditEventInput[] = first.events.map((draft) => this.toEvent(draft, base));
      for (const id of ended) {
        if (id !== record.id) events.push({ ...base, flowId: id, type: 'recovery.superseded', outcome: 'info', reason: null, data: { by_flow: record.id } });
      }
      await tx.audit.append(events);
      return claimed;
    });
  }

  /**
   * After a reset or unlock: every other open flow, grant and code of the account ends (TOK-7), its
   * sessions end (SESS-1), and every registered channel and the address of record are told (SESS-4).
   */
  private async finishRecovery(
    tx: Repositories,
    flowId: FlowId,
    account: DirectoryAccount,
    purpose: RecoveryPurpose,
    request: RequestContext,
    now: Date,
    policy: Policy,
    events: AuditEventInput[],
    base: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>,
  ): Promise<void> {
    const { deps } = this;
    const ended = await tx.flows.supersedeOpen(account.id, flowId, JSON.stringify({ name: 'superseded' }), 'superseded', now);
    for (const id of ended) events.push({ ...base, flowId: id, type: 'recovery.superseded', outcome: 'info', reason: null, data: { by_flow: flowId } });
    await tx.challenges.invalidateForAccount(account.id, now);
    const sessionsEnded = await tx.sessions.deleteForAccount(account.id);
    // The sessions a recovery ends are audited as session terminations of their own (LOG-1).
    if (sessionsEnded > 0) events.push({ ...base, type: 'session.ended', outcome: 'info', reason: null, data: { reason: 'recovery', sessions: sessionsEnded } });
    if (purpose === 'sign_in') return;
    const recipients = await noticeRecipients(tx, deps.cipher, account);
    for (const [to, channel] of recipients) {
      const notice = recoveryNotice(policy.organisationName, purpose, channel, to, now, request.ip);
      events.push(await enqueueMessage(tx, deps, notice, account.id, now, base));
    }
  }

  private async consumeMatch(
    tx: Repositories,
    challengeId: ReturnType<typeof asChallengeId>,
    enrollmentId: EnrollmentId,
    singleUse: SingleUseClaim | null,
    accountId: AccountId | null,
    now: Date,
    audit: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>,
  ): Promise<boolean> {
    if (singleUse?.mode === 'use_pass') {
      if (!(await usePassAsGate(tx, enrollmentId, singleUse.keyHash, now, audit))) return false;
    } else if (singleUse) {
      const claimed =
        singleUse.mode === 'consume'
          ? await tx.singleUse.consume(enrollmentId, singleUse.keyHash, now)
          : accountId !== null && (await tx.singleUse.claimOnce(enrollmentId, singleUse.keyHash, singleUse.purpose, accountId, now));
      if (!claimed) return false;
    }
    return tx.challenges.consume(challengeId, now);
  }

  /** Persists a transition: compare-and-set on the flow, the audit events and any extra writes, in one transaction. */
  private async commit(
    record: FlowRecord,
    state: RecoveryState,
    result: RecoveryTransition,
    request: RequestContext,
    now: Date,
    account: DirectoryAccount | null,
    extra?: (tx: Repositories, events: AuditEventInput[], base: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>) => Promise<void>,
  ): Promise<FlowRecord> {
    const base = this.auditBase(record, result.state, request, now, account);
    const events = result.events.map((draft) => this.toEvent(draft, base));
    let updated = record;
    await this.deps.store.transaction(async (tx) => {
      if (result.state !== state) updated = await this.casUpdate(tx, record, result.state, record.secretHash, now);
      if (extra) await extra(tx, events, base);
      await tx.audit.append(events);
    });
    return updated;
  }

  private async casUpdate(tx: Repositories, record: FlowRecord, next: RecoveryState, secretHash: string, now: Date): Promise<FlowRecord> {
    const update = { state: JSON.stringify(next), stateName: next.name, terminal: isTerminal(next), secretHash, expiresAt: record.expiresAt, updatedAt: now };
    if (!(await tx.flows.update(record.id, record.version, update))) throw new DomainError('flow.conflict');
    return { ...record, ...update, version: record.version + 1 };
  }

  /** Finds a live flow by token; unknown, wrong-secret and ended flows are indistinguishable (ENUM-6). */
  private async load(flowToken: string, request: RequestContext): Promise<{ record: FlowRecord; state: RecoveryState }> {
    const { deps } = this;
    const policy = deps.policy();
    const now = deps.clock.now();
    await this.limitIp(request, now, policy);
    const parts = parseFlowToken(flowToken);
    if (!parts) throw new DomainError('flow.not_found');
    const record = await deps.store.flows.get(parts.flowId);
    if (!record || record.terminal || !deps.secrets.equal(record.secretHash, flowSecretHash(deps.secrets, parts.secret))) {
      throw new DomainError('flow.not_found');
    }
    const flowLimit = await deps.rateLimiter.consume('flow', record.id, policy.rateLimits.perFlow);
    if (!flowLimit.allowed) throw new DomainError('rate.limited', 'Too many requests for this flow. Wait before trying again.', { retryAfterSeconds: flowLimit.retryAfterSeconds });
    const state = JSON.parse(record.state) as RecoveryState;
    if (record.expiresAt.getTime() <= now.getTime()) {
      const expired: RecoveryState = { ...state, name: 'expired' } as RecoveryState;
      await deps.store.transaction(async (tx) => {
        if (await tx.flows.update(record.id, record.version, { state: JSON.stringify(expired), stateName: 'expired', terminal: true, secretHash: record.secretHash, expiresAt: record.expiresAt, updatedAt: now })) {
          await tx.audit.append([{ ...this.auditBase(record, state, request, now, null), type: 'recovery.expired', outcome: 'failure', reason: 'flow.expired', data: { step: state.name } }]);
        }
      });
      throw new DomainError('flow.expired');
    }
    return { record, state };
  }

  private async limitIp(request: RequestContext, now: Date, policy: Policy): Promise<void> {
    const decision = await this.deps.rateLimiter.consume('ip', request.ip, policy.rateLimits.perIp);
    if (!decision.allowed) {
      await this.deps.store.audit.append([
        { type: 'recovery.rate_limited', at: now, actor: { kind: 'anonymous', id: null }, subject: null, outcome: 'failure', reason: 'rate.limited', ip: request.ip, userAgent: request.userAgent, department: null, tier: null, flowId: null, data: { bucket: 'ip' } },
      ]);
      throw new DomainError('rate.limited', 'Too many requests from this address. Wait before trying again.', { retryAfterSeconds: decision.retryAfterSeconds });
    }
  }

  private async account(id: AccountId): Promise<DirectoryAccount | null> {
    const account = await this.deps.directory.getAccount(id);
    // SECURITY: an account disabled mid-flow cannot finish it (SESS-8).
    return account && account.enabled ? account : null;
  }

  private async activeEnrollment(accountId: AccountId, methodId: MethodId, eligibility: GateEligibilityContext): Promise<{ id: EnrollmentId; secret: Record<string, unknown> } | null> {
    const candidates = (await this.deps.store.enrollments.listForAccount(accountId)).filter((enrollment) => enrollment.methodId === methodId && gateEligibility(enrollment, eligibility).usable);
    const chosen = candidates[0];
    return chosen ? { id: chosen.id, secret: openEnrollmentSecret(this.deps.cipher, chosen) } : null;
  }

  /** Active, unused enrollments of the method that a lifecycle rule kept from serving as a gate, with the rule's reason (SIM swap screening audits its own). */
  private async skippedEnrollments(accountId: AccountId, methodId: MethodId, eligibility: GateEligibilityContext): Promise<{ id: string; reason: string }[]> {
    const skipped: { id: string; reason: string }[] = [];
    for (const enrollment of await this.deps.store.enrollments.listForAccount(accountId)) {
      if (enrollment.methodId !== methodId || enrollment.status !== 'active' || eligibility.usedEnrollmentIds.has(enrollment.id)) continue;
      const verdict = gateEligibility(enrollment, eligibility);
      if (!verdict.usable && !verdict.reason.startsWith('sim_swap.')) skipped.push({ id: enrollment.id, reason: verdict.reason });
    }
    return skipped;
  }

  /** Asks the SIM swap gateway about the account's phones not yet used in this flow; nothing when none is configured. */
  private async screenPhones(accountId: AccountId, include: (enrollmentId: string) => boolean, policy: Policy): Promise<SimSwapScreening> {
    const guard = this.guards.simSwap;
    if (!guard) return NO_SCREENING;
    const phones = (await this.deps.store.enrollments.listForAccount(accountId)).filter((enrollment) => enrollment.methodId === 'sms_code' && include(enrollment.id));
    return guard.screen(phones, policy);
  }

  private async enrollmentSecret(id: EnrollmentId): Promise<{ id: EnrollmentId; secret: Record<string, unknown>; ciphertext: string } | null> {
    const enrollment = await this.deps.store.enrollments.get(id);
    if (!enrollment || enrollment.status !== 'active') return null;
    return { id, secret: openEnrollmentSecret(this.deps.cipher, { id, secretCiphertext: enrollment.secretCiphertext }), ciphertext: enrollment.secretCiphertext };
  }

  private methodContext(policy: Policy, now: Date, purpose: RecoveryPurpose): MethodContext {
    return { now, purpose, policy, displayName: '', services: { random: this.deps.random, secrets: this.deps.secrets, passwords: this.deps.passwords }, ...(this.deps.relyingParty ? { relyingParty: this.deps.relyingParty } : {}) };
  }

  private auditBase(record: FlowRecord, state: RecoveryState, request: RequestContext, now: Date, account: DirectoryAccount | null): Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'> {
    return {
      at: now,
      actor: record.accountId ? { kind: 'person', id: record.accountId } : { kind: 'anonymous', id: null },
      subject: record.accountId ?? (account && !state.decoy ? account.id : null),
      ip: request.ip,
      userAgent: request.userAgent,
      department: state.department ?? account?.department ?? null,
      tier: state.decoy ? null : state.tier,
      flowId: record.id,
    };
  }

  private toEvent(draft: EventDraft, base: Omit<AuditEventInput, 'type' | 'outcome' | 'reason' | 'data'>): AuditEventInput {
    return { ...base, type: draft.type, outcome: draft.outcome, reason: draft.reason, data: draft.data };
  }

  private view(record: FlowRecord, state: RecoveryState, policy: Policy): FlowView {
    const shown = visibleTierPolicy(policy, state);
    const usedChannels = new Set(gatesOf(state).map((gate) => gateFactOf(gate.methodId).channel));
    const choosing = state.name === 'awaiting_method_choice' || state.name === 'awaiting_challenge_answer';
    const methods = choosing
      ? shown.allowedMethods
          .map((id) => ({ id, strength: getMethod(id).strength }))
          .filter((method) => !usedChannels.has(getMethod(method.id).channel))
          .sort((a, b) => strengthRank(a.strength) - strengthRank(b.strength))
      : [];
    const gatesPassed = gatesOf(state).filter((gate) => gateFactOf(gate.methodId).countsAsGate).length;
    const grantExpiresAt = 'grantExpiresAt' in state ? state.grantExpiresAt : null;
    return {
      flowId: record.id,
      purpose: state.purpose,
      step: state.name === 'completing' ? (state.purpose === 'unlock' ? 'awaiting_unlock_confirmation' : 'awaiting_new_password') : state.name,
      gatesRequired: shown.gatesRequired,
      gatesPassed,
      methods,
      challenge: state.name === 'awaiting_challenge_answer' ? state.prompt : null,
      expiresAt: record.expiresAt.toISOString(),
      grantExpiresAt,
      password: state.name === 'awaiting_new_password' ? { minLength: shown.password.minLength, maxLength: shown.password.maxLength } : null,
    };
  }
}
