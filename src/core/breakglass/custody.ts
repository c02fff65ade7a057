import { combine, split } from 'shamir-secret-sharing';
import type { Random } from '../ports/system.ts';
import { decodeShare, encodeShare, type DecodedShare } from './share-code.ts';

/*
 * Custody rules and the Shamir split: who may hold shares, how many it takes, and how a password
 * becomes shares and back. Pure apart from the randomness the split itself draws.
 */

export const MAX_CUSTODIANS = 16;
const CUSTODIAN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export type CustodyCheck = { readonly ok: true; readonly custodians: readonly string[] } | { readonly ok: false; readonly problem: string };

/**
 * Checks a custody plan. SECURITY: a threshold of 1 would let any single custodian open the account
 * alone, and a threshold equal to a lone custodian is no custody at all, so at least two of at least
 * two are required; names must differ (case-insensitively) so one person cannot be listed twice.
 */
export function checkCustody(custodians: readonly string[], threshold: number): CustodyCheck {
  const names = custodians.map((name) => name.trim());
  if (names.length < 2) return { ok: false, problem: 'name at least two custodians' };
  if (names.length > MAX_CUSTODIANS) return { ok: false, problem: `name at most ${MAX_CUSTODIANS} custodians` };
  const bad = names.find((name) => !CUSTODIAN_NAME.test(name));
  if (bad !== undefined) return { ok: false, problem: `custodian name '${bad.slice(0, 64)}' is not valid: use letters, digits, '.', '_', '@' or '-'` };
  const folded = names.map((name) => name.toLowerCase());
  if (new Set(folded).size !== folded.length) return { ok: false, problem: 'each custodian may be named only once' };
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > names.length) return { ok: false, problem: `the threshold must be a whole number from 2 to ${names.length} (the number of custodians)` };
  return { ok: true, custodians: names };
}

/** A share ready to hand to its custodian: the code and its label. */
export interface CustodianShare {
  readonly custodian: string;
  readonly number: number;
  readonly code: string;
}

/** Splits a password into one encoded share per custodian, numbered 1…N in custodian order. */
export async function splitPassword(password: string, sealId: string, custodians: readonly string[], threshold: number): Promise<CustodianShare[]> {
  const shares = await split(new TextEncoder().encode(password), custodians.length, threshold);
  return shares.map((share, index) => ({ custodian: custodians[index] ?? '', number: index + 1, code: encodeShare({ sealId, number: index + 1, share }) }));
}

export type CombineResult = { readonly ok: true; readonly password: string; readonly numbers: readonly number[] } | { readonly ok: false; readonly problem: string };

/**
 * Decodes typed shares and rebuilds the password. Every share must check out, belong to `sealId`
 * and carry a different number; fewer than `threshold` are refused before combining (Shamir's scheme
 * would return garbage for them, and M−1 shares carry no information about the secret anyway).
 */
export async function combineShares(typed: readonly string[], sealId: string, threshold: number): Promise<CombineResult> {
  const decoded: DecodedShare[] = [];
  for (const [index, text] of typed.entries()) {
    const result = decodeShare(text);
    if (!result.ok) return { ok: false, problem: `share ${index + 1}: ${result.problem}` };
    if (result.share.sealId !== sealId) return { ok: false, problem: `share ${index + 1} belongs to another seal (${result.share.sealId}), not to the account's current seal` };
    if (decoded.some((share) => share.number === result.share.number)) return { ok: false, problem: `share ${index + 1} repeats share number ${result.share.number}: each custodian's share counts once` };
    decoded.push(result.share);
  }
  if (decoded.length < threshold) return { ok: false, problem: `${decoded.length} of the ${threshold} shares this seal needs were given` };
  const bytes = await combine(decoded.map((share) => share.share));
  const password = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return { ok: true, password, numbers: decoded.map((share) => share.number).sort((a, b) => a - b) };
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const SYMBOLS = '-_.+=!@%';
const ALL = LOWER + UPPER + DIGITS + SYMBOLS;

/**
 * A long random password with every character class, so it passes the policy's rules and any
 * directory's complexity check (AD's three of four classes, ppolicy quality checks). At 40
 * characters from 65 that is about 240 bits: nobody types it from memory, which is the point.
 */
export function generateBreakGlassPassword(random: Random, length: number): string {
  const pick = (alphabet: string): string => alphabet[random.int(alphabet.length)] ?? '';
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(ALL));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = random.int(i + 1);
    [chars[i], chars[j]] = [chars[j] ?? '', chars[i] ?? ''];
  }
  return chars.join('');
}
