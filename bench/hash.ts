import { performance } from 'node:perf_hooks';
import type { PasswordHasher } from '../src/core/ports/system.ts';

/*
 * The ceiling for reset flows: argon2id hashes per second through the server's own hasher
 * (latchkey.deps.passwords, i.e. createArgon2Hasher as compose.ts builds it: its parameters and its
 * concurrency cap), run inside the server process while it serves nothing else, with more callers
 * in flight than slots so that the slots never idle.
 */

export interface HashRateResult {
  readonly inFlight: number;
  /** Most hashes seen running at once (the hasher's cap when it reports its load). */
  readonly maxActive: number | null;
  /** The PHC parameter string of a hash it made, e.g. `argon2id v=19 m=19456,t=2,p=1`. */
  readonly parameters: string;
  readonly windowMs: number;
  readonly hashes: number;
  readonly hashesPerSecond: number;
  /** CPU of the whole server process (all threads) per hash, ms. */
  readonly cpuMsPerHash: number;
  /** Time from call to result, queue wait included. */
  readonly latencyMsMedian: number;
}

interface LoadReporting {
  load(): { active: number; queued: number };
}

const reportsLoad = (hasher: PasswordHasher): hasher is PasswordHasher & LoadReporting => typeof (hasher as Partial<LoadReporting>).load === 'function';

/** `$argon2id$v=19$m=19456,t=2,p=1$salt$hash` → `argon2id v=19 m=19456,t=2,p=1`. */
const parametersOf = (phc: string): string => phc.split('$').slice(1, 4).join(' ');

export async function measureHashRate(hasher: PasswordHasher, options: { inFlight: number; warmupMs: number; durationMs: number }): Promise<HashRateResult> {
  const latencies: number[] = [];
  let hashes = 0;
  let counter = 0;
  let maxActive = 0;
  let parameters = '';
  const startAt = performance.now() + options.warmupMs;
  const endAt = startAt + options.durationMs;
  let cpuAtStart: NodeJS.CpuUsage | null = null;
  let cpuMs = Number.NaN;
  const armed = setTimeout(() => (cpuAtStart = process.cpuUsage()), options.warmupMs);
  const finish = setTimeout(() => {
    const used = process.cpuUsage(cpuAtStart ?? undefined);
    cpuMs = (used.user + used.system) / 1000;
  }, options.warmupMs + options.durationMs);

  const lane = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const sentAt = performance.now();
      const pending = hasher.hash(`bench password number ${(counter += 1)}`);
      if (reportsLoad(hasher)) maxActive = Math.max(maxActive, hasher.load().active);
      const phc = await pending;
      parameters ||= parametersOf(phc);
      const doneAt = performance.now();
      if (doneAt >= startAt && doneAt <= endAt) {
        hashes += 1;
        latencies.push(doneAt - sentAt);
      }
    }
  };
  await Promise.all(Array.from({ length: options.inFlight }, lane));
  clearTimeout(armed);
  clearTimeout(finish);
  latencies.sort((a, b) => a - b);
  return {
    inFlight: options.inFlight,
    maxActive: reportsLoad(hasher) ? maxActive : null,
    parameters,
    windowMs: options.durationMs,
    hashes,
    hashesPerSecond: (hashes / options.durationMs) * 1000,
    cpuMsPerHash: hashes > 0 ? cpuMs / hashes : Number.NaN,
    latencyMsMedian: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN,
  };
}
