import type { BenchReport, FlowReport } from './run.ts';
import type { LoadResult } from './load.ts';
import type { Share } from './profile.ts';
import type { ServerPhase } from './child.ts';

/* The printed report: compact, one section per figure the brief asks for. */

const f1 = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '–');
const f2 = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : '–');
const f3 = (value: number): string => (Number.isFinite(value) ? value.toFixed(3) : '–');
const pct = (value: number): string => (Number.isFinite(value) ? `${(value * 100).toFixed(1)} %` : '–');
const pad = (text: string, width: number): string => text.padEnd(width);
const lpad = (text: string, width: number): string => text.padStart(width);

function perFlowCpu(run: FlowReport): { main: number; mainWait: number; other: number; client: number; machine: number } {
  const per = (ms: number): number => (run.flows > 0 ? ms / run.flows : Number.NaN);
  return { main: per(run.cpu.serverMainMs), mainWait: per(run.cpu.serverMainWaitMs), other: per(run.cpu.serverOtherMs), client: per(run.cpu.clientMs), machine: per(run.cpu.machineBusyMs) };
}

function serverLine(phase: ServerPhase, units: number, unit: string): string {
  const { counters, loop } = phase;
  return (
    `${f1(counters.statements / units)} SQL statements (${f2(counters.prepares / units)} prepared) and ${f1(counters.commits / units)} commits per ${unit} (outbox worker included); commits held the event loop ${f2(counters.commitMs / units)} ms per ${unit}, ` +
    `${counters.slowCommits} commits over 1 ms took ${f1(counters.slowCommitMs)} ms in all (longest ${f1(counters.maxCommitMs)} ms); event-loop delay p50 ${f1(loop.p50Ms)} ms, p99 ${f1(loop.p99Ms)} ms, max ${f1(loop.maxMs)} ms`
  );
}

function shares(title: string, rows: readonly Share[], count: number, out: string[]): void {
  out.push(`   ${title}`);
  for (const row of rows.slice(0, count)) out.push(`     ${lpad(pct(row.share), 7)}  ${lpad(f1(row.ms), 7)} ms  ${row.name}`);
}

function loadLine(load: LoadResult): string {
  const mainUs = (load.cpu.serverMainMs / load.requests) * 1000;
  const allUs = ((load.cpu.serverMainMs + load.cpu.serverOtherMs) / load.requests) * 1000;
  const clientUs = (load.cpu.clientMs / load.requests) * 1000;
  return (
    `   ${pad(load.name, 48)} ${lpad(load.requestsPerSecond.toFixed(0), 6)} req/s   p50 ${f2(load.latencyMs.p50)} ms  p99 ${f2(load.latencyMs.p99)} ms   ` +
    `server CPU ${lpad(mainUs.toFixed(0), 4)} µs/req main (${allUs.toFixed(0)} all threads), main thread busy ${pct(load.cpu.serverMainMs / load.cpu.wallMs)}; ` +
    `load generator ${clientUs.toFixed(0)} µs/req; failures ${load.failures}`
  );
}

export function formatReport(report: BenchReport): string {
  const { hash, fullFlows: full, noPasswordFlows: noPw, settings } = report;
  const out: string[] = [];
  out.push(`Latchkey bench — ${report.at} — ${report.revision} — ${report.machine.cpus} × ${report.machine.model}, node ${report.machine.node}`);
  out.push(`Server: ${report.serverMode}.`);
  out.push('Instance: embedded SQLite (WAL) in a temp data dir, dev outbox, outbox worker on, request logging off, every rate limit at 100,000/s.');
  const phases = [full.cpu, noPw.cpu, hash.before.cpu, hash.after.cpu, hash.allCores.cpu, report.startLoad.cpu, report.bareLoad.cpu];
  const worst = Math.max(...phases.map((phase) => phase.backgroundShare));
  out.push(
    `Background load from other processes: ${pct(report.quiet.backgroundShare)} at start${report.quiet.waitedMs > 1_500 ? ` (after waiting ${f1(report.quiet.waitedMs / 1000)} s)` : ''}, up to ${pct(worst)} during a phase` +
      (worst > 0.1 ? ' — WARNING: the machine is shared; rates are depressed and noisy, the CPU-per-flow figures in section 3 are the steadier ones.' : '.'),
  );
  out.push(`Stats self-check: ${report.statsSelfCheck.checks.filter((check) => check.ok).length}/${report.statsSelfCheck.checks.length} passed. Setup (not timed): ${f1(report.setupMs / 1000)} s.`);

  out.push('');
  out.push(`1. FULL RESET FLOWS — start, email_code, answer (code from the outbox), recovery_code, answer, new password (6 requests)`);
  out.push(
    `   concurrency ${full.concurrency}, ${f1(full.windowMs / 1000)} s after ${f1(settings.flowWarmupMs / 1000)} s warm-up: ${full.flows} flows → ${f1(full.flowsPerSecond)} flows/s, ${full.requestsPerSecond.toFixed(0)} requests/s; errors ${full.errors}${full.poolExhausted ? ' (POOL EXHAUSTED: window cut short)' : ''}`,
  );
  for (const error of full.firstErrors) out.push(`     error: ${error}`);
  out.push(`   background load during the window: ${pct(full.cpu.backgroundShare)} of the machine`);
  out.push(`   flow latency p50 ${f1(full.latency.p50)} ms, p95 ${f1(full.latency.p95)} ms, p99 ${f1(full.latency.p99)} ms`);
  out.push(`   per step p50/p95 ms: ${Object.entries(full.steps).map(([step, summary]) => `${step} ${f2(summary.p50)}/${f2(summary.p95)}`).join(', ')}`);
  out.push(`   server: ${serverLine(full.server, full.flows, 'flow')}`);

  out.push('');
  out.push(
    `2. ARGON2ID CEILING — the server's own hasher (latchkey.deps.passwords: ${hash.before.parameters}, at most ${hash.before.maxActive ?? '?'} at once), ${hash.before.inFlight} callers in flight, inside the idle server process, ${f1(hash.before.windowMs / 1000)} s before the full flows and ${f1(hash.after.windowMs / 1000)} s right after`,
  );
  for (const [when, run] of [['before', hash.before], ['after', hash.after]] as const) {
    out.push(`   ${when}: ${f1(run.hashesPerSecond)} hashes/s, ${f2(run.cpuMsPerHash)} CPU-ms per hash, background ${pct(run.cpu.backgroundShare)}`);
  }
  const slots = hash.before.maxActive ?? Number.NaN;
  out.push(`   ceiling used below: ${f1(hash.hashesPerSecond)} hashes/s (mean); ideal on an idle machine: ${slots} slot(s) × 1000 / ${f2(hash.cpuMsPerHash)} = ${f1((slots * 1000) / hash.cpuMsPerHash)} hashes/s`);
  const all = hash.allCores;
  out.push(
    `   for comparison, the same hasher on all ${report.machine.cpus} cores (cap ${all.maxActive ?? '?'}, ${all.parameters}${all.parameters === hash.before.parameters ? '' : ' — PARAMETERS DIFFER from the server’s'}), right after: ` +
      `${f1(all.hashesPerSecond)} hashes/s, ${f2(all.cpuMsPerHash)} CPU-ms per hash, background ${pct(all.cpu.backgroundShare)}`,
  );

  const ratio = full.flowsPerSecond / hash.hashesPerSecond;
  const cpu = perFlowCpu(full);
  const cores = report.machine.cpus;
  const coreMs = cores * 1000;
  out.push('');
  out.push(`3. RATIO — ${f1(full.flowsPerSecond)} flows/s ÷ ${f1(hash.hashesPerSecond)} hashes/s = ${pct(ratio)} of the hash-bound rate (target ${pct(settings.target)}): ${ratio >= settings.target ? 'MEETS the target' : 'BELOW the target'}`);
  out.push(
    `   against the all-cores hash rate: ${f1(full.flowsPerSecond)} ÷ ${f1(all.hashesPerSecond)} = ${pct(full.flowsPerSecond / all.hashesPerSecond)} (the server hashes on ${slots} of ${cores} cores by design, keeping a core for request handling)`,
  );
  out.push(`   CPU per completed flow (core-ms; the ${cores} cores give ${coreMs} core-ms per second; a hash costs ${f2(hash.cpuMsPerHash)} core-ms):`);
  out.push(`     server main thread (JS: HTTP, validation, SQLite, crypto, JSON)  ${lpad(f2(cpu.main), 6)}   main thread busy ${pct(full.cpu.serverMainMs / full.cpu.wallMs)}; it waited ${f2(cpu.mainWait)} ms/flow for a free core`);
  out.push(`     server other threads (argon2id, SQLite checkpoints, GC helpers)  ${lpad(f2(cpu.other), 6)}   of which beyond one hash: ${f2(cpu.other - hash.cpuMsPerHash)}`);
  out.push(`     load generator (this process: HTTP client, outbox reads)         ${lpad(f2(cpu.client), 6)}`);
  out.push(`     whole machine                                                    ${lpad(f2(cpu.machine), 6)}   machine ${pct(full.cpu.machineBusyShare)} busy${full.cpu.machineStealMs > 0 ? `, steal ${f1(full.cpu.machineStealMs)} ms` : ''}`);
  out.push(`     background (other processes)                                     ${lpad(f2(full.cpu.backgroundMs / full.flows), 6)}`);
  // On an otherwise idle machine a flow rate is bounded three ways: all its CPU shares the cores,
  // the main thread is one thread (one core at most), and the hashes get the hasher's slots only.
  const idleCeiling = (slots * 1000) / hash.cpuMsPerHash;
  const idleRate = (clientMs: number): { rate: number; bound: string } => {
    const bounds = [
      { rate: coreMs / (cpu.main + cpu.other + clientMs), bound: 'all CPU' },
      { rate: 1000 / cpu.main, bound: 'main thread' },
      { rate: idleCeiling, bound: 'hash slots' },
    ];
    return bounds.reduce((lowest, next) => (next.rate < lowest.rate ? next : lowest));
  };
  const withClient = idleRate(cpu.client);
  const serverOnly = idleRate(0);
  out.push(
    `   CPU-normalised (what an otherwise idle machine would give): flows min(${coreMs} / ${f2(cpu.main + cpu.other + cpu.client)} all CPU, 1000 / ${f2(cpu.main)} main thread, ${f1(idleCeiling)} hash slots) = ${f1(withClient.rate)}/s (bound: ${withClient.bound}) ` +
      `vs hashes ${slots} × 1000 / ${f2(hash.cpuMsPerHash)} = ${f1(idleCeiling)}/s → ${pct(withClient.rate / idleCeiling)}`,
  );
  out.push(`   and with the load generator on another machine: ${f1(serverOnly.rate)} flows/s (bound: ${serverOnly.bound}) → ${pct(serverOnly.rate / idleCeiling)}`);
  const noPwRequests = noPw.flows > 0 ? noPw.requests / noPw.flows : Number.NaN;
  out.push(
    `   Same flow without the password step (${f1(noPwRequests)} requests/flow, concurrency ${noPw.concurrency}, ${f1(noPw.windowMs / 1000)} s): ${f1(noPw.flowsPerSecond)} flows/s, ${noPw.requestsPerSecond.toFixed(0)} requests/s, errors ${noPw.errors}${noPw.poolExhausted ? ' (POOL EXHAUSTED)' : ''}`,
  );
  out.push(
    `     server main thread ${f2(noPw.cpu.serverMainMs / noPw.requests)} ms/request (${f2(noPw.cpu.serverMainMs / noPw.flows)} ms/flow), busy ${pct(noPw.cpu.serverMainMs / noPw.cpu.wallMs)}; other threads ${f2(noPw.cpu.serverOtherMs / noPw.flows)} ms/flow; load generator ${f2(noPw.cpu.clientMs / noPw.flows)} ms/flow; flow p50 ${f1(noPw.latency.p50)} ms`,
  );
  out.push(`     server: ${serverLine(noPw.server, noPw.flows, 'flow')}`);
  out.push(`     ⇒ the password request itself costs the main thread ≈ ${f2(cpu.main - noPw.cpu.serverMainMs / noPw.flows)} ms beyond the other five`);
  const profile = report.profiledFlows.profile;
  out.push(
    `   CPU profile of the server main thread (V8 sampler, ${f1(profile.wallMs / 1000)} s of full flows at ${f1(report.profiledFlows.flowsPerSecond)} flows/s with the profiler on; busy ${f1(profile.busyMs)} ms, idle ${f1(profile.idleMs)} ms).`,
  );
  out.push('   Samples are wall-clock: time the thread spent waiting for a core or in a syscall (fsync, socket writes) counts where it stopped.');
  shares('self time by package / source area:', profile.byCategory, 14, out);
  shares('inclusive time of Latchkey functions (src/; names as tsx emits them):', profile.topInclusiveSource, 16, out);

  out.push('');
  out.push(`4. RESET START vs BARE ROUTE — autocannon in this process, ${report.startLoad.connections} connections, ${f1(report.startLoad.durationS)} s each after ${settings.loadWarmupS} s warm-up, servers in child processes one after the other`);
  out.push(loadLine(report.startLoad));
  if (report.startLoad.server) out.push(`     server: ${serverLine(report.startLoad.server, report.startLoad.requests, 'request')}`);
  out.push(loadLine(report.bareLoad));
  out.push(`   the bare route serves ${f1(report.bareLoad.requestsPerSecond / report.startLoad.requestsPerSecond)}× as many requests per second`);

  const timing = report.timing;
  out.push('');
  out.push(`5. START LATENCY BY IDENTIFIER — one keep-alive connection, one request at a time, ${settings.timingRounds} rounds of 3 (order shuffled each round), usernames and emails alike; failures ${timing.failures}`);
  out.push(`   ${pad('', 30)} ${lpad('median', 8)} ${lpad('p90', 8)} ${lpad('p99', 8)}  (ms)   n`);
  for (const [name, summary] of Object.entries(timing.classes)) out.push(`   ${pad(name, 30)} ${lpad(f3(summary.p50), 8)} ${lpad(f3(summary.p90), 8)} ${lpad(f3(summary.p99), 8)}        ${summary.n}`);
  const median = (name: string): number => timing.classes[name]?.p50 ?? Number.NaN;
  const existingMedian = (median('existing, email enrolled') + median('existing, nothing enrolled')) / 2;
  out.push(`   median difference existing − unknown: ${((existingMedian - median('unknown')) * 1000).toFixed(0)} µs; email enrolled − nothing enrolled: ${((median('existing, email enrolled') - median('existing, nothing enrolled')) * 1000).toFixed(0)} µs`);
  for (const test of timing.tests) {
    const verdict = test.ks.d < test.ks.dCritical05 ? 'no difference detected at 5 %' : 'DISTRIBUTIONS DIFFER at 5 %';
    out.push(`   KS ${pad(test.name, 36)} D = ${test.ks.d.toFixed(4)}  p = ${test.ks.pValue < 1e-4 ? test.ks.pValue.toExponential(1) : test.ks.pValue.toFixed(4)}  (critical D at 5 %: ${test.ks.dCritical05.toFixed(4)}) → ${verdict}`);
  }
  out.push('');
  out.push(`Total bench time ${f1(report.totalMs / 1000)} s.`);
  return out.join('\n');
}

export function printReport(report: BenchReport): void {
  process.stdout.write(`${formatReport(report)}\n`);
}
