import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, json, messagesTo, roomyLimits, signInFresh, startHarness, type Harness } from '../support/harness.ts';
import { shippedRateLimit } from './support.ts';

/*
 * RATE-7 (budgets; the country allow-list is a later release): outbound codes have per-account and
 * per-destination budgets, so nobody can pump SMS to a premium number or bomb a mailbox through
 * Latchkey. Recovery codes are covered by RATE-1; here the other path that sends codes, registering
 * a phone or an address in self-service, is driven from attacker-held accounts. The shipped
 * per-recipient budget (5 an hour) is in force.
 */

const PREMIUM = '+447000900123';
const VICTIM_INBOX = 'victim.inbox@example.com';

describe.each(ENGINES)('sending budgets on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine, policy: [roomyLimits, shippedRateLimit('messagesPerRecipient')] });
  });
  afterAll(async () => {
    await h.close();
  });

  const budget = (): number => h.latchkey.deps.policy().rateLimits.messagesPerRecipient.points;

  async function register(session: string, body: Record<string, unknown>): Promise<number> {
    const response = await call(h, 'POST', '/api/me/methods', body, { token: session });
    if (response.statusCode === 429) expect(json(response)['code']).toBe('rate.limited');
    return response.statusCode;
  }

  it('RATE-7 sends at most the budget of verification texts to one number from one account', async () => {
    const session = await signInFresh(h, await createPerson(h, 'pumper'));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i += 1) statuses.push(await register(session, { method: 'sms_code', phone: PREMIUM }));
    expect(await messagesTo(h, PREMIUM)).toHaveLength(budget());
    expect(statuses.slice(0, budget())).toEqual(Array.from({ length: budget() }, () => 201));
    expect(new Set(statuses.slice(budget()))).toEqual(new Set([429]));
  });

  it('RATE-7 sends at most the budget of verification texts to one number from many accounts', async () => {
    const number = '+447000900456';
    for (let account = 0; account < 4; account += 1) {
      const session = await signInFresh(h, await createPerson(h, `pump${account}`));
      for (let i = 0; i < 3; i += 1) await register(session, { method: 'sms_code', phone: number });
    }
    expect(await messagesTo(h, number)).toHaveLength(budget());
  });

  it('RATE-7 sends at most the budget of verification texts from one account however the numbers rotate', async () => {
    const session = await signInFresh(h, await createPerson(h, 'rotator'));
    const numbers = Array.from({ length: 20 }, (_, i) => `+4470009007${String(i).padStart(2, '0')}`);
    for (const phone of numbers) await register(session, { method: 'sms_code', phone });
    let sent = 0;
    for (const phone of numbers) sent += (await messagesTo(h, phone)).length;
    expect(sent).toBe(budget());
  });

  it('RATE-7 sends at most the budget of verification mails to one mailbox, from one account or many', async () => {
    for (let account = 0; account < 3; account += 1) {
      const session = await signInFresh(h, await createPerson(h, `bomber${account}`));
      for (let i = 0; i < 4; i += 1) await register(session, { method: 'email_code', address: VICTIM_INBOX });
    }
    expect(await messagesTo(h, VICTIM_INBOX)).toHaveLength(budget());
  });
});
