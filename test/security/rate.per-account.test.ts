import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, messagesTo, roomyLimits, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { normalisedReply, shippedRateLimit } from './support.ts';

/*
 * RATE-1: reset requests are limited per target account, so nobody can flood a person's mailbox
 * or phone, and the limited reply is the same as the normal one (no enumeration). The shipped
 * per-identifier and per-recipient limits are in force; the per-address limit is opened up so
 * that only the per-account limits are measured.
 */

describe.each(ENGINES)('per-account request limits on %s', (engine) => {
  let h: Harness;
  let alice: Person;
  let aliceMethods: Enrolled;
  let bob: Person;
  let bobMethods: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, shippedRateLimit('perIdentifier'), shippedRateLimit('messagesPerRecipient')] });
    alice = await createPerson(h, 'alice');
    aliceMethods = await enrolEmailAndTotp(h, alice);
    bob = await createPerson(h, 'bob');
    bobMethods = await enrolEmailAndTotp(h, bob);
  });
  afterAll(async () => {
    await h.close();
  });

  const challengeMessages = async (to: string): Promise<number> => (await messagesTo(h, to)).filter((message) => message.purpose === 'challenge_code').length;

  it('RATE-1 queues at most the per-account limit of codes for 50 reset requests in a minute, and the replies past the limit look the same', async () => {
    const { perIdentifier, messagesPerRecipient } = h.latchkey.deps.policy().rateLimits;
    const cap = Math.min(perIdentifier.points, messagesPerRecipient.points);
    const starts = [];
    const choices = [];
    for (let i = 0; i < 50; i += 1) {
      // Half by username, half by email: both name the same account and share its limit.
      const started = await startFlow(h, i % 2 === 0 ? 'alice' : alice.email);
      starts.push(started.response);
      choices.push(await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token }));
    }
    expect(await challengeMessages(aliceMethods.altEmail)).toBe(cap);
    for (const response of [...starts, ...choices]) expect([200, 201]).toContain(response.statusCode);
    expect(normalisedReply(starts[49] as never)).toEqual(normalisedReply(starts[0] as never));
    expect(normalisedReply(choices[49] as never)).toEqual(normalisedReply(choices[0] as never));
    // The flood is recorded for the security team, though the replies do not show it.
    expect((await auditEvents(h, { types: ['recovery.rate_limited'] })).filter((event) => event.subject === alice.accountId).length).toBeGreaterThanOrEqual(50 - cap);
  });

  it('RATE-1 queues at most the per-recipient limit when one flow asks for new codes again and again', async () => {
    const { messagesPerRecipient } = h.latchkey.deps.policy().rateLimits;
    const { token } = await startFlow(h, 'bob');
    const replies = [];
    for (let i = 0; i < 20; i += 1) replies.push(await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token }));
    expect(await challengeMessages(bobMethods.altEmail)).toBe(messagesPerRecipient.points);
    for (const reply of replies) expect(reply.statusCode).toBe(200);
    expect(normalisedReply(replies[19] as never)).toEqual(normalisedReply(replies[0] as never));
  });

  it('RATE-1 RATE-4 holds the per-account start limit under a burst of 50 simultaneous requests', async () => {
    const { perIdentifier } = h.latchkey.deps.policy().rateLimits;
    const dee = await createPerson(h, 'dee');
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => startFlow(h, i % 2 === 0 ? 'dee' : 'DEE@corp.test', 'reset', { ip: `10.5.0.${i + 1}` })));
    for (const started of burst) expect(started.response.statusCode).toBe(201);
    const real = (await auditEvents(h, { types: ['recovery.started'] })).filter((event) => event.subject === dee.accountId && event.data['decoy'] === false);
    expect(real).toHaveLength(perIdentifier.points);
  });

  it('RATE-1 a flood for one person does not spill over: another person still gets a code', async () => {
    const carol = await createPerson(h, 'carol');
    const carolMethods = await enrolEmailAndTotp(h, carol);
    const { token } = await startFlow(h, 'carol');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
    expect(await challengeMessages(carolMethods.altEmail)).toBe(1);
  });
});
