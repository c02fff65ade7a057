import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServer, type ServerProcess } from './child.ts';
import { AccountPool, runFlows, STEPS, type FlowRunResult, type Step } from './flows.ts';
import type { HashRateResult } from './hash.ts';
import { createInstance, prepareAccounts, type BenchAccount } from './instance.ts';
import { runLoad, type LoadResult } from './load.ts';
import { OutboxReader } from './outbox.ts';
import { startCpuMeter, waitForQuiet, type CpuDelta } from './procstat.ts';
import { readProfile, summariseProfile, type ProfileSummary } from './profile.ts';
import { ksTwoSample, statsSelfCheck, summarise, type KsResult, type Summary } from './stats.ts';
import { measureStartTiming, type TimingResult } from './timing.ts';
import { printReport } from './report.ts';

/*
 * `npm run bench`: one run, one process tree, every figure side by side.
 *   1. full reset flows per second over HTTP against a server in a child process
 *   2. argon2id hashes per second through the server's own hasher (same parameters and cap), and
 *      for comparison with the same parameters on every core (cap = cores)
 *   3. the ratio of 1 to 2, and where a flow's time goes (flows without the password step, CPU per
 *      thread from /proc, a CPU profile of the server's main thread)
 *   4. reset-start requests per second next to a bare Fastify + SQLite insert route (autocannon)
 *   5. start latency of existing vs unknown identifiers (and enrolled vs bare accounts), with KS
 * Tunable through BENCH_* variables; the defaults keep the run near 90 seconds.
 */

const num = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};

export const SETTINGS = {
  concurrency: num('BENCH_CONCURRENCY', 8),
  flowWarmupMs: num('BENCH_FLOW_WARMUP_MS', 3_000),
  flowDurationMs: num('BENCH_FLOW_DURATION_MS', 10_000),
  noPasswordDurationMs: num('BENCH_NOPW_DURATION_MS', 5_000),
  profileDurationMs: num('BENCH_PROFILE_DURATION_MS', 3_000),
  profileSamplingUs: 250,
  hashInFlight: num('BENCH_HASH_IN_FLIGHT', 8),
  /** Each of the two hash runs that bracket the full-flow run. */
  hashDurationMs: num('BENCH_HASH_DURATION_MS', 3_000),
  quietShare: 0.15,
  quietWaitMs: num('BENCH_QUIET_WAIT_S', 20) * 1000,
  loadConnections: num('BENCH_LOAD_CONNECTIONS', 64),
  loadWarmupS: 1,
  loadDurationS: num('BENCH_LOAD_DURATION_S', 8),
  timingRounds: num('BENCH_TIMING_ROUNDS', 1_500),
  timingWarmupRounds: 150,
  flowAccounts: num('BENCH_FLOW_ACCOUNTS', 300),
  timingAccounts: 100,
  target: 0.8,
} as const;

export interface TimingReport {
  readonly classes: Record<string, Summary>;
  readonly tests: { readonly name: string; readonly ks: KsResult }[];
  readonly failures: number;
}

export interface HashReport {
  /** Mean of the two runs with the server's cap: the ceiling the target is measured against. */
  readonly hashesPerSecond: number;
  readonly cpuMsPerHash: number;
  readonly before: HashRateResult & { readonly cpu: CpuDelta };
  readonly after: HashRateResult & { readonly cpu: CpuDelta };
  /** The same parameters with one slot per core (cap = cores), right after `after`: for comparison. */
  readonly allCores: HashRateResult & { readonly cpu: CpuDelta };
}

export interface BenchReport {
  readonly at: string;
  readonly revision: string;
  readonly machine: { readonly cpus: number; readonly model: string; readonly node: string };
  readonly quiet: { readonly backgroundShare: number; readonly waitedMs: number };
  readonly serverMode: string;
  readonly settings: typeof SETTINGS;
  readonly statsSelfCheck: ReturnType<typeof statsSelfCheck>;
  readonly setupMs: number;
  readonly hash: HashReport;
  readonly fullFlows: FlowReport;
  readonly noPasswordFlows: FlowReport;
  readonly profiledFlows: { readonly flowsPerSecond: number; readonly profile: ProfileSummary };
  readonly startLoad: LoadResult;
  readonly bareLoad: LoadResult;
  readonly timing: TimingReport;
  readonly totalMs: number;
}

/** A flow run with its samples replaced by summaries (the raw samples stay out of the JSON). */
export type FlowReport = Omit<FlowRunResult, 'flowLatenciesMs' | 'stepLatenciesMs'> & { readonly latency: Summary; readonly steps: Partial<Record<Step, Summary>> };

function withSummaries(run: FlowRunResult): FlowReport {
  const { flowLatenciesMs, stepLatenciesMs, ...rest } = run;
  const steps = Object.fromEntries(STEPS.filter((step) => stepLatenciesMs[step].length > 0).map((step) => [step, summarise(stepLatenciesMs[step])]));
  return { ...rest, latency: summarise(flowLatenciesMs), steps };
}

function timingReport(result: TimingResult): TimingReport {
  const { enrolled = [], bare = [], unknown = [] } = result.samples;
  const existing = [...enrolled, ...bare];
  return {
    classes: { 'existing, email enrolled': summarise(enrolled), 'existing, nothing enrolled': summarise(bare), unknown: summarise(unknown) },
    tests: [
      { name: 'existing (both) vs unknown', ks: ksTwoSample(existing, unknown) },
      { name: 'email enrolled vs unknown', ks: ksTwoSample(enrolled, unknown) },
      { name: 'nothing enrolled vs unknown', ks: ksTwoSample(bare, unknown) },
      { name: 'email enrolled vs nothing enrolled', ks: ksTwoSample(enrolled, bare) },
    ],
    failures: result.failures,
  };
}

/** HEAD plus how many files under src/ differ from it: the figures belong to the working tree. */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8' }).split('\n').filter(Boolean).length;
    return dirty > 0 ? `${head} + ${dirty} changed file(s) under src/` : head;
  } catch {
    return 'unknown';
  }
}

const identifiersOf = (accounts: readonly BenchAccount[]): string[] => accounts.flatMap((account) => [account.username, account.workEmail]);

async function main(): Promise<void> {
  const began = performance.now();
  const log = (line: string): void => void process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1)}s] ${line}\n`);

  const selfCheck = statsSelfCheck();
  if (!selfCheck.ok) throw new Error(`stats self-check failed: ${JSON.stringify(selfCheck.checks.filter((check) => !check.ok))}`);
  log('stats self-check passed');

  const quiet = await waitForQuiet(SETTINGS.quietShare, SETTINGS.quietWaitMs);
  log(`background load from other processes: ${(quiet.backgroundShare * 100).toFixed(0)} % of the machine${quiet.waitedMs > 1_500 ? ` (waited ${(quiet.waitedMs / 1000).toFixed(0)} s for quiet)` : ''}`);

  const instance = await createInstance();
  const bareDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-bare-'));
  let server: ServerProcess | null = null;
  let outbox: OutboxReader | null = null;
  try {
    const setupStart = performance.now();
    const accounts = await prepareAccounts(instance, { flow: SETTINGS.flowAccounts, timing: SETTINGS.timingAccounts });
    const setupMs = performance.now() - setupStart;
    log(`setup: ${accounts.flow.length + accounts.timingEnrolled.length + accounts.timingBare.length} accounts in ${(setupMs / 1000).toFixed(1)} s (not timed)`);

    server = await startServer('server.ts', instance.env);
    log(`server: ${server.description}, pid ${server.pid}, port ${server.port}`);
    const running = server;

    // 2. The ceiling: the server's own hasher, inside the server process while it serves nothing,
    // once before the full flows and once right after, so a change in background load shows.
    const measureHashes = async (cap: 'server' | 'all-cores' = 'server'): Promise<HashRateResult & { cpu: CpuDelta }> => {
      const meter = startCpuMeter(running.pid);
      const { result } = await running.ask({ type: 'hash-rate', cap, inFlight: SETTINGS.hashInFlight, warmupMs: 500, durationMs: SETTINGS.hashDurationMs }, 'hash-rate');
      return { ...result, cpu: meter.stop() };
    };
    const hashBefore = await measureHashes();
    log(`argon2id: ${hashBefore.hashesPerSecond.toFixed(1)} hashes/s (${hashBefore.parameters}, at most ${hashBefore.maxActive ?? '?'} at once)`);
    outbox = new OutboxReader(instance.dataDir, instance.encryptionKey);
    const pool = new AccountPool(accounts.flow);
    const flowOptions = { server, concurrency: SETTINGS.concurrency, pool, outbox };

    // 1. Full flows.
    const full = await runFlows({ ...flowOptions, warmupMs: SETTINGS.flowWarmupMs, durationMs: SETTINGS.flowDurationMs, withPassword: true });
    log(`full flows: ${full.flowsPerSecond.toFixed(1)}/s (${full.flows} flows, ${full.errors} errors)`);
    const hashAfter = await measureHashes();
    log(`argon2id again (server idle): ${hashAfter.hashesPerSecond.toFixed(1)} hashes/s`);
    const hashAllCores = await measureHashes('all-cores');
    log(`argon2id on all cores (for comparison): ${hashAllCores.hashesPerSecond.toFixed(1)} hashes/s (at most ${hashAllCores.maxActive ?? '?'} at once)`);
    const hash: HashReport = {
      hashesPerSecond: (hashBefore.hashesPerSecond + hashAfter.hashesPerSecond) / 2,
      cpuMsPerHash: (hashBefore.cpuMsPerHash + hashAfter.cpuMsPerHash) / 2,
      before: hashBefore,
      after: hashAfter,
      allCores: hashAllCores,
    };

    // 3. A profiled stretch of full flows, then the same flows without the password step.
    const profileFile = join(instance.dataDir, 'server.cpuprofile');
    await server.ask({ type: 'profile-start', samplingIntervalUs: SETTINGS.profileSamplingUs }, 'profile-started');
    const profiled = await runFlows({ ...flowOptions, warmupMs: 250, durationMs: SETTINGS.profileDurationMs, withPassword: true });
    await server.ask({ type: 'profile-stop', file: profileFile }, 'profile-stopped');
    const profile = summariseProfile(await readProfile(profileFile));
    if (process.env['BENCH_KEEP_PROFILE']) {
      await mkdir('.tmp', { recursive: true });
      await writeFile('.tmp/bench-server.cpuprofile', JSON.stringify(await readProfile(profileFile)));
    }
    log(`profiled flows: ${profiled.flowsPerSecond.toFixed(1)}/s (profiler on)`);

    // 3. The same flows without the password step (after the profiled run: they leave flows open,
    // which a later reset of the account would have to supersede).
    const noPassword = await runFlows({ ...flowOptions, warmupMs: 1_000, durationMs: SETTINGS.noPasswordDurationMs, withPassword: false });
    log(`flows without the password step: ${noPassword.flowsPerSecond.toFixed(1)}/s, ${noPassword.requestsPerSecond.toFixed(0)} requests/s; ${pool.codesLeft} recovery codes left`);

    // 4. Reset starts under load.
    let next = 0;
    const startIdentifiers = identifiersOf(accounts.flow);
    const startLoad = await runLoad(
      { name: 'POST /api/recovery/flows (existing identifiers)', server, probed: true, path: '/api/recovery/flows', nextBody: () => JSON.stringify({ identifier: startIdentifiers[(next += 1) % startIdentifiers.length], purpose: 'reset' }) },
      { connections: SETTINGS.loadConnections, warmupS: SETTINGS.loadWarmupS, durationS: SETTINGS.loadDurationS },
    );
    log(`reset starts: ${startLoad.requestsPerSecond.toFixed(0)} requests/s`);

    // 5. Start latency by identifier class, one request at a time.
    const unknown = Array.from({ length: SETTINGS.timingAccounts }, (_, index) => `timc${String(index).padStart(4, '0')}`).flatMap((name) => [name, `${name}@corp.test`]);
    const timingRaw = await measureStartTiming(
      server.port,
      [
        { name: 'enrolled', identifiers: identifiersOf(accounts.timingEnrolled) },
        { name: 'bare', identifiers: identifiersOf(accounts.timingBare) },
        { name: 'unknown', identifiers: unknown },
      ],
      { rounds: SETTINGS.timingRounds, warmupRounds: SETTINGS.timingWarmupRounds, seed: 7 },
    );
    const timing = timingReport(timingRaw);
    log(`timing: ${SETTINGS.timingRounds} rounds × 3 classes`);

    outbox.close();
    outbox = null;
    await server.stop();
    server = null;

    // 4 (continued). The floor: the same load against a bare Fastify + SQLite insert route.
    const bare = await startServer('bare-server.ts', { BENCH_BARE_DIR: bareDir });
    let bareNext = 0;
    const bareLoad = await runLoad(
      { name: 'bare Fastify route, one SQLite insert', server: bare, probed: false, path: '/bare/insert', nextBody: () => JSON.stringify({ identifier: startIdentifiers[(bareNext += 1) % startIdentifiers.length], purpose: 'reset' }) },
      { connections: SETTINGS.loadConnections, warmupS: SETTINGS.loadWarmupS, durationS: SETTINGS.loadDurationS },
    );
    await bare.stop();
    log(`bare route: ${bareLoad.requestsPerSecond.toFixed(0)} requests/s`);

    const report: BenchReport = {
      at: new Date().toISOString(),
      revision: revision(),
      quiet,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
      serverMode: 'separate child process (node --import tsx bench/server.ts), HTTP over 127.0.0.1; load generator in the parent process on the same 2 cores',
      settings: SETTINGS,
      statsSelfCheck: selfCheck,
      setupMs,
      hash,
      fullFlows: withSummaries(full),
      noPasswordFlows: withSummaries(noPassword),
      profiledFlows: { flowsPerSecond: profiled.flowsPerSecond, profile },
      startLoad,
      bareLoad,
      timing,
      totalMs: performance.now() - began,
    };
    printReport(report);
    await mkdir('.tmp', { recursive: true });
    await writeFile('.tmp/bench-latest.json', `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write('\nJSON: .tmp/bench-latest.json\n');
  } finally {
    outbox?.close();
    await server?.stop();
    await instance.cleanup();
    await rm(bareDir, { recursive: true, force: true });
  }
}

await main();
