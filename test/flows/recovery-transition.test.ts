import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/core/policy/load.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import type { Policy, TierPolicy } from '../../src/core/policy/schema.ts';
import type { ChallengePrompt } from '../../src/core/methods/method.ts';
import { transition, type RecoveryCommand, type RecoveryFacts } from '../../src/core/flows/recovery/transition.ts';
import type { Gate, RecoveryState, RecoverySubject } from '../../src/core/flows/recovery/state.ts';
import { DomainError } from '../../src/core/errors.ts';

const parsed = parsePolicy(readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8'), 'default.yaml');
if (!parsed.ok) throw new Error('default policy must parse');
const policy: Policy = parsed.policy;
const standard: TierPolicy = policy.tiers.standard;
const now = new Date('2026-03-01T12:00:00Z');
const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000);

const subject = (overrides: Partial<RecoverySubject> = {}): RecoverySubject => ({
  purpose: 'reset',
  decoy: false,
  subjectKey: 'builtin:alice',
  tier: 'standard',
  department: 'Sales',
  seed: 'seed',
  ...overrides,
});
const prompt: ChallengePrompt = { methodId: 'email_code', answerKind: 'numeric_code', codeLength: 8, questions: [] };
const gate = (methodId: Gate['methodId']): Gate => ({ methodId, enrollmentId: `enr-${methodId}`, passedAt: now.toISOString() });
const choosing = (gates: Gate[] = [], over: Partial<RecoverySubject> = {}): RecoveryState => ({ ...subject(over), name: 'awaiting_method_choice', gates });
const answering = (methodId: Gate['methodId'], gates: Gate[] = [], enrollmentId: string | null = `enr-${methodId}`, over: Partial<RecoverySubject> = {}): RecoveryState => ({
  ...subject(over),
  name: 'awaiting_challenge_answer',
  gates,
  challengeId: 'ch-1',
  methodId,
  enrollmentId,
  prompt: { ...prompt, methodId },
});
const granted = (purpose: 'reset' | 'unlock', expiresInSeconds = 300): RecoveryState => ({
  ...subject({ purpose }),
  name: purpose === 'reset' ? 'awaiting_new_password' : 'awaiting_unlock_confirmation',
  gates: [gate('email_code'), gate('totp')],
  grantExpiresAt: later(expiresInSeconds).toISOString(),
});
const completing = (purpose: 'reset' | 'unlock'): RecoveryState => ({ ...subject({ purpose }), name: 'completing', gates: [gate('email_code'), gate('totp')], grantExpiresAt: later(300).toISOString() });

interface Row {
  readonly name: string;
  readonly state: RecoveryState;
  readonly command: RecoveryCommand;
  readonly facts: RecoveryFacts;
  readonly next: RecoveryState['name'];
  readonly effects: readonly string[];
  readonly events: readonly string[];
  readonly outcome: string;
}

const choice = { enrollmentId: 'enr-email_code', challengeId: 'ch-9', prompt };

const rows: Row[] = [
  { name: 'choosing a method issues a challenge', state: choosing(), command: { type: 'ChooseMethod', methodId: 'email_code' }, facts: { now, tierPolicy: standard, choice }, next: 'awaiting_challenge_answer', effects: ['issue_challenge'], events: ['recovery.method_chosen', 'challenge.issued'], outcome: 'ok' },
  { name: 'choosing again while answering replaces the challenge', state: answering('email_code'), command: { type: 'ChooseMethod', methodId: 'totp' }, facts: { now, tierPolicy: standard, choice: { ...choice, enrollmentId: 'enr-totp' } }, next: 'awaiting_challenge_answer', effects: ['issue_challenge'], events: ['recovery.method_chosen', 'challenge.issued'], outcome: 'ok' },
  { name: 'a decoy chooses exactly like a real subject', state: choosing([], { decoy: true }), command: { type: 'ChooseMethod', methodId: 'email_code' }, facts: { now, tierPolicy: null, choice: { ...choice, enrollmentId: null } }, next: 'awaiting_challenge_answer', effects: ['issue_challenge'], events: ['recovery.method_chosen', 'challenge.issued'], outcome: 'ok' },
  { name: 'a wrong answer keeps the challenge open', state: answering('email_code'), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'failed' }, next: 'awaiting_challenge_answer', effects: [], events: ['challenge.failed'], outcome: 'challenge_failed' },
  { name: 'an exhausted challenge returns to method choice', state: answering('email_code'), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'exhausted' }, next: 'awaiting_method_choice', effects: [], events: ['challenge.exhausted'], outcome: 'challenge_exhausted' },
  { name: 'the first passed gate rotates the flow secret and asks for another', state: answering('email_code'), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'passed' }, next: 'awaiting_method_choice', effects: ['rotate_flow_secret'], events: ['challenge.passed'], outcome: 'ok' },
  { name: 'the last gate grants a new password', state: answering('totp', [gate('email_code')]), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'passed' }, next: 'awaiting_new_password', effects: ['rotate_flow_secret'], events: ['challenge.passed', 'recovery.gates_satisfied'], outcome: 'ok' },
  { name: 'the last gate of an unlock asks to confirm the unlock', state: answering('totp', [gate('email_code')], 'enr-totp', { purpose: 'unlock' }), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'passed' }, next: 'awaiting_unlock_confirmation', effects: ['rotate_flow_secret'], events: ['challenge.passed', 'recovery.gates_satisfied'], outcome: 'ok' },
  { name: 'a sign-in gate opens a session', state: answering('totp', [], 'enr-totp', { purpose: 'sign_in' }), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: { ...standard, gatesRequired: 1, requireOneOf: [] }, answer: 'passed' }, next: 'completed', effects: ['create_session'], events: ['challenge.passed', 'sign_in.succeeded'], outcome: 'ok' },
  { name: 'a challenge without an enrollment (decoy or missing method) never passes', state: answering('email_code', [], null), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'passed' }, next: 'awaiting_challenge_answer', effects: [], events: ['challenge.failed'], outcome: 'challenge_failed' },
  { name: 'a tier without self-service never passes a gate', state: answering('email_code'), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: null, answer: 'passed' }, next: 'awaiting_challenge_answer', effects: [], events: ['challenge.failed'], outcome: 'challenge_failed' },
  { name: 'a refused password keeps the grant', state: granted('reset'), command: { type: 'SetPassword' }, facts: { now, tierPolicy: standard, passwordVerdict: { ok: false, reasons: ['too short'] } }, next: 'awaiting_new_password', effects: [], events: ['password.rejected'], outcome: 'password_rejected' },
  { name: 'an accepted password claims the grant before the directory write', state: granted('reset'), command: { type: 'SetPassword' }, facts: { now, tierPolicy: standard, passwordVerdict: { ok: true } }, next: 'completing', effects: ['write_password'], events: ['grant.claimed'], outcome: 'ok' },
  { name: 'an expired grant ends the flow', state: granted('reset', -1), command: { type: 'SetPassword' }, facts: { now, tierPolicy: standard, passwordVerdict: { ok: true } }, next: 'expired', effects: [], events: ['recovery.expired'], outcome: 'expired' },
  { name: 'confirming an unlock claims the grant', state: granted('unlock'), command: { type: 'ConfirmUnlock' }, facts: { now, tierPolicy: standard }, next: 'completing', effects: ['unlock_account'], events: ['grant.claimed'], outcome: 'ok' },
  { name: 'a directory refusal gives the grant back', state: completing('reset'), command: { type: 'CompletionFinished' }, facts: { now, tierPolicy: standard, completion: { ok: false, reason: 'history' } }, next: 'awaiting_new_password', effects: [], events: ['password.rejected'], outcome: 'password_rejected' },
  { name: 'a written password completes the reset', state: completing('reset'), command: { type: 'CompletionFinished' }, facts: { now, tierPolicy: standard, completion: { ok: true } }, next: 'completed', effects: ['finish_recovery'], events: ['password.reset', 'recovery.completed'], outcome: 'ok' },
  { name: 'a cleared lock completes the unlock', state: completing('unlock'), command: { type: 'CompletionFinished' }, facts: { now, tierPolicy: standard, completion: { ok: true } }, next: 'completed', effects: ['finish_recovery'], events: ['account.unlocked', 'recovery.completed'], outcome: 'ok' },
];

describe('the recovery state machine', () => {
  it.each(rows)('$name', (row) => {
    const result = transition(row.state, row.command, row.facts);
    expect(result.state.name).toBe(row.next);
    expect(result.effects.map((effect) => effect.kind)).toEqual(row.effects);
    expect(result.events.map((event) => event.type)).toEqual(row.events);
    expect(result.outcome).toBe(row.outcome);
  });

  const refusals: { name: string; state: RecoveryState; command: RecoveryCommand; facts: RecoveryFacts; code: string }[] = [
    { name: 'FAC-2 setting a password before every gate is passed', state: choosing([gate('email_code')]), command: { type: 'SetPassword' }, facts: { now, tierPolicy: standard, passwordVerdict: { ok: true } }, code: 'flow.wrong_state' },
    { name: 'FAC-8 setting a password with an unlock grant', state: granted('unlock'), command: { type: 'SetPassword' }, facts: { now, tierPolicy: standard, passwordVerdict: { ok: true } }, code: 'flow.wrong_state' },
    { name: 'unlocking with a reset grant', state: granted('reset'), command: { type: 'ConfirmUnlock' }, facts: { now, tierPolicy: standard }, code: 'flow.wrong_state' },
    { name: 'FAC-3 choosing the method of a passed gate again', state: choosing([gate('email_code')]), command: { type: 'ChooseMethod', methodId: 'email_code' }, facts: { now, tierPolicy: standard, choice }, code: 'method.already_used' },
    { name: 'FAC-4 choosing a method the tier does not allow', state: choosing([], { tier: 'privileged' }), command: { type: 'ChooseMethod', methodId: 'sms_code' }, facts: { now, tierPolicy: policy.tiers.privileged, choice }, code: 'method.not_allowed' },
    { name: 'answering when no challenge is open', state: choosing(), command: { type: 'AnswerChallenge' }, facts: { now, tierPolicy: standard, answer: 'passed' }, code: 'flow.wrong_state' },
    { name: 'any command on a completed flow', state: { ...subject(), name: 'completed', completedAt: now.toISOString() }, command: { type: 'ChooseMethod', methodId: 'totp' }, facts: { now, tierPolicy: standard, choice }, code: 'flow.not_found' },
  ];

  it.each(refusals)('refuses $name', (row) => {
    let caught: unknown;
    try {
      transition(row.state, row.command, row.facts);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DomainError);
    expect((caught as DomainError).code).toBe(row.code);
  });

  it('never lets a decoy reach a grant, whatever answers it is given', () => {
    let state: RecoveryState = choosing([], { decoy: true });
    for (const methodId of ['email_code', 'totp', 'recovery_code', 'sms_code'] as const) {
      state = transition(state, { type: 'ChooseMethod', methodId }, { now, tierPolicy: null, choice: { ...choice, enrollmentId: null } }).state;
      state = transition(state, { type: 'AnswerChallenge' }, { now, tierPolicy: null, answer: 'passed' }).state;
      expect(state.name).toBe('awaiting_challenge_answer');
    }
  });
});
