import { z } from 'zod';

/**
 * The `breakGlass` policy section. Which accounts are break-glass is decided by
 * `tierGroups.break_glass` alone, everywhere (recovery refuses them, sealing needs it): `accounts`
 * is the inventory the operator expects to be sealed, so `breakglass status` can show one that
 * nobody sealed yet. SECURITY: a list that could designate accounts on its own would be a second
 * source of truth the recovery engine does not read, i.e. a listed account outside the group would
 * still get self-service.
 */
export const breakGlassPolicySchema = z
  .object({
    accounts: z.array(z.string().min(1).max(256)).max(100).default([]).describe('Usernames expected to be sealed break-glass accounts (members of tierGroups.break_glass); `breakglass status` lists the unsealed ones.'),
    drillIntervalDays: z.int().min(1).max(366).default(90).describe('Days between drills of each account; an overdue drill raises an alert.'),
    emergencyWindowMinutes: z.int().min(5).max(1_440).default(60).describe('How long an opened account keeps the password that was shown; then a worker re-seals it (new password, new shares).'),
    watchIntervalMinutes: z.int().min(1).max(1_440).default(15).describe('How often the directory is compared with each seal, re-seals fall due and drills become overdue.'),
    passwordLength: z.int().min(24).max(128).default(40).describe('Length of the random password a seal writes.'),
    openingTtlMinutes: z.int().min(5).max(240).default(30).describe('How long a console opening collects shares before it expires and its shares are wiped.'),
  })
  .strict();

export type BreakGlassPolicy = z.infer<typeof breakGlassPolicySchema>;
