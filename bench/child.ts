import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isChildMessage, type ChildMessage, type ParentMessage } from './ipc.ts';
import { counterDelta, type LoopDelay, type ServerCounters } from './sql-probe.ts';

/*
 * Starts a bench server (server.ts or bare-server.ts) as a child Node process running TypeScript
 * through tsx, and talks to it over IPC.
 */

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly description: string;
  /** Sends a message and waits for the reply of the given type. */
  ask<T extends ChildMessage['type']>(message: ParentMessage, reply: T, timeoutMs?: number): Promise<Extract<ChildMessage, { type: T }>>;
  stop(): Promise<void>;
}

function nextMessage<T extends ChildMessage['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`the server did not answer '${type}' within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown): void => {
      if (!isChildMessage(message)) return;
      if (message.type === 'error') finish(new Error(`server: ${message.message}`));
      else if (message.type === type) finish(null, message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (code: number | null): void => finish(new Error(`the server exited (code ${code}) before '${type}'`));
    function finish(error: Error | null, value?: Extract<ChildMessage, { type: T }>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else if (value) resolve(value);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function startServer(entry: 'server.ts' | 'bare-server.ts', env: Readonly<Record<string, string>>): Promise<ServerProcess> {
  const child = fork(fileURLToPath(new URL(entry, import.meta.url)), [], {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await nextMessage(child, 'ready', 60_000);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server has no pid');
  return {
    pid,
    port: ready.port,
    description: ready.description,
    ask: (message, reply, timeoutMs = 60_000) => {
      const answer = nextMessage(child, reply, timeoutMs);
      child.send(message);
      return answer;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: 'stop' } satisfies ParentMessage);
      }),
  };
}

export interface ServerPhase {
  /** SQL statements, commits and commit stalls during the phase. */
  readonly counters: ServerCounters;
  readonly loop: LoopDelay;
}

/** Marks the start of a phase on the server; `end()` returns what the server counted during it. */
export async function beginServerPhase(server: ServerProcess): Promise<{ end(): Promise<ServerPhase> }> {
  const before = await server.ask({ type: 'counters' }, 'counters');
  return {
    async end() {
      const after = await server.ask({ type: 'counters' }, 'counters');
      return { counters: counterDelta(before.counters, after.counters), loop: after.loop };
    },
  };
}
