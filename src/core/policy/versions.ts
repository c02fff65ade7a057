import { createHash } from 'node:crypto';
import type { ActorKind } from '../audit/events.ts';

/**
 * One published version of the policy document: the exact YAML text that was validated (comments
 * and all, so what an operator reads is what ran), its hash, who published it and why, and the line
 * diff from the version before. Versions are numbered 1, 2, … with no gaps; the highest one is in
 * force on every instance.
 */
export interface PolicyVersionRecord {
  readonly version: number;
  readonly text: string;
  /** SHA-256 of the text, hex: lets an operator compare a file on disk with what is in force. */
  readonly hash: string;
  readonly createdAt: Date;
  readonly actorKind: ActorKind;
  readonly actorId: string | null;
  readonly reason: string;
  /** Where the text came from: the configured file (version 1 is seeded from it), the CLI or the API. */
  readonly source: PolicyVersionSource;
  /** Unified-style line diff from the previous version (`+`/`-`/` ` prefixed lines, hunks only); empty for version 1. */
  readonly diff: string;
  readonly linesAdded: number;
  readonly linesRemoved: number;
}

export const POLICY_VERSION_SOURCES = ['file', 'cli', 'api'] as const;
export type PolicyVersionSource = (typeof POLICY_VERSION_SOURCES)[number];

export function policyTextHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface LineDiff {
  /** Hunks with three lines of context, `@@ -a,b +c,d @@` headers, as `diff -u` prints them. */
  readonly text: string;
  readonly linesAdded: number;
  readonly linesRemoved: number;
}

type Edit = { readonly op: ' ' | '-' | '+'; readonly line: string; readonly oldNo: number; readonly newNo: number };

const CONTEXT_LINES = 3;
/**
 * Beyond this many lines on either side the LCS table (old × new cells) would grow past a few
 * million entries; policies are a few hundred lines, so a bigger document is diffed as "all
 * removed, all added" rather than risking a slow publish.
 */
const MAX_DIFF_LINES = 4_000;

/**
 * The line diff between two texts, from a longest-common-subsequence table. Deterministic, so two
 * instances describe the same change identically.
 */
export function lineDiff(before: string, after: string): LineDiff {
  const a = splitLines(before);
  const b = splitLines(after);
  const edits = a.length > MAX_DIFF_LINES || b.length > MAX_DIFF_LINES ? replaceAll(a, b) : lcsEdits(a, b);
  const linesAdded = edits.filter((edit) => edit.op === '+').length;
  const linesRemoved = edits.filter((edit) => edit.op === '-').length;
  return { text: hunks(edits), linesAdded, linesRemoved };
}

/**
 * A diff cut to at most `maxChars` characters at a line boundary, for an audit event: the log stays
 * small and scalar, and the full diff stays retrievable from the version record.
 */
export function boundedDiff(diff: string, maxChars: number): { readonly text: string; readonly truncated: boolean } {
  if (diff.length <= maxChars) return { text: diff, truncated: false };
  const cut = diff.lastIndexOf('\n', maxChars);
  return { text: diff.slice(0, cut > 0 ? cut : maxChars), truncated: true };
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function replaceAll(a: readonly string[], b: readonly string[]): Edit[] {
  return [...a.map((line, index): Edit => ({ op: '-', line, oldNo: index + 1, newNo: 0 })), ...b.map((line, index): Edit => ({ op: '+', line, oldNo: a.length, newNo: index + 1 }))];
}

function lcsEdits(a: readonly string[], b: readonly string[]): Edit[] {
  const width = b.length + 1;
  const table = new Uint32Array((a.length + 1) * width);
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      table[i * width + j] = a[i] === b[j] ? (table[(i + 1) * width + j + 1] ?? 0) + 1 : Math.max(table[(i + 1) * width + j] ?? 0, table[i * width + j + 1] ?? 0);
    }
  }
  const edits: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      edits.push({ op: ' ', line: a[i] ?? '', oldNo: i + 1, newNo: j + 1 });
      i += 1;
      j += 1;
    } else if (i < a.length && (j === b.length || (table[(i + 1) * width + j] ?? 0) >= (table[i * width + j + 1] ?? 0))) {
      // Removals before additions on a tie, as `diff -u` prints a changed line.
      edits.push({ op: '-', line: a[i] ?? '', oldNo: i + 1, newNo: j });
      i += 1;
    } else {
      edits.push({ op: '+', line: b[j] ?? '', oldNo: i, newNo: j + 1 });
      j += 1;
    }
  }
  return edits;
}

function hunks(edits: readonly Edit[]): string {
  const changed = edits.map((edit, index) => (edit.op === ' ' ? -1 : index)).filter((index) => index >= 0);
  if (changed.length === 0) return '';
  const out: string[] = [];
  let start = 0;
  while (start < changed.length) {
    let end = start;
    while (end + 1 < changed.length && (changed[end + 1] ?? 0) - (changed[end] ?? 0) <= CONTEXT_LINES * 2 + 1) end += 1;
    const from = Math.max(0, (changed[start] ?? 0) - CONTEXT_LINES);
    const to = Math.min(edits.length - 1, (changed[end] ?? 0) + CONTEXT_LINES);
    const slice = edits.slice(from, to + 1);
    const oldCount = slice.filter((edit) => edit.op !== '+').length;
    const newCount = slice.filter((edit) => edit.op !== '-').length;
    const first = slice[0];
    const oldStart = first === undefined ? 0 : first.op === '+' ? first.oldNo + (oldCount > 0 ? 1 : 0) : first.oldNo;
    const newStart = first === undefined ? 0 : first.op === '-' ? first.newNo + (newCount > 0 ? 1 : 0) : first.newNo;
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const edit of slice) out.push(`${edit.op}${edit.line}`);
    start = end + 1;
  }
  return `${out.join('\n')}\n`;
}
