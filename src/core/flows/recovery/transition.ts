import { DomainError } from '../../errors.ts';
import type { AuditEventType, AuditOutcome, AuditData } from '../../audit/events.ts';
import type { MethodId } from '../../methods/method-ids.ts';
import type { ChallengePrompt } from '../../methods/method.ts';
import type { TierPolicy } from '../../policy/schema.ts';
import { canAddGate, evaluateGates, METHOD_GATE_FACTS, type GateFact } from '../../policy/gates.ts';
import { subjectOf, type Gate, type RecoveryState } from './state.ts';

/** Inputs a person (through the API) sends to a recovery flow. */
export type RecoveryCommand =
  | { readonly type: 'ChooseMethod'; readonly methodId: MethodId }
  | { readonly type: 'AnswerChallenge' }
  | { readonly type: 'SetPassword' }
  | { readonly type: 'ConfirmUnlock' }
  | { readonly type: 'CompletionFinished' };

/** What the service learned before the transition: every fact the machine needs, no I/O inside. */
export interface RecoveryFacts {
  readonly now: Date;
  /** The tier's rules; null when the tier has no self-service at all. */
  readonly tierPolicy: TierPolicy | null;
  readonly choice?: { readonly enrollmentId: string | null; readonly challengeId: string; readonly prompt: ChallengePrompt };
  /** Result of counting the attempt, verifying and consuming, gathered by the service. */
  readonly answer?: 'passed' | 'failed' | 'exhausted';
  readonly passwordVerdict?: { readonly ok: true } | { readonly ok: false; readonly reasons: readonly string[] };
  readonly completion?: { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

export type RecoveryEffect =
  | { readonly kind: 'issue_challenge'; readonly challengeId: string; readonly methodId: MethodId; readonly enrollmentId: string | null }
  | { readonly kind: 'rotate_flow_secret' }
  | { readonly kind: 'write_password' }
  | { readonly kind: 'unlock_account' }
  | { readonly kind: 'finish_recovery' }
  | { readonly kind: 'create_session' };

export interface EventDraft {
  readonly type: AuditEventType;
  readonly outcome: AuditOutcome;
  readonly reason: string | null;
  readonly data: AuditData;
}

/** How the step went, for the reply: distinct from the state because a refusal can keep the state. */
export type StepOutcome = 'ok' | 'challenge_failed' | 'challenge_exhausted' | 'password_rejected' | 'expired';

export interface RecoveryTransition {
  readonly state: RecoveryState;
  readonly effects: readonly RecoveryEffect[];
  readonly events: readonly EventDraft[];
  readonly outcome: StepOutcome;
  readonly rejections?: readonly string[];
}

const event = (type: AuditEventType, outcome: AuditOutcome, reason: string | null, data: AuditData = {}): EventDraft => ({ type, outcome, reason, data });

/** What policy knows of a method: one table, checked against the method registry by a test. */
export const gateFactOf = (methodId: MethodId): GateFact => METHOD_GATE_FACTS[methodId];

const grantStateName = (state: RecoveryState): 'awaiting_new_password' | 'awaiting_unlock_confirmation' =>
  state.purpose === 'unlock' ? 'awaiting_unlock_confirmation' : 'awaiting_new_password';

function requirePolicy(facts: RecoveryFacts): TierPolicy | null {
  return facts.tierPolicy && facts.tierPolicy.selfService ? facts.tierPolicy : null;
}

function wrongState(state: RecoveryState, command: RecoveryCommand): never {
  throw new DomainError('flow.wrong_state', `This flow is at step '${state.name}'; '${command.type}' does not apply there.`);
}

/**
 * The recovery state machine: pure and synchronous. Given the current state, a command and the
 * facts gathered for it, returns the next state, the effects to run and the audit events to record.
 * Decoys walk exactly the same transitions; they simply never pass a challenge.
 */
export function transition(state: RecoveryState, command: RecoveryCommand, facts: RecoveryFacts): RecoveryTransition {
  const subject = subjectOf(state);

  if (state.name === 'completed' || state.name === 'expired' || state.name === 'superseded' || state.name === 'interrupted') {
    throw new DomainError('flow.not_found');
  }

  switch (command.type) {
    case 'ChooseMethod': {
      if (state.name !== 'awaiting_method_choice' && state.name !== 'awaiting_challenge_answer') wrongState(state, command);
      const choice = facts.choice;
      if (!choice) throw new Error('ChooseMethod needs facts.choice');
      const policy = requirePolicy(facts);
      // SECURITY: a tier without self-service (break-glass) still walks the decoy path; the decision
      // to refuse lives here so that nothing downstream can forget it.
      const allowed = policy ? canAddGate(policy, state.gates.map((gate) => gateFactOf(gate.methodId)), gateFactOf(command.methodId)) : { ok: true as const };
      if (!allowed.ok) throw new DomainError(allowed.reason);
      const enrollmentId = policy ? choice.enrollmentId : null;
      return {
        state: { ...subject, name: 'awaiting_challenge_answer', gates: state.gates, challengeId: choice.challengeId, methodId: command.methodId, enrollmentId, prompt: choice.prompt },
        effects: [{ kind: 'issue_challenge', challengeId: choice.challengeId, methodId: command.methodId, enrollmentId }],
        events: [
          event('recovery.method_chosen', 'info', null, { method: command.methodId }),
          event('challenge.issued', 'info', null, { method: command.methodId, challenge_id: choice.challengeId, enrolled: enrollmentId !== null }),
        ],
        outcome: 'ok',
      };
    }

    case 'AnswerChallenge': {
      if (state.name !== 'awaiting_challenge_answer') wrongState(state, command);
      const answer = facts.answer;
      if (!answer) throw new Error('AnswerChallenge needs facts.answer');
      const data = { method: state.methodId, challenge_id: state.challengeId };
      if (answer === 'exhausted') {
        return {
          state: { ...subject, name: 'awaiting_method_choice', gates: state.gates },
          effects: [],
          events: [event('challenge.exhausted', 'failure', 'challenge.invalid', data)],
          outcome: 'challenge_exhausted',
        };
      }
      if (answer === 'failed' || state.enrollmentId === null) {
        return { state, effects: [], events: [event('challenge.failed', 'failure', 'challenge.invalid', data)], outcome: 'challenge_failed' };
      }
      const policy = requirePolicy(facts);
      if (!policy) {
        return { state, effects: [], events: [event('challenge.failed', 'failure', 'self_service.unavailable', data)], outcome: 'challenge_failed' };
      }
      const gates: Gate[] = [...state.gates, { methodId: state.methodId, enrollmentId: state.enrollmentId, passedAt: facts.now.toISOString() }];
      const events = [event('challenge.passed', 'success', null, data)];
      const verdict = evaluateGates(policy, gates.map((gate) => gateFactOf(gate.methodId)));
      if (!verdict.satisfied) {
        return {
          state: { ...subject, name: 'awaiting_method_choice', gates },
          effects: [{ kind: 'rotate_flow_secret' }],
          events,
          outcome: 'ok',
        };
      }
      if (state.purpose === 'sign_in') {
        return {
          state: { ...subject, name: 'completed', completedAt: facts.now.toISOString() },
          effects: [{ kind: 'create_session' }],
          events: [...events, event('sign_in.succeeded', 'success', null, { gates: gates.map((gate) => gate.methodId).join(' ') })],
          outcome: 'ok',
        };
      }
      const grantExpiresAt = new Date(facts.now.getTime() + policy.grantTtlSeconds * 1000).toISOString();
      return {
        state: { ...subject, name: grantStateName(state), gates, grantExpiresAt },
        effects: [{ kind: 'rotate_flow_secret' }],
        events: [...events, event('recovery.gates_satisfied', 'success', null, { gates: gates.map((gate) => gate.methodId).join(' ') })],
        outcome: 'ok',
      };
    }

    case 'SetPassword':
    case 'ConfirmUnlock': {
      const expected = command.type === 'SetPassword' ? 'awaiting_new_password' : 'awaiting_unlock_confirmation';
      if (state.name !== expected) wrongState(state, command);
      if (Date.parse(state.grantExpiresAt) <= facts.now.getTime()) {
        return { state: { ...subject, name: 'expired' }, effects: [], events: [event('recovery.expired', 'failure', 'flow.expired', { step: state.name })], outcome: 'expired' };
      }
      if (command.type === 'SetPassword') {
        const verdict = facts.passwordVerdict;
        if (!verdict) throw new Error('SetPassword needs facts.passwordVerdict');
        if (!verdict.ok) {
          // A refused password never burns the grant: the person tries another.
          return { state, effects: [], events: [event('password.rejected', 'failure', 'password.policy', { rules: verdict.reasons.join(' ') })], outcome: 'password_rejected', rejections: verdict.reasons };
        }
      }
      return {
        state: { ...subject, name: 'completing', gates: state.gates, grantExpiresAt: state.grantExpiresAt },
        effects: [{ kind: command.type === 'SetPassword' ? 'write_password' : 'unlock_account' }],
        // Recorded before the directory write, so a process killed mid-write still leaves a trace.
        events: [event('grant.claimed', 'info', null, { purpose: state.purpose })],
        outcome: 'ok',
      };
    }

    case 'CompletionFinished': {
      if (state.name !== 'completing') wrongState(state, command);
      const completion = facts.completion;
      if (!completion) throw new Error('CompletionFinished needs facts.completion');
      if (!completion.ok) {
        return {
          state: { ...subject, name: grantStateName(state), gates: state.gates, grantExpiresAt: state.grantExpiresAt },
          effects: [],
          events: [event('password.rejected', 'failure', 'password.directory_refused', {})],
          outcome: 'password_rejected',
          rejections: [completion.reason],
        };
      }
      const done = state.purpose === 'reset' ? event('password.reset', 'success', null, {}) : event('account.unlocked', 'success', null, { via: 'self_service' });
      return {
        state: { ...subject, name: 'completed', completedAt: facts.now.toISOString() },
        effects: [{ kind: 'finish_recovery' }],
        events: [done, event('recovery.completed', 'success', null, { purpose: state.purpose, gates: state.gates.map((gate) => gate.methodId).join(' ') })],
        outcome: 'ok',
      };
    }
  }
}
