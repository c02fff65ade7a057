import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, roomyLimits, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { mannWhitney, median, shiftEstimate } from './checks.support.ts';

/*
 * ENUM-2 (and the timing half of ENUM-4/ENUM-5): the time a reply takes does not depend on whether
 * the account exists, which methods it has, or whether it is locked.
 *
 * Method. Requests for the two subjects are interleaved in pairs whose order is drawn at random,
 * after a warm-up, so drift in machine load (other test files run on the second core) hits both
 * samples alike. Two assertions, each meaningful and neither flaky:
 *
 * 1. The median gap stays under max(2 ms, 25 % of the pooled median, not counting the fixed floor
 *    the start reply waits for: a constant wait hides differences below it and must not also
 *    widen the bound for differences above it). The leaks this check exists
 *    for are a directory bind, an SMTP hand-off or a password hash done for only one kind of
 *    subject: each costs 10 ms or more, far above the bound. The gap is measured as the
 *    Hodges-Lehmann shift (the median of all pairwise differences) rather than as the difference
 *    of the two medians: on a loaded 2-core runner latencies are bimodal (fsync, garbage
 *    collection), and the plain median of such a sample jumps between the modes from run to run
 *    even when both samples come from one distribution. Both medians are printed on failure.
 * 2. A one-sided Mann-Whitney test finds no significant shift LARGER than that bound in either
 *    direction (|z| < 3.29, p < 0.0005 one-sided, after moving one sample by the bound). Testing
 *    the shift beyond the bound, rather than any shift at all, keeps a harmless systematic
 *    difference of a few microseconds from failing the test, while a real leak is caught with
 *    overwhelming significance.
 */

const PAIRS = 200;
const WARM_UP = 20;
/** 440 starts at the 25 ms reply floor take about 11 s; a loaded runner gets room to spare. */
const TIMEOUT_MS = 90_000;

interface Samples {
  readonly a: number[];
  readonly b: number[];
}

async function interleave(pairs: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<Samples> {
  const time = async (work: () => Promise<unknown>): Promise<number> => {
    const started = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  for (let i = 0; i < WARM_UP; i += 1) {
    await a();
    await b();
  }
  const samples: Samples = { a: [], b: [] };
  for (let i = 0; i < pairs; i += 1) {
    if (Math.random() < 0.5) {
      samples.a.push(await time(a));
      samples.b.push(await time(b));
    } else {
      samples.b.push(await time(b));
      samples.a.push(await time(a));
    }
  }
  return samples;
}

/** `floorMs`: a fixed wait the server adds to every reply (the start's timing floor), left out of the 25 %. */
function expectIndistinguishable(label: string, samples: Samples, floorMs = 0): void {
  const gap = Math.abs(shiftEstimate(samples.a, samples.b));
  const bound = Math.max(2, 0.25 * (median([...samples.a, ...samples.b]) - floorMs));
  const slowerA = mannWhitney(samples.a.map((value) => value - bound), samples.b);
  const slowerB = mannWhitney(samples.b.map((value) => value - bound), samples.a);
  const report = `${label}: median ${median(samples.a).toFixed(3)} ms vs ${median(samples.b).toFixed(3)} ms, shift ${gap.toFixed(3)} ms, bound ${bound.toFixed(3)} ms, ` + `z(a slower by more than the bound) ${slowerA.z.toFixed(2)}, z(b slower by more than the bound) ${slowerB.z.toFixed(2)}, ` + `effect ${mannWhitney(samples.a, samples.b).effect.toFixed(3)}`;
  expect(gap, report).toBeLessThan(bound);
  expect(slowerA.z, report).toBeLessThan(3.29);
  expect(slowerB.z, report).toBeLessThan(3.29);
}

describe.each(ENGINES)('timing of enumeration-sensitive replies on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      engine,
      policy: [
        roomyLimits,
        // The shipped per-recipient message limit (5 an hour): see the ENUM-4 case.
        (policy) => {
          policy.rateLimits.messagesPerRecipient = { points: 5, windowSeconds: 3600 };
        },
      ],
    });
    await createPerson(h, 'bob');
    const alice = await createPerson(h, 'alice');
    await enrolEmailAndTotp(h, alice);
    const erin = await createPerson(h, 'erin');
    await h.latchkey.store.builtinAccounts.recordFailedSignIn(erin.accountId as never, 1, h.clock.now());
    expect((await h.latchkey.deps.directory.readLockState(erin.accountId as never)).locked).toBe(true);
  });
  afterAll(async () => {
    await h.close();
  });

  const start = (identifier: string) => () => call(h, 'POST', '/api/recovery/flows', { identifier });

  it('ENUM-2 starts a flow for an existing account without methods as fast as for an unknown one', async () => {
    expectIndistinguishable('bob vs ghost', await interleave(PAIRS, start('bob'), start('ghost')), h.latchkey.config.startResponseFloorMs);
  }, TIMEOUT_MS);

  it('ENUM-2 starts a flow for an account with an email and an app registered as fast as for an unknown one', async () => {
    expectIndistinguishable('alice vs ghost', await interleave(PAIRS, start('alice@corp.test'), start('ghost@corp.test')), h.latchkey.config.startResponseFloorMs);
  }, TIMEOUT_MS);

  it('ENUM-4 chooses the email method as fast for alice as for ghost under the shipped per-recipient message limit', async () => {
    // Only the first few choices an hour queue a real code for alice (each one a message she
    // receives); the rest must cost what a decoy's choice costs, so repeating the choice to average
    // out network noise gains an attacker nothing.
    const alice = await startFlow(h, 'alice');
    const ghost = await startFlow(h, 'ghost');
    const choose = (token: string) => () => call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    expectIndistinguishable('choose email: alice vs ghost', await interleave(PAIRS, choose(alice.token), choose(ghost.token)));
  }, TIMEOUT_MS);

  const signIn = (username: string) => () => call(h, 'POST', '/api/me/sign-in', { username, password: 'a wrong password of ordinary length' });

  // Each sign-in costs an argon2id hash; 40 pairs keep this test short and still detect a skipped
  // hash on either side (the unknown name's dummy hash, or the locked account's real one).
  it('ENUM-5 refuses a sign-in as fast for a locked account as for an unknown username', async () => {
    expectIndistinguishable('sign-in: erin (locked) vs ghost', await interleave(40, signIn('erin'), signIn('ghost')));
  }, TIMEOUT_MS);
});
