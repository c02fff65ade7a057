import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, messagesTo, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { enrolPhone } from './support.ts';
import { chiSquareUniform, chiSquareZ, risingFraction } from './stats.ts';

/*
 * TOK-2: one-time codes sent by email and SMS have at least 6 digits, every digit uniform in every
 * position, and no repeats or runs beyond chance, measured on codes the API really sent.
 */

const EMAIL_CODES = 1_000;
const SMS_CODES = 200;

describe.each(ENGINES)('code entropy on %s', (engine) => {
  let h: Harness;
  let ada: Person;
  let adaMethods: Enrolled;
  const phone = '+447700900321';

  beforeAll(async () => {
    h = await startHarness({ engine });
    ada = await createPerson(h, 'ada');
    adaMethods = await enrolEmailAndTotp(h, ada);
    await enrolPhone(h, adaMethods.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-2 sends 1,000 email codes of 8 digits with uniform digits in every position and no repeats beyond chance', async () => {
    // Many flows at once, each asking for a new code again and again (each request replaces the flow's code).
    await requestCodes(h, 'email_code', 20, EMAIL_CODES / 20);
    const codes = (await messagesTo(h, adaMethods.altEmail))
      .filter((message) => message.purpose === 'challenge_code')
      .map((message) => /\b(\d+)\b/.exec(message.text)?.[1] ?? '');
    expect(codes).toHaveLength(EMAIL_CODES);
    for (const code of codes) expect(code).toMatch(/^\d{8}$/);
    expectUniformCodes(codes, 8);
  });

  it('TOK-2 sends SMS codes of at least 6 uniform digits', async () => {
    await requestCodes(h, 'sms_code', 10, SMS_CODES / 10);
    const codes = (await messagesTo(h, phone)).filter((message) => message.purpose === 'challenge_code').map((message) => /\b(\d+)\b/.exec(message.text)?.[1] ?? '');
    expect(codes).toHaveLength(SMS_CODES);
    for (const code of codes) expect(code.length).toBeGreaterThanOrEqual(6);
    for (const code of codes) expect(code).toMatch(/^\d+$/);
    expectUniformCodes(codes, codes[0]?.length ?? 6);
  });
});

async function requestCodes(h: Harness, method: 'email_code' | 'sms_code', flows: number, perFlow: number): Promise<void> {
  const tokens = await Promise.all(Array.from({ length: flows }, async () => (await startFlow(h, 'ada')).token));
  const statuses = await Promise.all(
    tokens.map(async (token) => {
      const seen: number[] = [];
      for (let i = 0; i < perFlow; i += 1) seen.push((await call(h, 'POST', '/api/recovery/flow/method', { method }, { token })).statusCode);
      return seen;
    }),
  );
  expect(new Set(statuses.flat())).toEqual(new Set([200]));
}

function expectUniformCodes(codes: readonly string[], length: number): void {
  const overall = new Array<number>(10).fill(0);
  for (let position = 0; position < length; position += 1) {
    const counts = new Array<number>(10).fill(0);
    for (const code of codes) {
      const digit = Number(code[position]);
      counts[digit] = (counts[digit] ?? 0) + 1;
      overall[digit] = (overall[digit] ?? 0) + 1;
    }
    expect(chiSquareZ(chiSquareUniform(counts), 9), `digit position ${position}`).toBeLessThan(5.5);
  }
  expect(chiSquareZ(chiSquareUniform(overall), 9)).toBeLessThan(5.5);
  // Repeats: with 10^length codes the expected number of equal pairs is n²/2/10^length (0.005 for
  // 1,000 8-digit codes, 0.02 for 200 6-digit ones); more than 3 means the space is far smaller.
  expect(codes.length - new Set(codes).size).toBeLessThanOrEqual(3);
  // Consecutive codes share their first four digits about once in 10,000 pairs; a time- or counter-based code would do so constantly.
  let sharedHeads = 0;
  for (let i = 1; i < codes.length; i += 1) if (codes[i]?.slice(0, 4) === codes[i - 1]?.slice(0, 4)) sharedHeads += 1;
  expect(sharedHeads).toBeLessThanOrEqual(3);
  expect(Math.abs(risingFraction(codes) - 0.5)).toBeLessThan(6.5 * Math.sqrt((codes.length + 1) / 12) / (codes.length - 1));
}
