import BetterSqlite3 from 'better-sqlite3';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/*
 * Counters the bench server keeps about itself, read between phases over IPC: how many SQL
 * statements it runs and how many of them it had to prepare (the store caches prepared
 * statements, so a prepare is a cache miss), how many transactions it commits and how long the
 * commits block the event loop (a WAL commit that triggers a checkpoint fsyncs; with the store's
 * checkpoint thread none should), and the event loop's delay. Installed before the store opens;
 * costs a counter per statement and two clock reads per commit. better-sqlite3 of the main thread
 * only: the checkpoint thread loads its own copy of the module, which this does not touch.
 */

export interface ServerCounters {
  /** Statements run (run, all, get, iterate). */
  readonly statements: number;
  /** Statements prepared (compiled by SQLite). */
  readonly prepares: number;
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

type StatementMethod = (this: { readonly source: string }, ...parameters: unknown[]) => unknown;

const counters = { statements: 0, prepares: 0, commits: 0, commitNs: 0, slowCommits: 0, slowCommitNs: 0, maxCommitNs: 0 };

function countCommit(startedAt: bigint): void {
  const elapsed = Number(process.hrtime.bigint() - startedAt);
  counters.commits += 1;
  counters.commitNs += elapsed;
  counters.maxCommitNs = Math.max(counters.maxCommitNs, elapsed);
  if (elapsed > 1e6) {
    counters.slowCommits += 1;
    counters.slowCommitNs += elapsed;
  }
}

export function installSqlProbe(): void {
  const databasePrototype = BetterSqlite3.prototype as unknown as { prepare(this: BetterSqlite3.Database, source: string): unknown };
  const prepare = databasePrototype.prepare;
  databasePrototype.prepare = function probedPrepare(this: BetterSqlite3.Database, source: string): unknown {
    counters.prepares += 1;
    return prepare.call(this, source);
  };
  // Every statement of every connection shares one prototype; a throwaway one reveals it.
  const scratch = new BetterSqlite3(':memory:');
  const statementPrototype = Object.getPrototypeOf(prepare.call(scratch, 'select 1')) as Record<'run' | 'all' | 'get' | 'iterate', StatementMethod>;
  scratch.close();
  for (const name of ['all', 'get', 'iterate'] as const) {
    const method = statementPrototype[name];
    statementPrototype[name] = function probed(...parameters: unknown[]): unknown {
      counters.statements += 1;
      return method.apply(this, parameters);
    };
  }
  const run = statementPrototype.run;
  statementPrototype.run = function probedRun(...parameters: unknown[]): unknown {
    counters.statements += 1;
    if (this.source !== 'commit') return run.apply(this, parameters);
    const startedAt = process.hrtime.bigint();
    try {
      return run.apply(this, parameters);
    } finally {
      countCommit(startedAt);
    }
  };
}

/** Totals since start; the maximum resets at each read, so it belongs to the phase just ended. */
export function readCounters(): ServerCounters {
  const snapshot: ServerCounters = {
    statements: counters.statements,
    prepares: counters.prepares,
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
    prepares: after.prepares - before.prepares,
    commits: after.commits - before.commits,
    commitMs: after.commitMs - before.commitMs,
    slowCommits: after.slowCommits - before.slowCommits,
    slowCommitMs: after.slowCommitMs - before.slowCommitMs,
    maxCommitMs: after.maxCommitMs,
  };
}
