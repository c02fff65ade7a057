import { availableParallelism } from 'node:os';
import { hash as argon2Hash, verify as argon2Verify, parseOptions } from '@node-rs/argon2';
import type { Algorithm, Options } from '@node-rs/argon2';
import type { PasswordHasher } from '../../core/ports/system.ts';

/** `Algorithm.Argon2id` (an ambient const enum, which isolatedModules cannot read by name). */
const ARGON2ID = 2 as Algorithm;

/** Tuning for {@link createArgon2Hasher}. Defaults follow the OWASP argon2id baseline (m=19 MiB, t=2, p=1). */
export interface Argon2HasherOptions {
  /** How many hashes or verifications run at once; the rest wait in FIFO order. Default {@link defaultMaxConcurrent}. */
  readonly maxConcurrent?: number;
  /** Memory per hash in KiB. Default 19456 (19 MiB). */
  readonly memoryCost?: number;
  /** Passes over memory. Default 2. */
  readonly timeCost?: number;
  /** Lanes. Default 1. */
  readonly parallelism?: number;
}

/** How busy the hasher is; for a metrics gauge and for tests. */
export interface HasherLoad {
  /** Hashes or verifications running now (never above maxConcurrent). */
  readonly active: number;
  /** Calls waiting for a slot. */
  readonly queued: number;
}

/**
 * A {@link PasswordHasher} with two extras: `needsRehash` (the stored hash was made with other
 * parameters, so re-hash it after the next successful verify) and `load` (queue depth).
 */
export interface Argon2Hasher extends PasswordHasher {
  needsRehash(hash: string): boolean;
  load(): HasherLoad;
}

/**
 * The largest parameters `verify` agrees to run. A stored hash claiming more is treated as
 * malformed.
 *
 * SECURITY: a corrupted or planted hash such as `m=4194304` would otherwise make one verify
 * allocate 4 GiB: a denial of service through the database.
 */
const VERIFY_LIMITS = { memoryCost: 262_144, timeCost: 16, parallelism: 8 } as const;

/**
 * The default cap on hashes and verifications running at once: one fewer than the cores this
 * process may use (`os.availableParallelism()`), and at least one. On a 2-core machine: 1.
 *
 * Why: one argon2id hash (m=19 MiB, t=2) keeps a core busy for about 11 ms in a libuv pool thread,
 * while everything else the server does (HTTP parsing, validation, SQLite, crypto, JSON for every
 * request, password-less ones included) runs on the single main thread. With as many hashes in
 * flight as there are cores, a burst of resets or sign-ins takes every core and the event loop must
 * compete with the hashes for CPU time: every request, not only the hashing ones, then waits for a
 * core, and the requests that lead up to a password change slow down with it. Leaving one core to the
 * event loop keeps request handling responsive; the price is a hash ceiling of (cores − 1) cores
 * instead of all of them (half of it on 2 cores), with the excess waiting in the FIFO queue.
 */
export function defaultMaxConcurrent(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** A counting semaphore whose waiters are served strictly first come, first served. */
export interface Limiter {
  run<T>(work: () => Promise<T>): Promise<T>;
  load(): HasherLoad;
}

/**
 * Creates a FIFO counting semaphore allowing `max` concurrent tasks.
 *
 * Why: argon2id is deliberately memory-hard; without a cap a burst of sign-ins or resets would run
 * one 19 MiB hash per request at once and exhaust memory or starve the event loop's thread pool.
 */
export function createLimiter(max: number): Limiter {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${max}`);
  let active = 0;
  const waiters: (() => void)[] = [];

  const acquire = (): Promise<void> => {
    if (active < max) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => waiters.push(resolve));
  };

  const release = (): void => {
    const next = waiters.shift();
    // The slot passes straight to the oldest waiter, so `active` never dips and a newcomer
    // cannot overtake the queue.
    if (next) next();
    else active -= 1;
  };

  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
    load: () => ({ active, queued: waiters.length }),
  };
}

/**
 * Creates the production {@link PasswordHasher}: argon2id through @node-rs/argon2 (libargon2 in a
 * native thread), salted with 16 random bytes per hash, PHC-encoded
 * (`$argon2id$v=19$m=19456,t=2,p=1$…`). At most `maxConcurrent` hashes or verifies run at once
 * (by default all cores but one: see {@link defaultMaxConcurrent}).
 *
 * Why: PWD-8 asks for a memory-hard, salted password hash; the queue keeps a burst from
 * exhausting memory (see {@link createLimiter}).
 */
export function createArgon2Hasher(options: Argon2HasherOptions = {}): Argon2Hasher {
  const params = {
    memoryCost: options.memoryCost ?? 19_456,
    timeCost: options.timeCost ?? 2,
    parallelism: options.parallelism ?? 1,
  };
  for (const [name, value] of Object.entries(params)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`argon2 ${name} must be a positive integer, got ${value}`);
  }
  const hashOptions: Options = { algorithm: ARGON2ID, ...params };
  const limiter = createLimiter(options.maxConcurrent ?? defaultMaxConcurrent());

  return {
    hash(password: string): Promise<string> {
      return limiter.run(() => argon2Hash(password, hashOptions));
    },

    async verify(hash: string, password: string): Promise<boolean> {
      if (typeof hash !== 'string' || typeof password !== 'string') return false;
      let parsed;
      try {
        parsed = parseOptions(hash);
      } catch {
        return false;
      }
      if (
        parsed.algorithm !== ARGON2ID ||
        parsed.memoryCost > VERIFY_LIMITS.memoryCost ||
        parsed.timeCost > VERIFY_LIMITS.timeCost ||
        parsed.parallelism > VERIFY_LIMITS.parallelism
      ) {
        return false;
      }
      return limiter.run(async () => {
        try {
          return await argon2Verify(hash, password);
        } catch {
          // A hash that parses but cannot be verified (truncated digest, bad salt) is malformed:
          // the answer is "does not match", never an exception the caller must special-case.
          return false;
        }
      });
    },

    needsRehash(hash: string): boolean {
      try {
        const parsed = parseOptions(hash);
        return (
          parsed.algorithm !== ARGON2ID ||
          parsed.memoryCost !== params.memoryCost ||
          parsed.timeCost !== params.timeCost ||
          parsed.parallelism !== params.parallelism
        );
      } catch {
        return true;
      }
    },

    load: () => limiter.load(),
  };
}
