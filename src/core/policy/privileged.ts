import { z } from 'zod';
import type { MethodId, StrengthClass } from '../methods/method-ids.ts';
import { METHOD_GATE_FACTS } from './gates.ts';

/**
 * The floor the `privileged` tier is held to (issue 5, FAC-4, PWD-1): two gates, at least one of
 * them an authenticator app, recovery code or phishing-resistant method, no email or SMS code
 * counted as a gate, and a password of at least 15 characters. Security questions never count for
 * any tier and two gates are the minimum for every tier; the schema refuses those outright. What
 * this module covers is what an organisation may knowingly loosen, and only with an
 * acknowledgement that names each loosened rule.
 */
export const PRIVILEGED_BASELINE = {
  strongClasses: ['phishing_resistant', 'possession'] as const satisfies readonly StrengthClass[],
  passwordMinLength: 15,
} as const;

/** Stable ids of the rules a policy can loosen for the privileged tier; an acknowledgement names them. */
export const PRIVILEGED_LOOSENING_RULES = ['weak_gate_method', 'strong_gate_not_required', 'short_password'] as const;
export type PrivilegedLooseningRule = (typeof PRIVILEGED_LOOSENING_RULES)[number];

const isoDate = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/** `privileged.looseningAcknowledged`: who accepted which loosened rules, why, and when. */
export const privilegedAcknowledgementSchema = z
  .object({
    rules: z
      .array(z.enum(PRIVILEGED_LOOSENING_RULES))
      .min(1)
      .describe('The loosened rules this acknowledgement covers; a loosening not listed here is still refused.'),
    by: z.string().trim().min(1).max(200).describe('Who accepted the loosening (a name or role).'),
    reason: z.string().trim().min(10, 'say why, in a sentence').max(1000).describe('Why the organisation accepts it.'),
    at: isoDate.describe('When it was accepted (ISO date or date-time).'),
  })
  .strict();
export type PrivilegedAcknowledgement = z.infer<typeof privilegedAcknowledgementSchema>;

/** The `privileged` section of the policy: confirmation holds and any acknowledged loosening. */
export const privilegedPolicySchema = z
  .object({
    holdForConfirmation: z
      .boolean()
      .describe('After a privileged reset or unlock, hold the account (no further self-service) until a second admin confirms it.'),
    confirmationDeadlineSeconds: z
      .int()
      .min(300)
      .max(7 * 86_400)
      .describe('How long a second admin has to confirm a held recovery before its absence is audited and escalated.'),
    looseningAcknowledged: privilegedAcknowledgementSchema
      .optional()
      .describe('Required when the privileged tier is looser than the baseline; lists each loosened rule.'),
  })
  .strict();
export type PrivilegedPolicy = z.infer<typeof privilegedPolicySchema>;

/** The parts of a policy the loosening check reads; kept structural so the schema can call it while refining. */
export interface PrivilegedPolicyFacts {
  readonly tiers: {
    readonly privileged: {
      readonly allowedMethods: readonly MethodId[];
      readonly requireOneOf: readonly StrengthClass[];
      readonly password: { readonly minLength: number };
    };
  };
  readonly privileged: { readonly looseningAcknowledged?: PrivilegedAcknowledgement | undefined };
}

/**
 * One way a policy is looser than the privileged baseline, as a finding `latchkey policy paths`
 * lists: the rule, the policy path of the loosened key (for FILE:LINE:COL), what it allows, and the
 * acknowledgement that covers it (null when none does, in which case the policy is refused).
 */
export interface PrivilegedLoosening {
  readonly kind: 'privileged_loosening';
  readonly rule: PrivilegedLooseningRule;
  readonly severity: 'high';
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly acknowledged: { readonly by: string; readonly reason: string; readonly at: string } | null;
}

/**
 * Every loosening of the privileged baseline in a policy, in a stable order. Pure. The schema
 * refuses a policy with an unacknowledged one; the policy-paths report lists all of them, covered
 * or not, so an accepted loosening stays visible.
 */
export function privilegedLoosenings(policy: PrivilegedPolicyFacts): PrivilegedLoosening[] {
  const tier = policy.tiers.privileged;
  const ack = policy.privileged.looseningAcknowledged;
  const coveredBy = (rule: PrivilegedLooseningRule): PrivilegedLoosening['acknowledged'] =>
    ack && ack.rules.includes(rule) ? { by: ack.by, reason: ack.reason, at: ack.at } : null;
  const found: PrivilegedLoosening[] = [];
  tier.allowedMethods.forEach((method, index) => {
    if (METHOD_GATE_FACTS[method].strength !== 'possession_weak') return;
    found.push({
      kind: 'privileged_loosening',
      rule: 'weak_gate_method',
      severity: 'high',
      path: ['tiers', 'privileged', 'allowedMethods', index],
      message: `${method} is too weak for privileged accounts (FAC-4): email and SMS codes are phishable and interceptable`,
      acknowledged: coveredBy('weak_gate_method'),
    });
  });
  const strong: readonly StrengthClass[] = PRIVILEGED_BASELINE.strongClasses;
  if (tier.requireOneOf.length === 0 || tier.requireOneOf.some((strength) => !strong.includes(strength))) {
    found.push({
      kind: 'privileged_loosening',
      rule: 'strong_gate_not_required',
      severity: 'high',
      path: ['tiers', 'privileged', 'requireOneOf'],
      message: `privileged recoveries do not require a ${strong.join(' or ')} gate: requireOneOf must list only those classes`,
      acknowledged: coveredBy('strong_gate_not_required'),
    });
  }
  if (tier.password.minLength < PRIVILEGED_BASELINE.passwordMinLength) {
    found.push({
      kind: 'privileged_loosening',
      rule: 'short_password',
      severity: 'high',
      path: ['tiers', 'privileged', 'password', 'minLength'],
      message: `privileged passwords may be shorter than ${PRIVILEGED_BASELINE.passwordMinLength} characters (NIST SP 800-63B-4, PWD-1)`,
      acknowledged: coveredBy('short_password'),
    });
  }
  return found;
}

/** A problem the schema reports for the privileged section: where, and what to do. */
export interface PrivilegedPolicyIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * What makes a policy unacceptable for the privileged tier: each loosening no acknowledgement
 * covers, and each acknowledged rule that is not loosened (a stale acknowledgement would silently
 * pre-approve a later loosening of that rule).
 */
export function privilegedPolicyIssues(policy: PrivilegedPolicyFacts): PrivilegedPolicyIssue[] {
  const loosenings = privilegedLoosenings(policy);
  const issues: PrivilegedPolicyIssue[] = loosenings
    .filter((loosening) => loosening.acknowledged === null)
    .map((loosening) => ({
      path: loosening.path,
      message: `${loosening.message}; a policy that loosens the privileged baseline needs privileged.looseningAcknowledged listing '${loosening.rule}' with by, reason and at`,
    }));
  const ack = policy.privileged.looseningAcknowledged;
  ack?.rules.forEach((rule, index) => {
    if (!loosenings.some((loosening) => loosening.rule === rule)) {
      issues.push({ path: ['privileged', 'looseningAcknowledged', 'rules', index], message: `'${rule}' is acknowledged but the policy does not loosen it; remove it` });
    }
  });
  return issues;
}
