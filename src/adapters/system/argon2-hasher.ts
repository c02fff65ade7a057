import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hash as argon2Hash, verify as argon2Verify, parseOptions } from '@node-rs/argon2';
import type { Algorithm, Options } from '@node-rs/argon2';
import type { PasswordHasher } from '../../core/ports/system.ts';

/** `Algorithm.Argon2id` (an ambient const enum, which isolatedModules cannot read by name). */
const ARGON2ID = 2 as Algorithm;

/** Tuning for {@link createArgon2Hasher}. Defaults follow the OWASP argon2id baseline (m=19 MiB, t=2, p=1). */
export interface Argon2HasherOptions {
  /** How many hashes or verifications run at once; the rest wait in FIFO order. Default {@link defaultMaxConcurrent}. */
  readonly maxConcurrent?: number;
  /** Memory per hash in KiB. Default 19456 (19 MiB). */
  readonly memoryCost?: number;
  /** Passes over memory. Default 2. */
  readonly timeCost?: number;
  /** Lanes. Default 1. */
  readonly parallelism?: number;
}

/** How busy the hasher is; for a metrics gauge and for tests. */
export interface HasherLoad {
  /** Hashes or verifications running now (never above maxConcurrent). */
  readonly active: number;
  /** Calls waiting for a slot. */
  readonly queued: number;
}

/**
 * A {@link PasswordHasher} with two extras: `needsRehash` (the stored hash was made with other
 * parameters, so re-hash it after the next successful verify) and `load` (queue depth).
 */
export interface Argon2Hasher extends PasswordHasher {
  needsRehash(hash: string): boolean;
  load(): HasherLoad;
}

/**
 * The largest parameters `verify` agrees to run. A stored hash claiming more is treated as
 * malformed.
 *
 * SECURITY: a corrupted or planted hash such as `m=4194304` would otherwise make one verify
 * allocate 4 GiB: a denial of service through the database.
 */
const VERIFY_LIMITS = { memoryCost: 262_144, timeCost: 16, parallelism: 8 } as const;

/**
 * The default cap on hashes and verifications running at once: one fewer than the cores this
 * process may use (`os.availableParallelism()`), and at least one. On a 2-core machine: 1.
 *
 * Why: one argon2id hash (m=19 MiB, t=2) keeps a core busy for about 11 ms in a libuv pool thread,
 * while everything else the server does (HTTP parsing, validation, SQLite, crypto, JSON for every
 * request, password-less ones included) runs on the single main thread. With as many hashes in
 * flight as there are cores, a burst of resets or sign-ins takes every core and the event loop must
 * compete with the hashes for CPU time: every request, not only the hashing ones, then waits for a
 * core, and the requests that lead up to a password change slow down with it. Leaving one core to the
 * event loop keeps request handling responsive; the price is a hash ceiling of (cores − 1) cores
 * instead of all of them (half of it on 2 cores), with the excess waiting in the FIFO queue.
 */
export function defaultMaxConcurrent(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** A counting semaphore whose waiters are served strictly first come, first served. */
export interface Limiter {
  run<T>(work: () => Promise<T>): Promise<T>;
  load(): HasherLoad;
}

/**
 * Creates a FIFO counting semaphore allowing `max` concurrent tasks.
 *
 * Why: argon2id is deliberately memory-hard; without a cap a burst of sign-ins or resets would run
 * one 19 MiB hash per request at once and exhaust memory or starve the event loop's thread pool.
 */
export function createLimiter(max: number): Limiter {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${max}`);
  let active = 0;
  const waiters: (() => void)[] = [];

  const acquire = (): Promise<void> => {
    if (active < max) {
      active += 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => waiters.push(resolve));
  };

  const release = (): void => {
    const next = waiters.shift();
    // The slot passes straight to the oldest waiter, so `active` never dips and a newcomer
    // cannot overtake the queue.
    if (next) next();
    else active -= 1;
  };

  return {
    async run<T>(work: () => Promise<T>): Promise<T> {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
    load: () => ({ active, queued: waiters.length }),
  };
}

/** One hash or verification, as sent to an argon2 thread (see argon2-worker.mjs). */
type Job = { readonly op: 'hash'; readonly password: string; readonly options: Options } | { readonly op: 'verify'; readonly hash: string; readonly password: string };

type Reply =
  | { readonly ready: true }
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

interface Ticket {
  readonly job: Job;
  readonly owner: Dispatcher;
  /** The thread (and lane of its owner) it was sent to. */
  lane: number;
  /** Sent again once already, after its thread died under it. */
  retried: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const WORKER_SCRIPT = new URL('./argon2-worker.mjs', import.meta.url);

/**
 * Jobs a thread holds besides the one it runs. The next job is then already in the thread when a
 * hash ends, and the thread starts it without waiting for the main thread; two keep it busy through
 * an event-loop delay of two hashes (about 20 ms).
 */
const BACKLOG_PER_THREAD = 2;

/** Set when no argon2 thread could be started at all: hashing then runs in libuv's pool. */
let threadsUnavailable = false;

/**
 * A worker thread that runs argon2 jobs one at a time (argon2-worker.mjs), started on first use and
 * unref'd whenever it holds no job, so that it never keeps a process alive by itself.
 */
class HashThread {
  #worker: Worker | null = null;
  #online = false;
  #nextId = 0;
  readonly #tickets = new Map<number, Ticket>();

  send(ticket: Ticket): void {
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
    } catch (error) {
      this.#unavailable(error instanceof Error ? error : new Error(String(error)));
      ticket.owner.orphaned(ticket, error instanceof Error ? error : new Error(String(error)), false);
      return;
    }
    const id = this.#nextId;
    this.#nextId += 1;
    this.#tickets.set(id, ticket);
    if (this.#tickets.size === 1) worker.ref();
    worker.postMessage({ id, ...ticket.job });
  }

  #start(): Worker {
    const worker = new Worker(WORKER_SCRIPT, { execArgv: [] });
    this.#worker = worker;
    this.#online = false;
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        if (this.#worker === worker) this.#online = true;
        return;
      }
      const ticket = this.#tickets.get(reply.id);
      if (ticket === undefined) return;
      this.#tickets.delete(reply.id);
      if (this.#tickets.size === 0) worker.unref();
      ticket.owner.settle(ticket, reply.ok ? { ok: true, value: reply.value } : { ok: false, error: new Error(reply.error) });
    });
    worker.on('error', (error) => this.#fail(worker, error));
    worker.on('exit', (code) => this.#fail(worker, new Error(`the argon2 thread ended (exit code ${code})`)));
    return worker;
  }

  /** The thread died: its jobs go back to their owners, to be sent again or refused. */
  #fail(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    const neverStarted = !this.#online;
    this.#worker = null;
    this.#online = false;
    const orphans = [...this.#tickets.values()];
    this.#tickets.clear();
    if (neverStarted) this.#unavailable(error);
    // Jobs run in arrival order: only the first had started (and may have brought the thread down).
    orphans.forEach((ticket, index) => ticket.owner.orphaned(ticket, error, index === 0));
  }

  /** A thread that failed before it was ready (script or native module missing) will not do better next time. */
  #unavailable(error: Error): void {
    if (threadsUnavailable) return;
    threadsUnavailable = true;
    // The message names the script or the failure, never a password.
    process.emitWarning(`argon2 threads cannot start (${error.message}); hashing runs in the libuv thread pool instead`, { code: 'LATCHKEY_ARGON2_THREADS' });
  }
}

/** The argon2 threads of this process, shared by every hasher in it (thread i serves lane i of each). */
const threads: HashThread[] = [];

function threadAt(index: number): HashThread {
  let thread = threads[index];
  if (thread === undefined) {
    thread = new HashThread();
    threads[index] = thread;
  }
  return thread;
}

/**
 * The queue of one hasher: calls wait here first come, first served, and go to its `max` lanes
 * (threads 0 … max − 1) as soon as a lane has room, so at most `max` of its jobs run at once.
 */
class Dispatcher {
  readonly #queue: Ticket[] = [];
  /** Jobs sent to each lane and not settled yet. */
  readonly #placed: number[];
  readonly #fallback: Limiter;
  /** Orphans put back at the head of the queue in this turn, kept in their original order. */
  #requeued = 0;

  constructor(max: number) {
    this.#placed = new Array<number>(max).fill(0);
    this.#fallback = createLimiter(max);
  }

  run(job: Job): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, owner: this, lane: -1, retried: false, resolve, reject });
      this.#pump();
    });
  }

  settle(ticket: Ticket, outcome: { ok: true; value: unknown } | { ok: false; error: Error }): void {
    this.#placed[ticket.lane] = (this.#placed[ticket.lane] ?? 1) - 1;
    if (outcome.ok) ticket.resolve(outcome.value);
    else ticket.reject(outcome.error);
    this.#pump();
  }

  /**
   * Its thread died. A hash or a verify has no side effect, so it goes back to the head of the
   * queue; the job that was running when the thread died goes back once only.
   */
  orphaned(ticket: Ticket, error: Error, ran: boolean): void {
    this.#placed[ticket.lane] = (this.#placed[ticket.lane] ?? 1) - 1;
    if (ran && ticket.retried && !threadsUnavailable) ticket.reject(error);
    else {
      if (ran) ticket.retried = true;
      this.#queue.splice(this.#requeued, 0, ticket);
      this.#requeued += 1;
    }
    queueMicrotask(() => {
      this.#requeued = 0;
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      if (threadsUnavailable) {
        const ticket = this.#queue.shift() as Ticket;
        this.#fallback.run(() => runInline(ticket.job)).then(ticket.resolve, ticket.reject);
        continue;
      }
      let lane = -1;
      for (let index = 0; index < this.#placed.length; index += 1) {
        const placed = this.#placed[index] ?? 0;
        if (placed <= BACKLOG_PER_THREAD && (lane === -1 || placed < (this.#placed[lane] ?? 0))) lane = index;
      }
      if (lane === -1) return;
      const ticket = this.#queue.shift() as Ticket;
      ticket.lane = lane;
      this.#placed[lane] = (this.#placed[lane] ?? 0) + 1;
      threadAt(lane).send(ticket);
    }
  }

  load(): HasherLoad {
    const busyLanes = this.#placed.filter((placed) => placed > 0).length;
    const inLanes = this.#placed.reduce((total, placed) => total + placed, 0);
    const fallback = this.#fallback.load();
    return { active: busyLanes + fallback.active, queued: this.#queue.length + inLanes - busyLanes + fallback.queued };
  }
}

/** The libuv-pool path, for a process that cannot start threads. */
function runInline(job: Job): Promise<unknown> {
  if (job.op === 'hash') return argon2Hash(job.password, job.options);
  return argon2Verify(job.hash, job.password).catch(() => false);
}

/**
 * Creates the production {@link PasswordHasher}: argon2id through @node-rs/argon2 (libargon2),
 * salted with 16 random bytes per hash, PHC-encoded (`$argon2id$v=19$m=19456,t=2,p=1$…`). At most
 * `maxConcurrent` hashes or verifies run at once (by default all cores but one: see
 * {@link defaultMaxConcurrent}); the rest wait, first come first served.
 *
 * Why: PWD-8 asks for a memory-hard, salted password hash; the queue keeps a burst from
 * exhausting memory (see {@link createLimiter}).
 *
 * The hashes run in worker threads of their own (argon2-worker.mjs; lane i of every hasher on
 * thread i), each holding the next jobs of its queue. Why: through libuv's pool, each next hash
 * could only start once the main thread had handled the previous one's completion; with the cap at
 * one and the event loop busy serving requests, the hashing core then idled for the length of an
 * event-loop delay after every hash (measured: 72 instead of 109 hashes/s with the loop busy in
 * 6 ms slices). A thread runs its queued jobs back to back instead. If no thread can start, hashing
 * falls back to libuv's pool with the same cap.
 */
export function createArgon2Hasher(options: Argon2HasherOptions = {}): Argon2Hasher {
  const params = {
    memoryCost: options.memoryCost ?? 19_456,
    timeCost: options.timeCost ?? 2,
    parallelism: options.parallelism ?? 1,
  };
  for (const [name, value] of Object.entries(params)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`argon2 ${name} must be a positive integer, got ${value}`);
  }
  const hashOptions: Options = { algorithm: ARGON2ID, ...params };
  const max = options.maxConcurrent ?? defaultMaxConcurrent();
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxConcurrent must be a positive integer, got ${max}`);
  const dispatcher = new Dispatcher(max);

  return {
    async hash(password: string): Promise<string> {
      return String(await dispatcher.run({ op: 'hash', password, options: hashOptions }));
    },

    async verify(hash: string, password: string): Promise<boolean> {
      if (typeof hash !== 'string' || typeof password !== 'string') return false;
      let parsed;
      try {
        parsed = parseOptions(hash);
      } catch {
        return false;
      }
      if (
        parsed.algorithm !== ARGON2ID ||
        parsed.memoryCost > VERIFY_LIMITS.memoryCost ||
        parsed.timeCost > VERIFY_LIMITS.timeCost ||
        parsed.parallelism > VERIFY_LIMITS.parallelism
      ) {
        return false;
      }
      // A hash that parses but cannot be verified (truncated digest, bad salt) is malformed: the
      // thread answers "does not match", never an exception the caller must special-case.
      return (await dispatcher.run({ op: 'verify', hash, password })) === true;
    },

    needsRehash(hash: string): boolean {
      try {
        const parsed = parseOptions(hash);
        return (
          parsed.algorithm !== ARGON2ID ||
          parsed.memoryCost !== params.memoryCost ||
          parsed.timeCost !== params.timeCost ||
          parsed.parallelism !== params.parallelism
        );
      } catch {
        return true;
      }
    },

    load: () => dispatcher.load(),
  };
}
