import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, allMessages, call, createPerson, json, messagesTo, signInFresh, startHarness, type Harness } from '../support/harness.ts';
import { outboxSize } from './checks.support.ts';

/*
 * INP-7: a phone number is normalised to E.164 (libphonenumber-js, docs/sim-swap-and-travel.md) and
 * stored exactly as it will be dialled, so registration, delivery and comparison all see one
 * spelling. People may punctuate and space an international number; a national form is read only
 * with `phone.defaultRegion` configured, and refused without it. Lettered, over-long, multi-number
 * and extension forms, and numbers that belong to no country or are billed at premium rates
 * (satellite, international networks, international and national premium rate: SMS pumping), are
 * refused before any text is sent to them.
 */

/** Forms that are never a phone number of a person, whatever the default region. */
const REFUSED: Readonly<Record<string, readonly string[]>> = {
  lettered: ['+44770090012O', 'phone', '+1 800 FLOWERS', '+44 7700 9OO123', '+４４7700900123', '+44 7700 900123 ✆'],
  'over-long or impossible': ['+1234567890123456', '+44 7700 900123 12', '+447700900123 447700900999', '+447700900123 / 900999', '+12345', '+0447700900123', '+44 7700 9001'],
  'multi-number': ['+447700900123;+447700900999', '+447700900123,+447700900999', '+447700900123\n+447700900999', '+447700900123\r\n+447700900999', '+447700900123 / +447700900999', '+447700900123 +447700900999', '+447700900123|+447700900999'],
  extension: ['+447700900123 ext. 12', '+447700900123x12', '+447700900123#12', '+447700900123;ext=12', '+447700900123,,12', '+447700900123 p12', '+447700900123 w12'],
  'premium-rate': ['+44 909 879 0000', '+44 (0) 909 879 0000', '+1 900 555 0100', '+1-900-555-0100', '+49 900 1 234567', '+33 8 99 12 34 56', '+979 123 456 789', '+882 16 1234 5678'],
};

/** National forms (and a bare international number without its `+`): only a default region gives them a country. */
const NATIONAL = ['020 7946 0000', '07700 900123', '07700-900-123', '(0)7700 900123', '0044 20 7946 0000', '00447700900123', '447700900123'];

describe.each(ENGINES)('phone numbers on %s', (engine) => {
  let h: Harness;
  let session: string;
  let regional: Harness;
  let regionalSession: string;
  beforeAll(async () => {
    h = await startHarness({ engine });
    session = await signInFresh(h, await createPerson(h, 'alice'));
    regional = await startHarness({ engine, env: { LATCHKEY_PHONE__DEFAULT_REGION: 'GB' } });
    regionalSession = await signInFresh(regional, await createPerson(regional, 'alice'));
  });
  afterAll(async () => {
    await h.close();
    await regional.close();
  });

  const register = (phone: unknown) => call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
  const registerRegional = (phone: unknown) => call(regional, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: regionalSession });

  /** A refusal names the phone field, says what to fix and never echoes the input. */
  const expectRefused = (response: Awaited<ReturnType<typeof register>>, phone: string, message?: RegExp): void => {
    expect(response.statusCode, JSON.stringify(phone)).toBe(422);
    const body = json<{ code: string; detail: string }>(response);
    expect(body.code, JSON.stringify(phone)).toBe('enrollment.invalid_input');
    expect(body.detail, JSON.stringify(phone)).toMatch(/^phone: \S/);
    if (message) expect(body.detail, JSON.stringify(phone)).toMatch(message);
    // The example number in the message is not an echo; the digits typed are never repeated back.
    const said = body.detail.replace(/e\.g\. \+447700900123$/, '');
    for (const run of phone.match(/\d{4,}/g) ?? []) expect(said, JSON.stringify(phone)).not.toContain(run);
  };

  it('INP-7 without phone.defaultRegion refuses every national form with a message naming the phone field and asking for E.164, and sends nothing', async () => {
    expect(h.latchkey.config.phone.defaultRegion ?? null).toBeNull();
    const before = await outboxSize(h);
    for (const phone of NATIONAL) expectRefused(await register(phone), phone, /E\.164/);
    expect(await outboxSize(h)).toBe(before);
  });

  it('INP-7 stores punctuated and spaced forms of a valid international number as its E.164 form, and sends the code to that form only', async () => {
    const forms = ['+44 7700 900456', '+44-7700-900-456', '+44 (0) 7700 900456', '+44 (0)7700-900 456', '+44.7700.900.456', ' +44 (7700) 900 456\t', '+447700900456'];
    const ids: string[] = [];
    for (const typed of forms) {
      const response = await register(typed);
      expect(response.statusCode, JSON.stringify(typed)).toBe(201);
      const enrollment = json<{ enrollment: { id: string; label: string } }>(response).enrollment;
      expect(enrollment.label, JSON.stringify(typed)).toBe('+44•••••••56');
      ids.push(enrollment.id);
    }
    // Every code went to the E.164 number, one per registration, and no text to any other spelling of it.
    const texts = await messagesTo(h, '+447700900456');
    expect(texts.map((message) => [message.channel, message.purpose])).toEqual(forms.map(() => ['sms', 'enrollment_code']));
    const sms = (await allMessages(h)).filter((message) => message.channel === 'sms');
    for (const message of sms) expect(message.to).toMatch(/^\+[1-9]\d{6,14}$/);
    // The code sent to the E.164 number proves the enrollment registered as `+44 (0) 7700 900456`.
    const code = /\b(\d{6,10})\b/.exec(texts[2]?.text ?? '')?.[1];
    expect(code).toBeDefined();
    const verified = await call(h, 'POST', `/api/me/methods/${ids[2]}/verify`, { code }, { token: session });
    expect(verified.statusCode, verified.body).toBe(200);
    // A landline written with the national trunk prefix in brackets is one number too.
    const landline = await register('+44 (0)20 7946 0000');
    expect(landline.statusCode).toBe(201);
    expect((await messagesTo(h, '+442079460000')).map((message) => message.purpose)).toEqual(['enrollment_code']);
  });

  it('INP-7 with phone.defaultRegion reads a national form in that region and stores it as E.164', async () => {
    for (const [typed, e164, label] of [
      ['07700 900789', '+447700900789', '+44•••••••89'],
      ['020 7946 0789', '+442079460789', '+44•••••••89'],
    ] as const) {
      const response = await registerRegional(typed);
      expect(response.statusCode, typed).toBe(201);
      expect(json<{ enrollment: { label: string } }>(response).enrollment.label).toBe(label);
      expect((await messagesTo(regional, e164)).map((message) => message.purpose)).toEqual(['enrollment_code']);
    }
  });

  it.each(Object.entries(REFUSED))('INP-7 refuses %s forms with a message naming the phone field, with or without a default region, and sends nothing', async (_kind, phones) => {
    const before = [await outboxSize(h), await outboxSize(regional)];
    for (const phone of phones) {
      expectRefused(await register(phone), phone);
      expectRefused(await registerRegional(phone), phone);
    }
    expect([await outboxSize(h), await outboxSize(regional)]).toEqual(before);
  });

  it('INP-7 refuses more than one number however it is sent (a list or an object is not a phone number), and sends nothing', async () => {
    const before = await outboxSize(h);
    for (const phone of [['+447700900123', '+447700900999'], { number: '+447700900123' }, 447700900123, null]) {
      const response = await register(phone);
      expect(response.statusCode, JSON.stringify(phone)).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, JSON.stringify(phone)).toBeLessThan(500);
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
