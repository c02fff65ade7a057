import type { Clock } from '../../core/ports/system.ts';

/**
 * The wall clock. Only the composition root uses it; everything below receives a {@link Clock}.
 *
 * Why: expiry, rate windows and TOTP steps read time through the port, so tests control time
 * without sleeping.
 */
export const systemClock: Clock = Object.freeze({
  now: (): Date => new Date(),
});
