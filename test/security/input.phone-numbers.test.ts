import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, json, messagesTo, signInFresh, startHarness, type Harness } from '../support/harness.ts';
import { outboxSize } from './checks.support.ts';

/*
 * INP-7: a phone number is accepted only in E.164 form, stored exactly as it will be dialled (so
 * registration, delivery and comparison all see one spelling), and numbers that belong to no country
 * (satellite, international networks, international premium rate) are refused before any text is
 * sent to them.
 */

describe.each(ENGINES)('phone numbers on %s', (engine) => {
  let h: Harness;
  let session: string;
  beforeAll(async () => {
    h = await startHarness({ engine });
    session = await signInFresh(h, await createPerson(h, 'alice'));
  });
  afterAll(async () => {
    await h.close();
  });

  const register = (phone: unknown) => call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });

  it('INP-7 refuses national, punctuated, spaced, lettered and over-long forms with a message naming the phone field, and sends nothing', async () => {
    const before = await outboxSize(h);
    for (const phone of ['+44 (0)20 7946 0000', '0044 20 7946 0000', '020 7946 0000', '+44-20-7946-0000', '+44 7700 900123', '+44770090012O', 'phone', '+0447700900123', '+1234567890123456', '+12345', '447700900123', '+４４7700900123', '+447700900123;+447700900999']) {
      const response = await register(phone);
      expect(response.statusCode, phone).toBe(422);
      expect(json<{ code: string; detail: string }>(response)).toMatchObject({ code: 'enrollment.invalid_input', detail: expect.stringMatching(/^phone: .*E\.164/) as unknown });
    }
    expect(await outboxSize(h)).toBe(before);
  });

  it('INP-7 refuses satellite, international-network and international premium-rate numbers, and sends nothing', async () => {
    const before = await outboxSize(h);
    for (const phone of ['+80012345678', '+80812345678', '+870773123456', '+881612345678', '+882161234567', '+883510012345', '+888123456789', '+979123456789', '+99112345678']) {
      const response = await register(phone);
      expect(response.statusCode, phone).toBe(422);
      expect(json<{ detail: string }>(response).detail, phone).toMatch(/^phone: /);
    }
    expect(await outboxSize(h)).toBe(before);
  });

  it('INP-7 stores and dials an accepted number in exactly the E.164 form, however much whitespace surrounded it', async () => {
    for (const typed of ['+447700900123', '  +447700900123\t']) {
      const response = await register(typed);
      expect(response.statusCode, JSON.stringify(typed)).toBe(201);
      expect(json<{ enrollment: { label: string } }>(response).enrollment.label).toBe('+44•••••••23');
    }
    const texts = await messagesTo(h, '+447700900123');
    expect(texts.map((message) => message.purpose)).toEqual(['enrollment_code', 'enrollment_code']);
    expect(texts.every((message) => message.channel === 'sms')).toBe(true);
  });
});
