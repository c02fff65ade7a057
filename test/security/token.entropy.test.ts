import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, messagesTo, startFlow, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { enrolPhone } from './support.ts';
import { byteCounts, chiSquareUniform, chiSquareZ, compressionRatio, longestSharedPrefix, risingFraction, worstBitBias } from './stats.ts';

/*
 * TOK-1 (flow and session tokens: ≥128 CSPRNG bits, no structure) and TOK-2 (one-time codes: ≥6
 * digits, uniform digits, no repeats beyond chance), measured on what the API hands out.
 */

const FLOW_TOKENS = 1_000;
/** Each session costs an argon2id verification, so fewer are drawn; the tests scale with the count. */
const SESSION_TOKENS = 100;
const EMAIL_CODES = 1_000;
const SMS_CODES = 200;

const FLOW_TOKEN = /^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;
const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;

async function inBatches<T>(count: number, size: number, make: (index: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let start = 0; start < count; start += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - start) }, (_, offset) => make(start + offset)))));
  }
  return out;
}

/** The checks every ≥128-bit random secret must pass, whatever it is used for. */
function expectRandomSecrets(secrets: readonly string[]): void {
  const raw = secrets.map((secret) => Buffer.from(secret, 'base64url'));
  // At least 128 bits each: 32 bytes drawn per token.
  for (const bytes of raw) expect(bytes.length).toBeGreaterThanOrEqual(16);
  expect(new Set(secrets).size).toBe(secrets.length);
  // No shared prefix beyond chance: among n tokens of a 64-symbol alphabet the longest is ≈ log64(n²/2) ≈ 3.
  expect(longestSharedPrefix(secrets)).toBeLessThanOrEqual(7);
  // Neither counting up nor down in issue order.
  expect(Math.abs(risingFraction(secrets) - 0.5)).toBeLessThan(6.5 * Math.sqrt((secrets.length + 1) / 12) / (secrets.length - 1));
  const all = Buffer.concat(raw);
  // Byte values uniform (chi-square, 255 degrees of freedom) and every bit position balanced.
  expect(chiSquareZ(chiSquareUniform(byteCounts(all)), 255)).toBeLessThan(5.5);
  expect(worstBitBias(raw)).toBeLessThan(6);
  // Incompressible: any timestamp, counter or user-derived part would let deflate shrink the stream.
  expect(compressionRatio(all)).toBeGreaterThan(0.99);
  // No decodable structure such as JSON or text.
  for (const bytes of raw.slice(0, 50)) expect(() => JSON.parse(bytes.toString('utf8'))).toThrow();
}

describe.each(ENGINES)('token and code entropy on %s', (engine) => {
  let h: Harness;
  let ada: Person;
  let adaMethods: Enrolled;
  let phone: string;

  beforeAll(async () => {
    h = await startHarness({ engine });
    ada = await createPerson(h, 'ada');
    adaMethods = await enrolEmailAndTotp(h, ada);
    phone = '+447700900321';
    await enrolPhone(h, adaMethods.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  it('TOK-1 issues 1,000 flow tokens for one person in quick succession: UUIDv4 flow id plus 256 random bits, with no shared prefix, trend, bias or compressible structure', async () => {
    const tokens = await inBatches(FLOW_TOKENS, 50, async (index) => (await startFlow(h, index % 2 === 0 ? 'ada' : ada.email)).token);
    const flowIds: string[] = [];
    const secrets: string[] = [];
    for (const token of tokens) {
      const match = FLOW_TOKEN.exec(token);
      expect(match, `token ${token} has the wrong shape`).not.toBeNull();
      flowIds.push(match?.[1] ?? '');
      secrets.push(match?.[2] ?? '');
    }
    expectRandomSecrets(secrets);
    // The flow id is a random (version 4) UUID, not a time-based v1/v6/v7 one, and shares no prefix beyond chance.
    expect(new Set(flowIds).size).toBe(FLOW_TOKENS);
    expect(longestSharedPrefix(flowIds.map((id) => id.replaceAll('-', '')))).toBeLessThanOrEqual(10);
    // The secret half is not derived from the flow id.
    for (let i = 0; i < 20; i += 1) expect(secrets[i]).not.toContain((flowIds[i] ?? '').slice(0, 8));
  });

  it('TOK-1 issues session tokens of 256 random bits with no shared prefix, trend, bias or compressible structure', async () => {
    const plain = await createPerson(h, 'pia');
    const tokens = await inBatches(SESSION_TOKENS, 10, async () => {
      const response = await call(h, 'POST', '/api/me/sign-in', { username: plain.username, password: plain.password });
      return json<{ sessionToken: string }>(response).sessionToken;
    });
    for (const token of tokens) expect(token).toMatch(SESSION_TOKEN);
    expectRandomSecrets(tokens);
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
