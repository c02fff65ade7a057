import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import pg from 'pg';
import type { RateDecision, RateLimitBucket, RateLimiter, RateLimitRule } from '../../core/ports/rate-limiter.ts';

type LimiterFactory = (keyPrefix: string, rule: RateLimitRule) => Promise<RateLimiterAbstract>;

/**
 * Adapts rate-limiter-flexible to the RateLimiter port. One limiter per (bucket, rule), created on
 * first use, so a policy reload with new numbers starts fresh counters rather than reinterpreting
 * old ones. A backend error is rethrown: callers fail closed (LOG-8).
 */
function createLimiter(factory: LimiterFactory, close: () => Promise<void>): RateLimiter & { close(): Promise<void> } {
  const limiters = new Map<string, Promise<RateLimiterAbstract>>();
  const limiterFor = (bucket: RateLimitBucket, rule: RateLimitRule): Promise<RateLimiterAbstract> => {
    const id = `${bucket}:${rule.points}:${rule.windowSeconds}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = factory(`lk:${id}`, rule);
      limiters.set(id, limiter);
    }
    return limiter;
  };
  return {
    async consume(bucket, key, rule): Promise<RateDecision> {
      const limiter = await limiterFor(bucket, rule);
      try {
        await limiter.consume(key, 1);
        return { allowed: true };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
        throw rejection;
      }
    },
    async reset(bucket, key): Promise<void> {
      for (const [id, limiter] of limiters) {
        if (id.startsWith(`${bucket}:`)) await (await limiter).delete(key);
      }
    },
    close,
  };
}

/** Counters in this process's memory: right for the embedded single-instance default (SQLite). */
export function createMemoryRateLimiter(): RateLimiter & { close(): Promise<void> } {
  return createLimiter(async (keyPrefix, rule) => new RateLimiterMemory({ keyPrefix, points: rule.points, duration: rule.windowSeconds }), async () => {});
}

/**
 * Counters in PostgreSQL, shared by every instance, with atomic upserts. The table is created once
 * before any limiter uses it (concurrent CREATE TABLE races in PostgreSQL).
 */
export async function createPostgresRateLimiter(options: { connectionString: string; schema?: string }): Promise<RateLimiter & { close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 4, connectionTimeoutMillis: 5_000, ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}) });
  pool.on('error', () => undefined);
  const base = { storeClient: pool, storeType: 'pool', tableName: 'rate_limits', clearExpiredByTimeout: false } as const;
  const ready = new Promise<void>((resolve, reject) => {
    new RateLimiterPostgres({ ...base, keyPrefix: 'lk:init', points: 1, duration: 1 }, (error?: Error) => (error ? reject(error) : resolve()));
  });
  await ready;
  return createLimiter(async (keyPrefix, rule) => new RateLimiterPostgres({ ...base, tableCreated: true, keyPrefix, points: rule.points, duration: rule.windowSeconds }), () => pool.end());
}
