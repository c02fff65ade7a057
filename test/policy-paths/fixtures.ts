import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { expect } from 'vitest';
import { call, json, latestCode, registerTotp, signInFresh, type Harness, type Person } from '../support/harness.ts';

export const DEFAULT_POLICY_TEXT = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8');

/** The shipped default as a plain object to edit (a fresh copy each call). */
export function defaultPolicyData(): Policy {
  return parse(DEFAULT_POLICY_TEXT) as Policy;
}

/** A policy text with `edit` applied to the shipped default; throws if the result does not validate. */
export function policyText(edit: (policy: Policy) => void): string {
  const data = defaultPolicyData();
  edit(data);
  const text = stringify(data);
  const parsed = parsePolicy(text, 'edited.yaml');
  if (!parsed.ok) throw new Error(`the edited policy does not validate:\n${parsed.errors.map(formatPolicyError).join('\n')}`);
  return text;
}

export function policyOf(text: string): Policy {
  const parsed = parsePolicy(text, 'policy.yaml');
  if (!parsed.ok) throw new Error(parsed.errors.map(formatPolicyError).join('\n'));
  return parsed.policy;
}

/**
 * A deliberately weak policy: standard accounts may finish with email + SMS (no strong gate
 * required), the helpdesk pass is allowed as a gate without being approved, and the privileged
 * tier accepts SMS and no longer needs a strong gate, both acknowledged.
 */
export const weakEdit = (policy: Policy): void => {
  policy.tiers.standard.allowedMethods = ['totp', 'email_code', 'sms_code', 'temporary_access_pass'];
  policy.tiers.standard.requireOneOf = [];
  policy.tiers.privileged.allowedMethods = ['totp', 'sms_code'];
  policy.tiers.privileged.requireOneOf = [];
  policy.privileged = {
    ...policy.privileged,
    looseningAcknowledged: { rules: ['weak_gate_method', 'strong_gate_not_required'], by: 'CISO', reason: 'Field admins have no smartphones yet.', at: '2026-11-01' },
  };
  // Every other key of the section keeps its default (the schema fills them in).
  const verification = { standard: ['out_of_band'], privileged: ['method_code', 'out_of_band'] };
  Object.assign(policy, { temporaryAccessPass: { helpdesk: { verification } } });
};

/** Registers the given methods through the self-service API, each verified as a person would. */
export async function enrol(h: Harness, person: Person, methods: { email?: string; totp?: boolean; recoveryCodes?: boolean }): Promise<void> {
  const session = await signInFresh(h, person);
  if (methods.email !== undefined) {
    const added = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: methods.email }, { token: session }));
    const verified = await call(h, 'POST', `/api/me/methods/${added.enrollment.id}/verify`, { code: await latestCode(h, methods.email) }, { token: session });
    expect(verified.statusCode, verified.body).toBe(200);
  }
  if (methods.totp === true) await registerTotp(h, session);
  if (methods.recoveryCodes === true) {
    const added = await call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, { token: session });
    // The body holds the codes themselves: only the status goes into a failure message.
    expect(added.statusCode).toBe(201);
  }
}

