import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/*
 * CPU accounting from /proc (Linux): per-thread on-CPU and run-queue time from schedstat (ns), the
 * machine's busy/idle ticks from /proc/stat, and this process's CPU from process.cpuUsage().
 */

export interface ThreadTimes {
  /** ns on a CPU. */
  readonly runNs: number;
  /** ns runnable but waiting for a CPU (contention). */
  readonly waitNs: number;
}

export interface ProcessSnapshot {
  readonly atNs: bigint;
  /** The main (JavaScript) thread: the thread whose id is the process id. */
  readonly main: ThreadTimes;
  /** Every other thread together (libuv pool, where argon2 runs, and V8's GC/compiler helpers). */
  readonly others: ThreadTimes;
  readonly threads: number;
}

export interface MachineSnapshot {
  readonly busyTicks: number;
  readonly idleTicks: number;
  readonly stealTicks: number;
}

function readSchedstat(path: string): ThreadTimes | null {
  try {
    const [run, wait] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return { runNs: run ?? 0, waitNs: wait ?? 0 };
  } catch {
    return null; // the thread ended between listing and reading
  }
}

export function snapshotProcess(pid: number): ProcessSnapshot {
  let main: ThreadTimes = { runNs: 0, waitNs: 0 };
  let runNs = 0;
  let waitNs = 0;
  let threads = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const times = readSchedstat(`/proc/${pid}/task/${tid}/schedstat`);
    if (!times) continue;
    threads += 1;
    if (Number(tid) === pid) main = times;
    else {
      runNs += times.runNs;
      waitNs += times.waitNs;
    }
  }
  // Threads that ended since the last snapshot take their time with them; the bench's servers keep
  // a fixed pool, so that does not happen during a measured phase.
  return { atNs: process.hrtime.bigint(), main, others: { runNs, waitNs }, threads };
}

export function snapshotMachine(): MachineSnapshot {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return { busyTicks: user + nice + system + irq + softirq + steal, idleTicks: idle + iowait, stealTicks: steal };
}

/** CPU used between two snapshots, in milliseconds. */
export interface CpuDelta {
  readonly wallMs: number;
  readonly serverMainMs: number;
  readonly serverMainWaitMs: number;
  readonly serverOtherMs: number;
  readonly clientMs: number;
  /** Whole machine, every process: busy core-milliseconds and the share of the cores that was busy. */
  readonly machineBusyMs: number;
  readonly machineBusyShare: number;
  readonly machineStealMs: number;
  /** Busy core-ms of everything else on the machine (other processes: someone's tests, tsc …). */
  readonly backgroundMs: number;
  /** That background as a share of the machine's capacity over the window. */
  readonly backgroundShare: number;
}

export interface CpuMeter {
  stop(): CpuDelta;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux
const CORES = cpus().length;

/** Starts measuring the server process (by pid, or none) and this client process. */
export function startCpuMeter(serverPid: number | null): CpuMeter {
  const server = serverPid === null ? null : snapshotProcess(serverPid);
  const startedAt = process.hrtime.bigint();
  const machine = snapshotMachine();
  const client = process.cpuUsage();
  return {
    stop(): CpuDelta {
      const serverEnd = serverPid === null ? null : snapshotProcess(serverPid);
      const machineEnd = snapshotMachine();
      const clientDelta = process.cpuUsage(client);
      const wallMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
      const busy = (machineEnd.busyTicks - machine.busyTicks) * TICK_MS;
      const idle = (machineEnd.idleTicks - machine.idleTicks) * TICK_MS;
      const serverMainMs = server && serverEnd ? (serverEnd.main.runNs - server.main.runNs) / 1e6 : 0;
      const serverOtherMs = server && serverEnd ? (serverEnd.others.runNs - server.others.runNs) / 1e6 : 0;
      const clientMs = (clientDelta.user + clientDelta.system) / 1000;
      const backgroundMs = Math.max(0, busy - serverMainMs - serverOtherMs - clientMs);
      return {
        wallMs,
        serverMainMs,
        serverMainWaitMs: server && serverEnd ? (serverEnd.main.waitNs - server.main.waitNs) / 1e6 : 0,
        serverOtherMs,
        clientMs,
        machineBusyMs: busy,
        machineBusyShare: busy + idle > 0 ? busy / (busy + idle) : Number.NaN,
        machineStealMs: (machineEnd.stealTicks - machine.stealTicks) * TICK_MS,
        backgroundMs,
        backgroundShare: backgroundMs / (wallMs * CORES),
      };
    },
  };
}

/** Waits until other processes leave the machine mostly idle (background below `maxShare` over 1 s), up to `maxWaitMs`. */
export async function waitForQuiet(maxShare: number, maxWaitMs: number): Promise<{ backgroundShare: number; waitedMs: number }> {
  const began = Date.now();
  for (;;) {
    const meter = startCpuMeter(null);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { backgroundShare } = meter.stop();
    const waitedMs = Date.now() - began;
    if (backgroundShare <= maxShare || waitedMs >= maxWaitMs) return { backgroundShare, waitedMs };
  }
}
