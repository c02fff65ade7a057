import { z } from 'zod';

/** The shortest and longest pass lifetimes any policy may set: 10 minutes to 8 hours. */
export const PASS_LIFETIME_BOUNDS_SECONDS = { min: 600, max: 28_800 } as const;

export const HELPDESK_VERIFICATION_METHODS = ['method_code', 'manager_approval', 'out_of_band'] as const;

const lifetime = z.int().min(PASS_LIFETIME_BOUNDS_SECONDS.min, 'a pass lives at least 10 minutes (600 seconds)').max(PASS_LIFETIME_BOUNDS_SECONDS.max, 'a pass lives at most 8 hours (28800 seconds)');
const verificationMethods = z.array(z.enum(HELPDESK_VERIFICATION_METHODS)).min(1);

/**
 * Policy `temporaryAccessPass`: lifetimes and uses of Temporary Access Passes, how the helpdesk
 * must verify a person before issuing one, and day-one bulk issuance. Optional in the document:
 * every key has the secure default shown in policy/default.yaml.
 */
export const temporaryAccessPassPolicySchema = z
  .object({
    minLifetimeSeconds: lifetime.default(600).describe('Shortest lifetime an issuer may ask for.'),
    maxLifetimeSeconds: lifetime.default(28_800).describe('Longest lifetime an issuer may ask for (at most 8 hours).'),
    defaultLifetimeSeconds: lifetime.default(3_600).describe('Lifetime when the issuer names none (TOK-17: at most 1 hour recommended).'),
    maxUses: z.int().min(1).max(10).default(1).describe('Most uses an issuer may allow; 1 makes every pass one-time.'),
    defaultUses: z.int().min(1).max(10).default(1).describe('Uses when the issuer names none (TOK-17: one-time by default).'),
    helpdesk: z
      .object({
        verification: z
          .object({
            standard: verificationMethods.default(['method_code', 'manager_approval', 'out_of_band']).describe('How an agent may verify a standard account holder.'),
            privileged: verificationMethods.default(['method_code', 'manager_approval']).describe('How a security admin may verify a privileged account holder (no out-of-band check by default: PRIV-10).'),
          })
          .strict()
          .prefault({}),
        verificationTtlSeconds: z.int().min(60).max(3_600).default(900).describe('How long a verification stays usable for issuing one pass.'),
        approvalLinkTtlSeconds: z.int().min(300).max(86_400).default(3_600).describe('How long a manager’s approval link works.'),
        passesPerOperator: z
          .object({ points: z.int().min(1).max(1_000), windowSeconds: z.int().min(60).max(86_400) })
          .strict()
          .default({ points: 10, windowSeconds: 3_600 })
          .describe('Passes one operator may issue per window (PRIV-10: a talked-round or stolen console cannot hand out passes in bulk).'),
      })
      .strict()
      .prefault({}),
    dayOne: z
      .object({
        lifetimeSeconds: lifetime.default(28_800).describe('Lifetime of a day-one pass from its valid-from time.'),
        validFromTime: z
          .string()
          .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day HH:MM')
          .default('08:00')
          .describe('Time of day (in timeZone) on the start date from which a day-one pass works.'),
        timeZone: z
          .string()
          .refine((zone) => {
            try {
              new Intl.DateTimeFormat('en-US', { timeZone: zone });
              return true;
            } catch {
              return false;
            }
          }, 'must be an IANA time zone such as Europe/Berlin')
          .default('UTC')
          .describe('Time zone of start dates.'),
        uses: z.int().min(1).max(10).default(1).describe('Uses of a day-one pass.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((settings, ctx) => {
    if (settings.minLifetimeSeconds > settings.maxLifetimeSeconds) ctx.addIssue({ code: 'custom', path: ['minLifetimeSeconds'], message: 'must not exceed maxLifetimeSeconds' });
    if (settings.defaultLifetimeSeconds < settings.minLifetimeSeconds || settings.defaultLifetimeSeconds > settings.maxLifetimeSeconds) {
      ctx.addIssue({ code: 'custom', path: ['defaultLifetimeSeconds'], message: 'must lie between minLifetimeSeconds and maxLifetimeSeconds' });
    }
    if (settings.defaultUses > settings.maxUses) ctx.addIssue({ code: 'custom', path: ['defaultUses'], message: 'must not exceed maxUses' });
  });

export type TemporaryAccessPassPolicy = z.infer<typeof temporaryAccessPassPolicySchema>;
