import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, messagesTo, roomyLimits, startFlow, startHarness, type Harness } from '../support/harness.ts';
import { shippedFailureThrottle, shippedRateLimit, wrongCode } from './support.ts';

/*
 * RATE-3: limit keys cannot be dodged. With no trusted proxy configured the client address is the
 * socket address, so rotating X-Forwarded-For, X-Real-IP, True-Client-IP or Forwarded does not
 * reset the per-address limit; account limits key on the canonical account, so case, spaces,
 * fullwidth letters or username-versus-email do not split the bucket. The shipped per-address,
 * per-identifier and failure limits are in force.
 */

const SPOOFED = (i: number): Record<string, string> => ({
  'x-forwarded-for': `203.0.113.${i % 250}, 198.51.100.${(i * 7) % 250}`,
  'x-real-ip': `192.0.2.${i % 250}`,
  'true-client-ip': `198.18.0.${i % 250}`,
  forwarded: `for=198.51.100.${i % 250};proto=https`,
  'x-client-ip': `100.64.0.${i % 250}`,
});

/** Spellings of one person's identifier that a person or a mail server treats as the same. */
const VARIANTS = ['alice', 'ALICE', 'Alice', ' alice ', '\talice\n', 'ａｌｉｃｅ', 'alice@corp.test', 'ALICE@CORP.TEST', ' Alice@Corp.Test ', 'ａｌｉｃｅ@ｃｏｒｐ.ｔｅｓｔ'];

describe.each(ENGINES)('rate-limit keys on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, shippedRateLimit('perIp'), shippedRateLimit('perIdentifier'), shippedFailureThrottle] });
  });
  afterAll(async () => {
    await h.close();
  });

  it('RATE-3 keeps counting one client address however the forwarding headers rotate', async () => {
    const limit = h.latchkey.deps.policy().rateLimits.perIp.points;
    const statuses: number[] = [];
    for (let i = 0; i < limit + 10; i += 1) {
      statuses.push((await call(h, 'POST', '/api/recovery/flows', { identifier: `nobody${i}` }, { ip: '10.9.9.9', headers: SPOOFED(i) })).statusCode);
    }
    expect(statuses.slice(0, limit)).toEqual(Array.from({ length: limit }, () => 201));
    expect(statuses.slice(limit)).toEqual(Array.from({ length: 10 }, () => 429));
    // Another real client address is unaffected, and the limited requests are logged against the socket address.
    expect((await call(h, 'POST', '/api/recovery/flows', { identifier: 'nobody' }, { ip: '10.9.9.10', headers: SPOOFED(1) })).statusCode).toBe(201);
    const limited = (await auditEvents(h, { types: ['recovery.rate_limited'] })).filter((event) => event.data['bucket'] === 'ip');
    expect(limited.length).toBeGreaterThanOrEqual(10);
    for (const event of limited) expect(event.ip).toBe('10.9.9.9');
  });

  it('RATE-3 counts every spelling of one identifier in one per-account bucket, from any address', async () => {
    const alice = await createPerson(h, 'alice');
    const enrolled = await enrolEmailAndTotp(h, alice);
    const { perIdentifier } = h.latchkey.deps.policy().rateLimits;
    for (const [i, identifier] of VARIANTS.entries()) {
      const started = await startFlow(h, identifier, 'reset', { ip: `10.1.0.${i + 1}`, headers: SPOOFED(i) });
      expect(started.response.statusCode).toBe(201);
      expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token, ip: `10.1.0.${i + 1}` })).statusCode).toBe(200);
    }
    const codes = (await messagesTo(h, enrolled.altEmail)).filter((message) => message.purpose === 'challenge_code');
    expect(codes).toHaveLength(perIdentifier.points);
  });

  it('RATE-3 keeps one failure budget per account across identifier spellings, flows and addresses', async () => {
    const bea = await createPerson(h, 'bea');
    const enrolled = await enrolEmailAndTotp(h, bea);
    const budget = h.latchkey.deps.policy().tiers.standard.failureThrottle.points;
    const spellings = ['bea', 'BEA', ' Bea ', 'ｂｅａ', 'bea@corp.test', 'BEA@CORP.TEST'];
    const statuses: number[] = [];
    for (let i = 0; i < budget + 5; i += 1) {
      // A new flow, spelling and address for every answer. Past the per-identifier start limit the
      // flows are decoys, which draw on the same per-account budget.
      const ip = `10.2.${i}.1`;
      const started = await startFlow(h, spellings[i % spellings.length] ?? 'bea', 'reset', { ip, headers: SPOOFED(i) });
      await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: started.token, ip });
      const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: wrongCode(await latestCode(h, enrolled.altEmail)) }, { token: started.token, ip, headers: SPOOFED(i + 1) });
      statuses.push(answered.statusCode);
    }
    expect(statuses.slice(0, budget)).toEqual(Array.from({ length: budget }, () => 422));
    expect(statuses.slice(budget)).toEqual(Array.from({ length: 5 }, () => 429));
    expect(json(await call(h, 'POST', '/api/recovery/flows', { identifier: 'BEA' }, { ip: '10.3.0.1' }))['flowToken']).toBeDefined();
  });

  it('RATE-3 offers no second door: form-encoded and text bodies are refused before any work is done', async () => {
    const before = (await h.latchkey.store.outbox.list({ limit: 10_000 })).length;
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', 'identifier=alice'],
      ['text/plain', JSON.stringify({ identifier: 'alice' })],
      ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="identifier"\r\n\r\nalice\r\n--x--\r\n'],
    ] as const) {
      const response = await h.app.inject({ method: 'POST', url: '/api/recovery/flows', remoteAddress: '10.4.0.1', headers: { 'content-type': type }, payload });
      expect(response.statusCode).toBe(415);
    }
    expect((await h.latchkey.store.outbox.list({ limit: 10_000 })).length).toBe(before);
  });
});
