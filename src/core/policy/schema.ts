import { z } from 'zod';
import { METHOD_IDS, STRENGTH_CLASSES } from '../methods/method-ids.ts';
import { METHOD_GATE_FACTS } from './gates.ts';
import { monitoringPolicySchema } from '../monitoring/detectors/settings.ts';
import { DEFAULT_SIM_SWAP_POLICY, simSwapPolicySchema } from '../phone/sim-swap-policy.ts';
import { privilegedPolicyIssues, privilegedPolicySchema } from './privileged.ts';
import { honeytokenPolicySchema } from '../honeytoken/honeytoken.ts';
import { breakGlassPolicySchema } from '../breakglass/policy.ts';
import { lifecyclePolicySchema } from '../lifecycle/policy.ts';
import { temporaryAccessPassPolicySchema } from '../helpdesk/policy.ts';

/*
 * The recovery policy: one versioned YAML document, validated by this one schema. The engine, the
 * CLI (`latchkey policy check|show`) and the admin API read the same parsed value. Every field is
 * strict: an unknown key is an error, so a typo never silently falls back to a default.
 */

const rateRule = z
  .object({
    points: z.int().min(1).max(100_000).describe('How many events are allowed per window.'),
    windowSeconds: z.int().min(1).max(86_400).describe('Length of the window in seconds.'),
  })
  .strict();

const methodId = z.enum(METHOD_IDS);
const strengthClass = z.enum(STRENGTH_CLASSES);

const passwordRules = z
  .object({
    minLength: z
      .int()
      .min(8, 'NIST SP 800-63B allows no minimum below 8 characters')
      .max(64)
      .describe('Minimum length in characters (NIST SP 800-63B-4: 15 when the password is a single factor).'),
    maxLength: z
      .int()
      .min(64, 'passwords of at least 64 characters must be accepted (NIST SP 800-63B, ASVS 6.2.9)')
      .max(256)
      .describe('Maximum length in characters; a bound against resource exhaustion, never below 64.'),
    blocklist: z
      .boolean()
      .describe('Refuse passwords found in the shipped list of common passwords (also with digits or symbols added), and one short piece repeated or a simple run such as abcdef or 12345.'),
    contextWords: z.boolean().describe('Refuse passwords built from the username, display name, organisation or policy context words.'),
    breachedCheck: z.boolean().describe('Refuse passwords the breached-password range API has seen (needs breachedPasswordApi in the server configuration).'),
  })
  .strict();

const tierPolicy = z
  .object({
    selfService: z.boolean().describe('Whether people of this tier may reset or unlock by themselves at all.'),
    allowedMethods: z.array(methodId).min(1).describe('Methods that may serve as gates for this tier.'),
    gatesRequired: z.int().min(2, 'a reset or unlock needs at least two gates').max(4).describe('How many distinct gates a reset or unlock needs.'),
    requireOneOf: z
      .array(strengthClass)
      .describe('At least one gate must be of one of these strength classes; empty means no such rule.'),
    minEnrolledMethods: z.int().min(1).max(8).describe('People with fewer active methods are prompted to register more.'),
    maxAttemptsPerChallenge: z.int().min(1).max(10).describe('Wrong answers allowed per code before the code is burned.'),
    flowTtlSeconds: z.int().min(60).max(3_600).describe('Time limit for the whole flow.'),
    grantTtlSeconds: z.int().min(30).max(900).describe('Time to choose the new password once every gate is passed.'),
    failureThrottle: rateRule.describe('Failed gates per account (all methods and flows share it) before recovery is throttled.'),
    failureCeiling: rateRule
      .refine((rule) => rule.points <= 100, 'at most 100 answers per window: NIST SP 800-63B allows no more than 100 consecutive failures')
      .describe('A second, longer budget of answers per account, so the short throttle cannot be waited out indefinitely (RATE-2).'),
    password: passwordRules,
  })
  .strict();

const breakGlassTier = z
  .object({
    selfService: z.literal(false, { message: 'break-glass accounts never get self-service' }),
  })
  .strict();

export const policySchema = z
  .object({
    version: z.literal(1).describe('Policy document format version.'),
    organisationName: z.string().min(1).max(200).describe('Shown in messages; also a context word passwords may not be built on.'),
    contextWords: z.array(z.string().min(3).max(64)).describe('More words passwords may not be built on (product names, city).'),
    tierGroups: z
      .object({
        privileged: z.array(z.string().min(1)).describe('Directory groups whose members get the privileged tier.'),
        break_glass: z.array(z.string().min(1)).describe('Directory groups whose members are break-glass accounts.'),
      })
      .strict(),
    adminRoles: z
      .object({
        security_admin: z.array(z.string().min(1)).default([]).describe('Directory groups whose members are security admins (every admin permission).'),
        helpdesk: z.array(z.string().min(1)).default([]).describe('Directory groups whose members are helpdesk staff (read and unlock accounts, revoke methods, issue temporary access passes).'),
        auditor: z.array(z.string().min(1)).default([]).describe('Directory groups whose members are auditors (read everything, change nothing).'),
      })
      .strict()
      .prefault({})
      .describe('Which directory groups hold which admin-console role (docs/admin.md); empty means no directory account is an admin.'),
    methods: z
      .object({
        email_code: z
          .object({
            codeLength: z.int().min(6).max(10).describe('Digits in an email code (TOK-2: at least 6; 8 recommended).'),
            codeTtlSeconds: z
              .int()
              .min(60)
              .max(86_400, 'email codes live at most 24 hours (NIST SP 800-63B-4 §4.2.1.2, TOK-3)')
              .describe('Lifetime of an email code in seconds (TOK-3: at most 24 hours; 10 minutes recommended).'),
          })
          .strict(),
        sms_code: z
          .object({
            codeLength: z.int().min(6).max(10).describe('Digits in an SMS code (TOK-2: at least 6).'),
            codeTtlSeconds: z
              .int()
              .min(60)
              .max(600, 'SMS codes live at most 10 minutes (ASVS 6.5.5, TOK-3)')
              .describe('Lifetime of an SMS code in seconds (TOK-3: at most 10 minutes).'),
          })
          .strict(),
        totp: z
          .object({
            issuer: z.string().min(1).max(64).describe('Issuer name shown in authenticator apps.'),
            digits: z.literal([6, 8]).describe('Digits per TOTP code: 6 or 8.'),
            periodSeconds: z.literal(30).describe('TOTP time step in seconds; fixed at 30 for authenticator-app compatibility.'),
            driftSteps: z
              .int()
              .min(0)
              .max(1, 'accept at most one time step either side (TOK-14)')
              .describe('Time steps accepted either side of the current one to absorb clock drift (TOK-14: at most 1).'),
          })
          .strict(),
        recovery_code: z
          .object({ count: z.int().min(5).max(20).describe('Recovery codes issued per set; each works once (TOK-16).') })
          .strict(),
        security_questions: z
          .object({
            enabled: z.boolean().describe('Off by default; enabling them breaks ASVS 6.4.2 conformance. They never count as a gate.'),
            questions: z.array(z.string().min(5).max(200)).describe('The catalogue people choose from.'),
            answersRequired: z.int().min(1).max(5).describe('Questions a person answers at enrollment and when asked.'),
          })
          .strict(),
        webauthn: z
          .object({
            userVerification: z
              .enum(['required', 'preferred'])
              .default('required')
              .describe('Whether the passkey must verify the person (PIN, fingerprint) or only their presence: required makes it two factors in one.'),
            challengeTtlSeconds: z.int().min(30).max(600).default(300).describe('How long a passkey registration or sign-in challenge stays open.'),
          })
          .strict()
          .prefault({})
          .describe('Passkeys and security keys (docs/passkeys.md); the relying party comes from the server configuration.'),
      })
      .strict(),
    tiers: z
      .object({
        standard: tierPolicy,
        privileged: tierPolicy,
        break_glass: breakGlassTier,
      })
      .strict(),
    signIn: z
      .object({
        lockoutThreshold: z.int().min(3).max(100, 'NIST SP 800-63B allows at most 100 consecutive failures').describe('Failed sign-ins to the built-in directory before the account locks.'),
        sessionTtlSeconds: z.int().min(60).max(3_600).describe('Lifetime of a session for managing recovery methods.'),
        stepUpSeconds: z.int().min(60).max(1_800).describe('Adding or removing a method needs a sign-in at most this old.'),
      })
      .strict(),
    rateLimits: z
      .object({
        perIp: rateRule.describe('Recovery and sign-in requests per client address.'),
        perIdentifier: rateRule.describe('Flows started per account (or unknown identifier).'),
        perFlow: rateRule.describe('Requests per flow.'),
        messagesPerRecipient: rateRule.describe('Codes sent per account and channel (stops mail and SMS bombing).'),
      })
      .strict(),
    lifecycle: lifecyclePolicySchema.describe('Changing methods safely: cooling-off, "this wasn\'t me" links, changes after a recovery, re-confirmation (docs/lifecycle.md).'),
    monitoring: monitoringPolicySchema.describe('Anomaly detectors over the audit stream, one entry each (docs/policy.md#monitoring).'),
    simSwap: simSwapPolicySchema
      .prefault(DEFAULT_SIM_SWAP_POLICY)
      .describe('SIM swap checks before an SMS code is sent or accepted, when a gateway is configured (docs/sim-swap-and-travel.md).'),
    privileged: privilegedPolicySchema
      .prefault({ holdForConfirmation: false, confirmationDeadlineSeconds: 86_400 })
      .describe('Privileged recoveries: confirmation holds, and the acknowledgement any loosening of the privileged baseline needs (docs/privileged-accounts.md).'),
    temporaryAccessPass: temporaryAccessPassPolicySchema
      .prefault({})
      .describe('Temporary Access Passes: lifetimes and uses, helpdesk verification, day-one issuance (docs/helpdesk-and-tap.md).'),
    breakGlass: breakGlassPolicySchema
      .prefault({})
      .describe('Break-glass custody: drill interval, emergency window, watch interval (docs/break-glass.md).'),
    honeytokens: honeytokenPolicySchema
      .prefault({ usernames: [], groups: [] })
      .describe('Decoy accounts: any recovery, sign-in or admin lookup touching them raises a high-severity alert (docs/privileged-accounts.md#honeytokens).'),
    governance: z
      .object({
        approvedMethods: z
          .array(methodId)
          .default(['totp', 'recovery_code', 'email_code', 'sms_code'])
          .describe('Methods the organisation has approved for recovery; a tier that allows any other is a finding of `latchkey policy paths`.'),
      })
      .strict()
      .prefault({})
      .describe('What recovery-path analysis compares the policy and the registered methods with (docs/policy-paths.md).'),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const { security_questions: questions } = policy.methods;
    if (questions.questions.length < questions.answersRequired) {
      ctx.addIssue({
        code: 'custom',
        path: ['methods', 'security_questions', 'questions'],
        message: `${questions.answersRequired} answers are required but the catalogue has only ${questions.questions.length} questions`,
      });
    }
    for (const tier of ['standard', 'privileged'] as const) {
      const rules = policy.tiers[tier];
      rules.allowedMethods.forEach((method, index) => {
        // SECURITY: knowledge answers are not a factor (FAC-6); counting them would let a guessable
        // answer stand in for a possession gate.
        if (method === 'security_questions') {
          ctx.addIssue({
            code: 'custom',
            path: ['tiers', tier, 'allowedMethods', index],
            message: 'security_questions can never be a gate; enable them under methods.security_questions as an extra step only',
          });
        }
      });
      // SECURITY: two gates over one channel are one proof (FAC-3), so count independent channels.
      const gateMethods = [...new Set(rules.allowedMethods)].filter((method) => METHOD_GATE_FACTS[method].countsAsGate);
      const channels = new Set(gateMethods.map((method) => METHOD_GATE_FACTS[method].channel)).size;
      if (channels < rules.gatesRequired) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', tier, 'gatesRequired'],
          message: `${rules.gatesRequired} gates are required but the allowed methods offer only ${channels} independent ${channels === 1 ? 'channel' : 'channels'}`,
        });
      }
      if (
        rules.requireOneOf.length > 0 &&
        !gateMethods.some((method) => rules.requireOneOf.includes(METHOD_GATE_FACTS[method].strength))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', tier, 'requireOneOf'],
          message: `no allowed method is of class ${rules.requireOneOf.join(' or ')}, so no recovery could ever finish`,
        });
      }
      if (rules.minEnrolledMethods < rules.gatesRequired) {
        ctx.addIssue({
          code: 'custom',
          path: ['tiers', tier, 'minEnrolledMethods'],
          message: `must be at least gatesRequired (${rules.gatesRequired}), or people could keep too few methods to ever recover`,
        });
      }
    }
    // SECURITY: an administrator account recovered with email or SMS codes, without a strong gate or
    // with a short password is one SIM swap or mailbox compromise away from takeover (FAC-4, PWD-1).
    // Such a policy is refused unless an acknowledgement names each loosened rule.
    for (const issue of privilegedPolicyIssues(policy)) ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
  });

export type Policy = z.infer<typeof policySchema>;
export type TierPolicy = z.infer<typeof tierPolicy>;
export type PasswordRules = z.infer<typeof passwordRules>;
export type RateRule = z.infer<typeof rateRule>;
