import { dictionary } from '@zxcvbn-ts/language-common';
import type { PasswordRules } from './schema.ts';

/** Stable reason codes for a refused password; the portal may key translations on them. */
export type PasswordRejectionCode = 'too_short' | 'too_long' | 'blank' | 'common' | 'context' | 'repetitive' | 'breached';

/** One reason a password was refused, with a message the person can act on. */
export interface PasswordRejection {
  readonly code: PasswordRejectionCode;
  readonly message: string;
}

/** The outcome of {@link checkPassword}: accepted, or every reason it was refused. */
export type PasswordVerdict = { readonly ok: true } | { readonly ok: false; readonly reasons: readonly PasswordRejection[] };

/** What the password may not be built on (PWD-4): the account's names, the organisation, the policy's context words. */
export interface PasswordContext {
  readonly username: string;
  readonly displayName: string;
  readonly organisationName: string;
  readonly contextWords: readonly string[];
}

/**
 * The shipped blocklist: all ~49,000 entries of the zxcvbn-ts common-password list (ordered by
 * frequency, well beyond the 3,000 PWD-4 asks for), folded to lower case. Built once at module
 * load so each check is a few set look-ups.
 */
const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  dictionary['passwords-common'].map((entry) => entry.normalize('NFKC').toLowerCase()),
);

/** Number of entries in the shipped common-password blocklist. */
export const COMMON_PASSWORD_COUNT: number = COMMON_PASSWORDS.size;

/** Context tokens shorter than this are ignored: two letters match too much by chance. */
const MIN_CONTEXT_TOKEN = 3;
/** A stripped core shorter than this is not compared with the blocklist ("abc" inside random digits is no weakness). */
const MIN_COMMON_CORE = 4;

const LEET: Readonly<Record<string, string>> = {
  '@': 'a',
  '4': 'a',
  '8': 'b',
  '3': 'e',
  '0': 'o',
  '5': 's',
  $: 's',
  '7': 't',
  '!': 'i',
};

/**
 * Counts a password's characters as policy does: Unicode code points after NFKC normalisation
 * (NIST SP 800-63B §5.1.1.2), so an emoji is one character and a composed and a decomposed "é" are
 * equal. Nothing is truncated or trimmed: every character counts (PWD-2).
 */
export function countPasswordCharacters(password: string): number {
  return [...password.normalize('NFKC')].length;
}

/**
 * Checks a new password against the tier's password rules: length bounds (code points after
 * NFKC), blank input, the common-password blocklist, context words and repeated patterns. There
 * are no composition rules (PWD-3): a long passphrase of plain words passes. The password itself
 * is never changed: what the directory receives is the caller's business (PWD-5). The breached
 * check needs I/O and lives with the caller; see {@link breachedRejection}.
 */
export function checkPassword(password: string, rules: PasswordRules, context: PasswordContext): PasswordVerdict {
  const normalized = password.normalize('NFKC');
  // SECURITY: whitespace, control and format characters alone are no password; an LDAP simple bind
  // with an empty password is an unauthenticated bind that many servers report as success (PWD-10).
  if (/^[\s\p{Cc}\p{Cf}]*$/u.test(normalized)) {
    return refuse([{ code: 'blank', message: 'Enter a password; spaces or invisible characters alone are not a password.' }]);
  }
  const length = [...normalized].length;
  if (length > rules.maxLength) {
    // The content checks are skipped: their cost should not depend on an oversized input.
    return refuse([{ code: 'too_long', message: `Use at most ${rules.maxLength} characters (this one has ${length}).` }]);
  }

  const reasons: PasswordRejection[] = [];
  if (length < rules.minLength) {
    reasons.push({ code: 'too_short', message: `Use at least ${rules.minLength} characters (this one has ${length}).` });
  }
  const folded = normalized.toLowerCase();
  if (rules.blocklist && isCommon(folded)) {
    reasons.push({
      code: 'common',
      message: 'This is one of the most common passwords (or one with a few digits or symbols added), so it is guessed first. Try several unrelated words instead.',
    });
  }
  if (rules.contextWords) {
    const words = contextBase(folded, context);
    if (words !== null) {
      const quoted = words.map((word) => `“${word}”`).join(' and ');
      reasons.push({
        code: 'context',
        message: `Do not build the password on ${quoted}: names and words linked to you or the organisation are guessed first, even with digits or symbols added.`,
      });
    }
  }
  if (rules.blocklist && isRepetitive(folded, rules.minLength)) {
    reasons.push({
      code: 'repetitive',
      message: 'Avoid repeating a short piece of text (like “abcabc” or “aaaa”) or a simple run (like “abcdef” or “12345”); patterns are guessed quickly.',
    });
  }
  return reasons.length === 0 ? { ok: true } : refuse(reasons);
}

/**
 * Turns a breached-password count (from the `BreachedPasswordCheck` port) into a rejection, or
 * null when the password has not been seen. Kept here so the wording of every password rule lives
 * in one place, while the network call stays outside the core.
 */
export function breachedRejection(count: number): PasswordRejection | null {
  if (!Number.isFinite(count) || count <= 0) return null;
  const times = count === 1 ? 'once' : `${Math.round(count).toLocaleString('en')} times`;
  return {
    code: 'breached',
    message: `This password has appeared in a data breach (seen ${times}), so attackers try it early. Choose a different one.`,
  };
}

function refuse(reasons: readonly PasswordRejection[]): PasswordVerdict {
  return { ok: false, reasons };
}

/** Strips leading and trailing characters that are not letters: `Password1234567!` → `password`. */
function letterCore(text: string): string {
  return text.replace(/^[^\p{L}\p{M}]+/u, '').replace(/[^\p{L}\p{M}]+$/u, '');
}

/**
 * Like {@link letterCore}, but keeps a leading `@` or `$` that may stand for a letter, so that
 * substitutions can be undone afterwards: `@dm1n2024!` → `@dm1n`.
 */
function substitutedCore(text: string): string {
  return text.replace(/^[^\p{L}\p{M}@$]+/u, '').replace(/[^\p{L}\p{M}]+$/u, '');
}

/** Strips leading and trailing characters that are neither letters nor digits. */
function alnumCore(text: string): string {
  return text.replace(/^[^\p{L}\p{M}\p{N}]+/u, '').replace(/[^\p{L}\p{M}\p{N}]+$/u, '');
}

/** Removes spaces, punctuation and symbols everywhere: `pass word` → `password`. */
function compact(text: string): string {
  return text.replace(/[^\p{L}\p{M}\p{N}]+/gu, '');
}

function lettersOnly(text: string): string {
  return text.replace(/[^\p{L}\p{M}]+/gu, '');
}

/** Undoes common character substitutions (`p@ssw0rd` → `password`), with "1" read as "i" and as "l". */
function unleet(text: string): string[] {
  const map = (one: string): string => [...text].map((char) => (char === '1' ? one : (LEET[char] ?? char))).join('');
  return [...new Set([map('i'), map('l')])];
}

function codePoints(text: string): number {
  return [...text].length;
}

/**
 * True when the password, or its letter core with decorations stripped and substitutions undone,
 * is on the blocklist. SECURITY: attackers try `Password1234567` and `P@ssw0rd!!!!!!!` right after
 * `password`; a blocklist of exact entries alone would let them through (PWD-4).
 */
function isCommon(folded: string): boolean {
  const candidates = new Set<string>([folded]);
  for (const base of [folded, compact(folded)]) {
    candidates.add(base);
    for (const candidate of [letterCore(base), ...unleet(substitutedCore(base))]) {
      if (codePoints(candidate) >= MIN_COMMON_CORE) candidates.add(candidate);
    }
  }
  return [...candidates].some((candidate) => COMMON_PASSWORDS.has(candidate));
}

/** The letters-only tokens the password may not be built on, each at least three letters long. */
function contextTokens(context: PasswordContext): string[] {
  const tokens = new Set<string>();
  for (const source of [context.username, context.displayName, context.organisationName, ...context.contextWords]) {
    const folded = source.normalize('NFKC').toLowerCase();
    for (const token of [lettersOnly(folded), ...folded.split(/[^\p{L}\p{M}]+/u)]) {
      if (codePoints(token) >= MIN_CONTEXT_TOKEN) tokens.add(token);
    }
  }
  // Longest first, so a segmentation names "alicesmith" rather than "alice" and "smith" when both fit.
  return [...tokens].sort((a, b) => b.length - a.length);
}

/**
 * The context tokens the password is built from, or null. A password counts as built on context
 * when its letters (ignoring digits, symbols and spaces, and also with substitutions undone) are
 * nothing but context tokens, once or repeated: `Latchkey2025!!!!!!`, `alicealicealice`,
 * `Alice.Smith.1990`. A passphrase that merely contains a name passes.
 */
function contextBase(folded: string, context: PasswordContext): string[] | null {
  const tokens = contextTokens(context);
  if (tokens.length === 0) return null;
  const candidates = new Set([lettersOnly(folded), ...unleet(substitutedCore(folded)).map(lettersOnly)]);
  for (const candidate of candidates) {
    const used = segment(candidate, tokens);
    if (used !== null) return used;
  }
  return null;
}

/** Splits text into a sequence of tokens (word break), returning the distinct tokens used, or null if impossible. */
function segment(text: string, tokens: readonly string[]): string[] | null {
  if (text.length === 0) return null;
  const via: (string | undefined)[] = new Array<string | undefined>(text.length + 1);
  const reachable: boolean[] = new Array<boolean>(text.length + 1).fill(false);
  reachable[0] = true;
  for (let start = 0; start < text.length; start += 1) {
    if (reachable[start] !== true) continue;
    for (const token of tokens) {
      const end = start + token.length;
      if (end <= text.length && reachable[end] !== true && text.startsWith(token, start)) {
        reachable[end] = true;
        via[end] = token;
      }
    }
  }
  if (reachable[text.length] !== true) return null;
  const used: string[] = [];
  for (let end = text.length; end > 0; ) {
    const token = via[end];
    if (token === undefined) return null;
    if (!used.includes(token)) used.unshift(token);
    end -= token.length;
  }
  return used;
}

/**
 * True when most of the password is one short unit repeated (`abcabcabcabcabc`, `aaaa…`,
 * `password password`) or a simple run (`abcdefghijklmno`, `123456789012345`), so that its real
 * content — the unit plus any decoration around it — is shorter than the minimum length.
 */
function isRepetitive(folded: string, minLength: number): boolean {
  const total = codePoints(folded);
  const candidates = new Set([folded, alnumCore(folded), letterCore(folded), compact(folded)]);
  for (const candidate of candidates) {
    const chars = [...candidate];
    if (chars.length < 2 || chars.length * 2 < total) continue;
    const decoration = total - chars.length;
    const period = smallestPeriod(chars);
    if (period * 2 <= chars.length && period + decoration < minLength) return true;
    if (chars.length >= 4 && isRun(chars) && 2 + decoration < minLength) return true;
  }
  return false;
}

/** The smallest p such that every character equals the one p places before it (Knuth–Morris–Pratt prefix function). */
function smallestPeriod(chars: readonly string[]): number {
  const prefix: number[] = new Array<number>(chars.length).fill(0);
  for (let i = 1; i < chars.length; i += 1) {
    let k = prefix[i - 1] ?? 0;
    while (k > 0 && chars[i] !== chars[k]) k = prefix[k - 1] ?? 0;
    if (chars[i] === chars[k]) k += 1;
    prefix[i] = k;
  }
  return chars.length - (prefix[chars.length - 1] ?? 0);
}

/** True for a run of consecutive characters going up or down by one (digits wrap: …8, 9, 0, 1…). */
function isRun(chars: readonly string[]): boolean {
  const step = (from: string, to: string): number => {
    if (from === '9' && to === '0') return 1;
    if (from === '0' && to === '9') return -1;
    return (to.codePointAt(0) ?? 0) - (from.codePointAt(0) ?? 0);
  };
  const first = step(chars[0] ?? '', chars[1] ?? '');
  if (first !== 1 && first !== -1) return false;
  for (let i = 2; i < chars.length; i += 1) {
    if (step(chars[i - 1] ?? '', chars[i] ?? '') !== first) return false;
  }
  return true;
}
