import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, call, createPerson, json, startFlow, startHarness, type Harness, type Person } from '../support/harness.ts';
import { byteCounts, chiSquareUniform, chiSquareZ, compressionRatio, longestSharedPrefix, risingFraction, worstBitBias } from './stats.ts';

/*
 * TOK-1: flow and session tokens carry at least 128 bits from the CSPRNG and no user- or
 * time-derived structure, measured on tokens the API really handed out.
 */

const FLOW_TOKENS = 1_000;
/** Each session costs an argon2id verification, so fewer are drawn; the tests scale with the count. */
const SESSION_TOKENS = 100;

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

  beforeAll(async () => {
    h = await startHarness({ engine });
    ada = await createPerson(h, 'ada');
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
});
