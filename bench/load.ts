import autocannon, { type AutocannonRequest } from 'autocannon';
import { startCpuMeter, type CpuDelta } from './procstat.ts';
import { beginServerPhase, type ServerPhase, type ServerProcess } from './child.ts';

/*
 * Closed-loop request load with autocannon (in this process), the same way for every target:
 * a warm-up run that is thrown away, then a measured run with CPU accounting of the server.
 */

export interface LoadTarget {
  readonly name: string;
  readonly server: ServerProcess;
  /** Whether the server answers the bench's counters message (the Latchkey server does, the bare one not). */
  readonly probed: boolean;
  readonly path: string;
  /** The JSON body of the next request (called once per request). */
  readonly nextBody: () => string;
}

export interface LoadResult {
  readonly name: string;
  readonly connections: number;
  readonly durationS: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly mean: number };
  /** Answers that were not 2xx, plus socket errors and timeouts. */
  readonly failures: number;
  readonly cpu: CpuDelta;
  readonly server: ServerPhase | null;
}

async function fire(target: LoadTarget, connections: number, durationS: number): Promise<Awaited<ReturnType<typeof autocannon>>> {
  const request: AutocannonRequest = {
    method: 'POST',
    path: target.path,
    headers: { 'content-type': 'application/json' },
    setupRequest: (current) => ({ ...current, body: target.nextBody() }),
  };
  return autocannon({ url: `http://127.0.0.1:${target.server.port}`, connections, duration: durationS, requests: [request], timeout: 10 });
}

export async function runLoad(target: LoadTarget, options: { connections: number; warmupS: number; durationS: number }): Promise<LoadResult> {
  await fire(target, options.connections, options.warmupS);
  const phase = target.probed ? await beginServerPhase(target.server) : null;
  const meter = startCpuMeter(target.server.pid);
  const result = await fire(target, options.connections, options.durationS);
  const cpu = meter.stop();
  const server = phase ? await phase.end() : null;
  return {
    name: target.name,
    connections: options.connections,
    durationS: result.duration,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.mean },
    failures: result.non2xx + result.errors + result.timeouts,
    cpu,
    server,
  };
}
