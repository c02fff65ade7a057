import { z } from 'zod';

/**
 * Policy `simSwap`: how recent a SIM swap takes a phone out of recovery, and what an unanswered
 * check means. Applies only when the server configures a SIM swap gateway (`simSwap` in
 * latchkey.yaml); without one no check runs.
 */
export const simSwapPolicySchema = z
  .object({
    maxAgeHours: z
      .int()
      .min(1)
      .max(2_400, 'the CAMARA SIM Swap API looks back at most 2400 hours')
      .describe('A number whose SIM changed within this many hours is not accepted as an sms_code gate (CAMARA maxAge; 240 = ten days).'),
    onUnavailable: z
      .enum(['allow', 'refuse'])
      .describe('When the check cannot be answered (timeout, 5xx, refused token): `refuse` treats the number as swapped, `allow` sends the code anyway.'),
  })
  .strict();

export type SimSwapPolicy = z.infer<typeof simSwapPolicySchema>;

/** SECURITY: an unanswered check refuses by default, so an attacker cannot win by making the gateway slow. */
export const DEFAULT_SIM_SWAP_POLICY: SimSwapPolicy = { maxAgeHours: 240, onUnavailable: 'refuse' };
