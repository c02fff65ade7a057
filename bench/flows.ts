import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { JsonClient, stringField, UnexpectedResponse, type JsonResponse } from './http.ts';
import type { EnrolledAccount } from './instance.ts';
import type { OutboxReader } from './outbox.ts';
import { startCpuMeter, type CpuDelta } from './procstat.ts';
import { beginServerPhase, type ServerPhase, type ServerProcess } from './child.ts';

/*
 * Full password-reset flows over real HTTP, the way a person does one:
 *   start → choose email_code → read the code from the mailbox (dev outbox) → answer →
 *   choose recovery_code → answer with a printed code → set a new password.
 * Six requests; the last one hashes the new password with argon2id (the only hash of a flow).
 * `withPassword: false` stops after the second gate: the same flow minus the hash, for the breakdown.
 */

export const STEPS = ['start', 'chooseEmail', 'readCode', 'answerEmail', 'chooseRecovery', 'answerRecovery', 'password'] as const;
export type Step = (typeof STEPS)[number];

/** Hands out accounts that still have recovery codes, each to one worker at a time (a completed
 * reset supersedes every other open flow of its account, so two flows must not share one). */
export class AccountPool {
  private readonly queue: EnrolledAccount[];

  constructor(accounts: readonly EnrolledAccount[]) {
    this.queue = accounts.filter((account) => account.recoveryCodes.length > 0);
  }

  take(): EnrolledAccount | null {
    return this.queue.shift() ?? null;
  }

  give(account: EnrolledAccount): void {
    if (account.recoveryCodes.length > 0) this.queue.push(account);
  }

  get codesLeft(): number {
    return this.queue.reduce((total, account) => total + account.recoveryCodes.length, 0);
  }
}

/** Uncommon words, none of them a username, organisation or context token of the bench accounts. */
const WORDS = (
  'amber anvil apricot arbor aspen atlas azure badger banjo basalt beacon birch bison bramble breeze bronze cactus canyon cedar ' +
  'cinder clover cobalt comet copper coral cricket crystal cypress dahlia delta desert dune ember falcon fennel fern fjord ' +
  'garnet geyser ginger glacier granite gravel harbor hazel heron hollow indigo iris ivory jasper juniper kelp kestrel ' +
  'lagoon lantern larch lemur lilac linen lotus lynx maple marble meadow mesa mint mosaic nectar nickel nutmeg oasis ' +
  'obsidian ochre olive onyx opal orchid osprey otter paprika pebble pepper pine plum prairie quartz quill raven reef ' +
  'ripple saffron sage sequoia sierra slate sorrel spruce summit tamarind thistle thyme topaz tundra umber valley velvet willow'
).split(' ');

/** Four distinct random words from {@link WORDS}, hyphenated (a repeated word would read as a pattern). */
export function newPassword(): string {
  const words = new Set<string>();
  while (words.size < 4) words.add(WORDS[randomInt(WORDS.length)] ?? 'amber');
  return [...words].join('-');
}

export interface FlowRunOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly withPassword: boolean;
  readonly pool: AccountPool;
  readonly outbox: OutboxReader;
  /** The server under test: CPU accounting and its own counters over the measured window. */
  readonly server: ServerProcess;
}

export interface FlowRunResult {
  readonly withPassword: boolean;
  readonly concurrency: number;
  /** Length of the measured window (after warm-up). */
  readonly windowMs: number;
  /** Flows completed inside the window. */
  readonly flows: number;
  /** HTTP requests answered inside the window. */
  readonly requests: number;
  readonly flowsPerSecond: number;
  readonly requestsPerSecond: number;
  /** Latency (ms) of each flow that started and ended inside the window. */
  readonly flowLatenciesMs: number[];
  readonly stepLatenciesMs: Record<Step, number[]>;
  readonly errors: number;
  readonly firstErrors: string[];
  /** True when the pool ran out of recovery codes and the window was cut short. */
  readonly poolExhausted: boolean;
  readonly cpu: CpuDelta;
  readonly server: ServerPhase;
}

interface Window {
  readonly startAt: number;
  endAt: number;
}

const inWindow = (window: Window, at: number): boolean => at >= window.startAt && at <= window.endAt;

/** Runs flows with `concurrency` workers for warm-up + duration; reports the steady-state window. */
export async function runFlows(options: FlowRunOptions): Promise<FlowRunResult> {
  const client = new JsonClient(options.server.port, options.concurrency);
  const steps = Object.fromEntries(STEPS.map((step) => [step, [] as number[]])) as Record<Step, number[]>;
  const flowLatencies: number[] = [];
  const firstErrors: string[] = [];
  let flows = 0;
  let requests = 0;
  let errors = 0;
  let poolExhausted = false;

  const begin = performance.now();
  const window: Window = { startAt: begin + options.warmupMs, endAt: begin + options.warmupMs + options.durationMs };
  let meter: ReturnType<typeof startCpuMeter> | null = null;
  let cpu: CpuDelta | null = null;
  let phase: ReturnType<typeof beginServerPhase> | null = null;
  let phaseResult: Promise<ServerPhase> | null = null;
  const startMeter = setTimeout(() => {
    meter = startCpuMeter(options.server.pid);
    phase = beginServerPhase(options.server);
  }, options.warmupMs);
  const stopMeter = (): void => {
    if (meter && !cpu) {
      cpu = meter.stop();
      phaseResult = phase?.then((started) => started.end()) ?? null;
    }
  };
  const endTimer = setTimeout(stopMeter, options.warmupMs + options.durationMs);

  /** One timed request; `step` collects its latency when it ends inside the window. */
  const timed = async (step: Step, work: () => Promise<JsonResponse>): Promise<JsonResponse> => {
    const sentAt = performance.now();
    const response = await work();
    const doneAt = performance.now();
    if (inWindow(window, sentAt) && inWindow(window, doneAt)) steps[step].push(doneAt - sentAt);
    if (inWindow(window, doneAt)) requests += 1;
    return response;
  };
  const expect = (step: Step, response: JsonResponse, status: number): JsonResponse => {
    if (response.status !== status) throw new UnexpectedResponse(step, response);
    return response;
  };

  const oneFlow = async (account: EnrolledAccount, recoveryCode: string, useEmail: boolean): Promise<void> => {
    const started = expect('start', await timed('start', () => client.post('/api/recovery/flows', { identifier: useEmail ? account.workEmail : account.username, purpose: 'reset' })), 201);
    const firstToken = stringField(started.body, 'flowToken');
    if (!firstToken) throw new UnexpectedResponse('start (no flowToken)', started);
    expect('chooseEmail', await timed('chooseEmail', () => client.post('/api/recovery/flow/method', { method: 'email_code' }, firstToken)), 200);
    const readAt = performance.now();
    const code = await options.outbox.latestCode(account.accountId, 'challenge_code');
    const readDone = performance.now();
    if (inWindow(window, readAt) && inWindow(window, readDone)) steps.readCode.push(readDone - readAt);
    const first = expect('answerEmail', await timed('answerEmail', () => client.post('/api/recovery/flow/answer', { code }, firstToken)), 200);
    const secondToken = stringField(first.body, 'flowToken');
    if (!secondToken) throw new UnexpectedResponse('answerEmail (no rotated flowToken)', first);
    expect('chooseRecovery', await timed('chooseRecovery', () => client.post('/api/recovery/flow/method', { method: 'recovery_code' }, secondToken)), 200);
    const second = expect('answerRecovery', await timed('answerRecovery', () => client.post('/api/recovery/flow/answer', { code: recoveryCode }, secondToken)), 200);
    const grantToken = stringField(second.body, 'flowToken');
    if (!grantToken || stringField(second.body, 'flow', 'step') !== 'awaiting_new_password') throw new UnexpectedResponse('answerRecovery (no grant)', second);
    if (!options.withPassword) return;
    const password = newPassword();
    const done = expect('password', await timed('password', () => client.post('/api/recovery/flow/password', { password, confirmPassword: password }, grantToken)), 200);
    if (stringField(done.body, 'flow', 'step') !== 'completed') throw new UnexpectedResponse('password (not completed)', done);
  };

  const worker = async (lane: number): Promise<void> => {
    for (let round = 0; performance.now() < window.endAt; round += 1) {
      const account = options.pool.take();
      if (!account) {
        if (!poolExhausted && performance.now() < window.endAt) {
          poolExhausted = true;
          window.endAt = performance.now();
          stopMeter();
        }
        return;
      }
      const recoveryCode = account.recoveryCodes.shift() as string;
      const startedAt = performance.now();
      try {
        await oneFlow(account, recoveryCode, (lane + round) % 2 === 0);
        const endedAt = performance.now();
        if (inWindow(window, endedAt)) flows += 1;
        if (inWindow(window, startedAt) && inWindow(window, endedAt)) flowLatencies.push(endedAt - startedAt);
      } catch (error) {
        errors += 1;
        if (firstErrors.length < 5) firstErrors.push(error instanceof Error ? error.message : String(error));
      } finally {
        options.pool.give(account);
      }
    }
  };

  await Promise.all(Array.from({ length: options.concurrency }, (_, lane) => worker(lane)));
  clearTimeout(startMeter);
  clearTimeout(endTimer);
  stopMeter();
  client.close();
  const measured = cpu as CpuDelta | null;
  const server = await (phaseResult as Promise<ServerPhase> | null);
  if (!measured || !server) throw new Error('the flow run ended before its measured window began (too few accounts?)');
  const windowMs = window.endAt - window.startAt;
  return {
    withPassword: options.withPassword,
    concurrency: options.concurrency,
    windowMs,
    flows,
    requests,
    flowsPerSecond: (flows / windowMs) * 1000,
    requestsPerSecond: (requests / windowMs) * 1000,
    flowLatenciesMs: flowLatencies,
    stepLatenciesMs: steps,
    errors,
    firstErrors,
    poolExhausted,
    cpu: measured,
    server,
  };
}
