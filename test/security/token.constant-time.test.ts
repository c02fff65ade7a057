import type * as NodeCrypto from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSecretHasher, parseKeyring } from '../../src/adapters/system/keyring.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, latestCode, oathtoolCode, startFlow, startHarness, type Enrolled, type Harness } from '../support/harness.ts';
import { alignToMidStep, nextTotpStep, wrongCode } from './support.ts';

/*
 * TOK-18: code and token comparisons are constant-time and never short-circuit on a prefix. A
 * wall-clock timing test would be flaky on a shared machine, so this suite proves the structure
 * instead: every comparison of a secret goes through crypto.timingSafeEqual on equal-length
 * buffers, and the TOTP check compares every candidate step without an early exit.
 */

const timing = vi.hoisted(() => ({ calls: [] as { left: number; right: number }[] }));

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
      timing.calls.push({ left: a.byteLength, right: b.byteLength });
      return actual.timingSafeEqual(a, b);
    },
  };
});

// vi.mock is hoisted above the imports, so every module below sees the recording timingSafeEqual.

describe('TOK-18 SecretHasher.equal', () => {
  const hasher = createSecretHasher(parseKeyring(`k1:${Buffer.alloc(32, 7).toString('base64')}`));
  const mac = hasher.mac('challenge', '12345678');

  beforeEach(() => {
    timing.calls.length = 0;
  });

  it('TOK-18 compares equal-length values with timingSafeEqual, whether they match or differ first or last', () => {
    const firstDiffers = `${mac[0] === 'a' ? 'b' : 'a'}${mac.slice(1)}`;
    const lastDiffers = `${mac.slice(0, -1)}${mac.endsWith('a') ? 'b' : 'a'}`;
    expect(hasher.equal(mac, hasher.mac('challenge', '12345678'))).toBe(true);
    expect(hasher.equal(mac, firstDiffers)).toBe(false);
    expect(hasher.equal(mac, lastDiffers)).toBe(false);
    expect(timing.calls).toEqual([
      { left: 64, right: 64 },
      { left: 64, right: 64 },
      { left: 64, right: 64 },
    ]);
  });

  it('TOK-18 refuses values of another length or type without comparing bytes (lengths of MACs are public)', () => {
    expect(hasher.equal(mac, mac.slice(0, 63))).toBe(false);
    expect(hasher.equal(mac, `${mac}0`)).toBe(false);
    expect(hasher.equal(mac, undefined as unknown as string)).toBe(false);
    expect(timing.calls).toEqual([]);
  });

  it('TOK-18 never confuses MACs made for different purposes', () => {
    expect(hasher.equal(hasher.mac('challenge', '12345678'), hasher.mac('recovery_code', '12345678'))).toBe(false);
  });
});

describe.each(ENGINES)('TOK-18 comparisons on the API path on %s', (engine) => {
  let h: Harness;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    enrolled = await enrolEmailAndTotp(h, await createPerson(h, 'ted'));
  });
  afterAll(async () => {
    await h.close();
  });

  /** timingSafeEqual calls made while one request is handled. */
  async function callsDuring(request: () => Promise<unknown>): Promise<{ left: number; right: number }[]> {
    timing.calls.length = 0;
    await request();
    return [...timing.calls];
  }

  it('TOK-18 checks the flow token and the emailed code with constant-time comparisons of full MACs', async () => {
    const { token } = await startFlow(h, 'ted');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    const code = await latestCode(h, enrolled.altEmail);
    const describeOnly = await callsDuring(() => call(h, 'GET', '/api/recovery/flow', undefined, { token }));
    const wrong = await callsDuring(() => call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token }));
    const prefix = await callsDuring(() => call(h, 'POST', '/api/recovery/flow/answer', { code: `${code.slice(0, 7)}${wrongCode(code).slice(7)}` }, { token }));
    const right = await callsDuring(() => call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }));
    // Loading the flow compares the token's MAC; answering adds the code's MAC comparison. A code
    // sharing seven leading digits with the right one costs exactly the same comparisons as one sharing none.
    expect(describeOnly).toEqual([{ left: 64, right: 64 }]);
    expect(wrong).toEqual([{ left: 64, right: 64 }, { left: 64, right: 64 }]);
    expect(prefix).toEqual(wrong);
    expect(right).toEqual(wrong);
  });

  it('TOK-18 checks an authenticator code against every step of the window, with no early exit', async () => {
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'ted');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    alignToMidStep(h.clock);
    const code = oathtoolCode(enrolled.totpSeed, h.clock);
    const steps = 2 * h.latchkey.deps.policy().methods.totp.driftSteps + 1;
    const totpCompares = (calls: { left: number; right: number }[]): number => calls.filter((entry) => entry.left === code.length && entry.right === code.length).length;
    const wrong = await callsDuring(() => call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(code) }, { token }));
    const right = await callsDuring(() => call(h, 'POST', '/api/recovery/flow/answer', { code }, { token }));
    expect(totpCompares(wrong)).toBe(steps);
    expect(totpCompares(right)).toBe(steps);
  });
});
