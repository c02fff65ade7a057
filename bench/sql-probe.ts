import BetterSqlite3 from 'better-sqlite3';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/*
 * Counters the bench server keeps about itself, read between phases over IPC: how many SQL
 * statements it prepares (Kysely prepares every statement it runs), how many transactions it
 * commits and how long the commits block the event loop (a WAL commit that triggers a checkpoint
 * fsyncs), and the event loop's delay. Installed before the store opens; costs a counter per
 * statement and two clock reads per commit.
 */

export interface ServerCounters {
  readonly statements: number;
  readonly commits: number;
  readonly commitMs: number;
  /** Commits that took over a millisecond (checkpoints, write stalls). */
  readonly slowCommits: number;
  readonly slowCommitMs: number;
  readonly maxCommitMs: number;
}

export interface LoopDelay {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

interface Statement {
  run(...parameters: unknown[]): unknown;
}

const counters = { statements: 0, commits: 0, commitNs: 0, slowCommits: 0, slowCommitNs: 0, maxCommitNs: 0 };

export function installSqlProbe(): void {
  const prototype = BetterSqlite3.prototype as unknown as { prepare(this: BetterSqlite3.Database, source: string): Statement };
  const prepare = prototype.prepare;
  prototype.prepare = function probedPrepare(this: BetterSqlite3.Database, source: string): Statement {
    counters.statements += 1;
    const statement = prepare.call(this, source);
    if (source !== 'commit') return statement;
    const run = statement.run.bind(statement);
    statement.run = (...parameters: unknown[]): unknown => {
      const startedAt = process.hrtime.bigint();
      try {
        return run(...parameters);
      } finally {
        const elapsed = Number(process.hrtime.bigint() - startedAt);
        counters.commits += 1;
        counters.commitNs += elapsed;
        counters.maxCommitNs = Math.max(counters.maxCommitNs, elapsed);
        if (elapsed > 1e6) {
          counters.slowCommits += 1;
          counters.slowCommitNs += elapsed;
        }
      }
    };
    return statement;
  };
}

/** Totals since start; the maximum resets at each read, so it belongs to the phase just ended. */
export function readCounters(): ServerCounters {
  const snapshot: ServerCounters = {
    statements: counters.statements,
    commits: counters.commits,
    commitMs: counters.commitNs / 1e6,
    slowCommits: counters.slowCommits,
    slowCommitMs: counters.slowCommitNs / 1e6,
    maxCommitMs: counters.maxCommitNs / 1e6,
  };
  counters.maxCommitNs = 0;
  return snapshot;
}

let loop: IntervalHistogram | null = null;

/** Event-loop delay since the previous call (the histogram restarts each time). */
export function readLoopDelay(): LoopDelay {
  const current = loop;
  loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  if (!current) return { p50Ms: 0, p99Ms: 0, maxMs: 0 };
  current.disable();
  return { p50Ms: current.percentile(50) / 1e6, p99Ms: current.percentile(99) / 1e6, maxMs: current.max / 1e6 };
}

/** The change between two reads (the maximum is the later read's: it covers only the phase). */
export function counterDelta(before: ServerCounters, after: ServerCounters): ServerCounters {
  return {
    statements: after.statements - before.statements,
    commits: after.commits - before.commits,
    commitMs: after.commitMs - before.commitMs,
    slowCommits: after.slowCommits - before.slowCommits,
    slowCommitMs: after.slowCommitMs - before.slowCommitMs,
    maxCommitMs: after.maxCommitMs,
  };
}
