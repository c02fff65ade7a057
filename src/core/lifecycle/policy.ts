import { z } from 'zod';

/*
 * The `lifecycle` section of the policy document: how long a changed method waits before it counts,
 * how long a "this wasn't me" link lives, how long after a recovery method changes are treated as
 * suspect, and how often methods must be re-confirmed. Durations are seconds unless named in days.
 * The section may be left out: every key has the secure default shown in policy/default.yaml.
 */

const HOUR = 3_600;
const DAY = 86_400;

export const lifecyclePolicySchema = z
  .object({
    coolingOffSeconds: z
      .object({
        standard: z.int().min(0).max(30 * DAY).default(24 * HOUR).describe('A method added or changed on a standard account serves as no gate (and no sign-in gate) for this long.'),
        privileged: z.int().min(HOUR, 'privileged accounts wait at least an hour before a new method counts').max(30 * DAY).default(72 * HOUR).describe('The same for privileged accounts.'),
      })
      .strict()
      .prefault({})
      .describe('Cooling-off after a method change (docs/lifecycle.md#cooling-off).'),
    disputeLinkTtlSeconds: z
      .int()
      .min(HOUR)
      .max(14 * DAY)
      .default(7 * DAY)
      .describe('How long the "this wasn\'t me" link in a change notice works.'),
    afterRecoverySeconds: z
      .int()
      .min(0)
      .max(30 * DAY)
      .default(72 * HOUR)
      .describe('For this long after a reset or unlock, signing in to change methods takes the full gate count and every change raises an alert.'),
    reconfirmation: z
      .object({
        intervalDays: z.int().min(7).max(3_650).default(180).describe('A method neither verified nor used for this many days must be re-confirmed.'),
        graceDays: z.int().min(1).max(365).default(30).describe('After the interval plus this many days, an unconfirmed method no longer counts as a recovery gate.'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type LifecyclePolicy = z.infer<typeof lifecyclePolicySchema>;
