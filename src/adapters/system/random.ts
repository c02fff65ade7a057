import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Random } from '../../core/ports/system.ts';

/**
 * The production {@link Random}: every byte comes from the operating system's CSPRNG through
 * node:crypto.
 *
 * Why: codes, tokens, seeds and salts are only as strong as their randomness (TOK-1, TOK-2).
 */
export function createSystemRandom(): Random {
  return Object.freeze({
    bytes(length: number): Buffer {
      if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`random.bytes: length must be a non-negative integer, got ${length}`);
      return randomBytes(length);
    },
    int(maxExclusive: number): number {
      // SECURITY: crypto.randomInt rejects out-of-range values by resampling, so a 10-digit code
      // alphabet has no modulo bias an attacker could use to favour some guesses over others.
      if (!Number.isSafeInteger(maxExclusive) || maxExclusive < 1) throw new RangeError(`random.int: maxExclusive must be a positive integer, got ${maxExclusive}`);
      if (maxExclusive === 1) return 0;
      return randomInt(maxExclusive);
    },
    uuid(): string {
      return randomUUID();
    },
  });
}
