import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, roomyLimits, startFlow, startHarness, type Harness, type PolicyEdit } from '../support/harness.ts';
import { normalise, outboxSize, scrubBody, type Normalised } from './checks.support.ts';

/*
 * ENUM-4: the steps after the start (describe, method choice, answer, password, unlock) and the
 * rate-limit replies are the same for a real person and an unknown identifier, including at the
 * moment a limit triggers.
 */

/** `normalise` plus the retry delay, which must be present for both and within its window. */
function comparable(response: LightMyRequestResponse): Normalised & { retryAfterSeconds?: string } {
  const normalised = normalise(response);
  const body = normalised.body as Record<string, unknown>;
  if (typeof body === 'object' && body !== null && typeof body['retryAfterSeconds'] === 'number') {
    const seconds = body['retryAfterSeconds'];
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(response.headers['retry-after']).toBe(String(seconds));
    return { ...normalised, body: scrubBody({ ...body, retryAfterSeconds: '<seconds>' }) };
  }
  return normalised;
}

type Step = (token: string) => Promise<LightMyRequestResponse>;

/** Runs the same script of steps on a flow for each identifier and expects replies equal step by step. */
async function expectSameScript(h: Harness, identifiers: readonly string[], steps: readonly Step[]): Promise<Normalised[]> {
  const transcripts: Normalised[][] = [];
  for (const identifier of identifiers) {
    const { token } = await startFlow(h, identifier);
    const transcript: Normalised[] = [];
    for (const step of steps) transcript.push(comparable(await step(token)));
    transcripts.push(transcript);
  }
  for (const [index, transcript] of transcripts.entries()) expect(transcript, identifiers[index]).toEqual(transcripts[0]);
  return transcripts[0] ?? [];
}

const describeFlow: Step = (token) => call(h0(), 'GET', '/api/recovery/flow', undefined, { token });
let current: Harness | null = null;
const h0 = (): Harness => {
  if (!current) throw new Error('no harness');
  return current;
};
const choose =
  (method: string): Step =>
  (token) =>
    call(h0(), 'POST', '/api/recovery/flow/method', { method }, { token });
const answer =
  (code: string): Step =>
  (token) =>
    call(h0(), 'POST', '/api/recovery/flow/answer', { code }, { token });
const setPassword: Step = (token) => call(h0(), 'POST', '/api/recovery/flow/password', { password: 'a fine long passphrase here', confirmPassword: 'a fine long passphrase here' }, { token });
const unlock: Step = (token) => call(h0(), 'POST', '/api/recovery/flow/unlock', {}, { token });

async function harnessWith(engine: (typeof ENGINES)[number], edits: readonly PolicyEdit[]): Promise<Harness> {
  const h = await startHarness({ engine, policy: [roomyLimits, ...edits] });
  const alice = await createPerson(h, 'alice');
  await enrolEmailAndTotp(h, alice, { recoveryCodes: true });
  await createPerson(h, 'bob');
  return h;
}

describe.each(ENGINES)('follow-on steps on %s', (engine) => {
  describe('with roomy limits', () => {
    beforeAll(async () => {
      current = await harnessWith(engine, []);
    });
    afterAll(async () => {
      await current?.close();
      current = null;
    });

    it('ENUM-4 answers describe, choice, wrong answers and out-of-order steps identically for alice, bob and ghost', async () => {
      const script: Step[] = [
        describeFlow,
        answer('12345678'),
        setPassword,
        unlock,
        choose('email_code'),
        answer('00000000'),
        answer('not a code'),
        choose('sms_code'),
        answer('000000'),
        choose('totp'),
        answer('000000'),
        choose('recovery_code'),
        answer('0000-0000-00000'),
        describeFlow,
        setPassword,
      ];
      const transcript = await expectSameScript(h0(), ['ghost', 'bob', 'alice', 'alice@corp.test'], script);
      expect(transcript.map((reply) => reply.status)).toEqual([200, 409, 409, 409, 200, 422, 422, 200, 422, 200, 422, 200, 422, 200, 409]);
    });

    it('ENUM-4 burns a code after the same number of wrong answers for alice and ghost', async () => {
      const wrong = answer('00000000');
      const transcript = await expectSameScript(h0(), ['ghost', 'alice'], [choose('email_code'), wrong, wrong, wrong, wrong, wrong, wrong]);
      expect(transcript.map((reply) => (reply.body as { code?: string }).code ?? reply.status)).toEqual([200, 'challenge.invalid', 'challenge.invalid', 'challenge.invalid', 'challenge.invalid', 'challenge.invalid', 'flow.wrong_state']);
    });
  });

  describe('with a per-flow limit of 3 requests', () => {
    beforeAll(async () => {
      current = await harnessWith(engine, [(policy) => void (policy.rateLimits.perFlow = { points: 3, windowSeconds: 60 })]);
    });
    afterAll(async () => {
      await current?.close();
      current = null;
    });

    it('ENUM-4 refuses the fourth request on a flow with the same 429 for alice and ghost', async () => {
      const transcript = await expectSameScript(h0(), ['ghost', 'alice', 'bob'], [describeFlow, choose('email_code'), answer('00000000'), answer('00000000'), describeFlow]);
      expect(transcript.map((reply) => reply.status)).toEqual([200, 200, 422, 429, 429]);
      expect(transcript[3]?.retryAfter).toBe(true);
      expect((transcript[3]?.body as { code: string }).code).toBe('rate.limited');
    });
  });

  describe('with a failure throttle of 3 answers', () => {
    beforeAll(async () => {
      current = await harnessWith(engine, [(policy) => void (policy.tiers.standard.failureThrottle = { points: 3, windowSeconds: 60 })]);
    });
    afterAll(async () => {
      await current?.close();
      current = null;
    });

    it('ENUM-4 throttles answers after the same count for alice and ghost, and the throttle does not name the account', async () => {
      const wrong = answer('00000000');
      const transcript = await expectSameScript(h0(), ['ghost', 'alice'], [choose('email_code'), wrong, wrong, wrong, wrong, describeFlow]);
      expect(transcript.map((reply) => reply.status)).toEqual([200, 422, 422, 422, 429, 200]);
      const throttled = transcript[4]?.body as { code: string; detail: string };
      expect(throttled.code).toBe('rate.limited');
      expect(throttled.detail).not.toMatch(/alice|account|locked|disabled/i);
    });
  });

  describe('with tight per-identifier and per-recipient limits', () => {
    beforeAll(async () => {
      current = await harnessWith(engine, [
        (policy) => {
          policy.rateLimits.perIdentifier = { points: 2, windowSeconds: 60 };
          policy.rateLimits.messagesPerRecipient = { points: 1, windowSeconds: 60 };
        },
      ]);
    });
    afterAll(async () => {
      await current?.close();
      current = null;
    });

    it('ENUM-4 answers a method choice over the per-recipient message limit like any other, for alice and ghost', async () => {
      const h = h0();
      const before = await outboxSize(h);
      const transcript = await expectSameScript(h, ['ghost', 'alice'], [choose('email_code'), choose('email_code'), choose('email_code'), describeFlow]);
      expect(transcript.map((reply) => reply.status)).toEqual([200, 200, 200, 200]);
      // Only alice's first choice queued a code: the other two were over her one-message budget.
      expect(await outboxSize(h)).toBe(before + 1);
    });

    it('ENUM-4 keeps answering starts over the per-identifier limit exactly like a first start, for alice and ghost', async () => {
      const h = h0();
      const replies = async (identifier: string): Promise<Normalised[]> => {
        const out: Normalised[] = [];
        for (let attempt = 0; attempt < 4; attempt += 1) out.push(normalise(await call(h, 'POST', '/api/recovery/flows', { identifier })));
        return out;
      };
      const ghost = await replies('ghost');
      const alice = await replies('alice');
      expect(ghost.map((reply) => reply.status)).toEqual([201, 201, 201, 201]);
      for (const reply of [...ghost, ...alice]) expect(reply).toEqual(ghost[0]);
      const limited = await auditEvents(h, { types: ['recovery.rate_limited'] });
      expect(limited.filter((event) => event.data['bucket'] === 'identifier').length).toBeGreaterThanOrEqual(2);
    });
  });
});
