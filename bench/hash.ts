import { performance } from 'node:perf_hooks';
import { createArgon2Hasher } from '../src/adapters/system/argon2-hasher.ts';
import { startCpuMeter, type CpuDelta, type CpuMeter } from './procstat.ts';

/*
 * The ceiling for reset flows: argon2id hashes per second through the server's own hasher
 * (createArgon2Hasher() with its defaults: m=19456 KiB, t=2, p=1, at most 2 at once), with more
 * callers in flight than slots so the slots never idle. Runs in the bench process while the
 * server is not yet started, so the two cores are the hasher's alone.
 */

export interface HashRateResult {
  readonly inFlight: number;
  readonly maxConcurrent: number;
  readonly windowMs: number;
  readonly hashes: number;
  readonly hashesPerSecond: number;
  /** CPU (all threads of this process) per hash, ms. */
  readonly cpuMsPerHash: number;
  /** Time from call to result, queue wait included (more callers than slots). */
  readonly latencyMsMedian: number;
  readonly cpu: CpuDelta;
}

/** The server's default cap (see createArgon2Hasher). */
export const SERVER_HASH_CONCURRENCY = 2;

export async function measureHashRate(options: { inFlight: number; warmupMs: number; durationMs: number }): Promise<HashRateResult> {
  const hasher = createArgon2Hasher();
  const latencies: number[] = [];
  let hashes = 0;
  let counter = 0;
  const begin = performance.now();
  const startAt = begin + options.warmupMs;
  const endAt = startAt + options.durationMs;
  let meter: CpuMeter | null = null;
  let cpu: CpuDelta | null = null;
  const armed = setTimeout(() => (meter = startCpuMeter(null)), options.warmupMs);
  const finish = setTimeout(() => (cpu = meter?.stop() ?? null), options.warmupMs + options.durationMs);

  const lane = async (): Promise<void> => {
    while (performance.now() < endAt) {
      const sentAt = performance.now();
      await hasher.hash(`bench password number ${(counter += 1)}`);
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
  const measured = cpu as CpuDelta | null;
  if (!measured) throw new Error('the hash run ended before its window');
  return {
    inFlight: options.inFlight,
    maxConcurrent: SERVER_HASH_CONCURRENCY,
    windowMs: options.durationMs,
    hashes,
    hashesPerSecond: (hashes / options.durationMs) * 1000,
    cpuMsPerHash: hashes > 0 ? measured.clientMs / hashes : Number.NaN,
    latencyMsMedian: latencies[Math.floor(latencies.length / 2)] ?? Number.NaN,
    cpu: measured,
  };
}
