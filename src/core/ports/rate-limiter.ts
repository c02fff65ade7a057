export const RATE_LIMIT_BUCKETS = ['ip', 'account', 'flow', 'identifier', 'recipient', 'sign_in'] as const;
export type RateLimitBucket = (typeof RATE_LIMIT_BUCKETS)[number];

/** At most `points` events per key in each window of `windowSeconds`. */
export interface RateLimitRule {
  readonly points: number;
  readonly windowSeconds: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * Counts events per key in fixed windows. `consume` is atomic: under concurrency no more than
 * `rule.points` are granted per window. Shared by every instance when the backing store is shared
 * (PostgreSQL); a failing backend throws, and callers fail closed (LOG-8). Keys are already
 * canonical (an account id, never raw input: RATE-3).
 */
export interface RateLimiter {
  consume(bucket: RateLimitBucket, key: string, rule: RateLimitRule): Promise<RateDecision>;
  /** Forgets a key's count, e.g. the account's failure counter after a successful reset. */
  reset(bucket: RateLimitBucket, key: string): Promise<void>;
}
