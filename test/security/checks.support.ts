/*
 * Helpers for the ENUM, INP and LOG suites (test/security/enumeration.*, input.*, logging.*).
 * Everything goes through the JSON API, the CLI or the store's own Kysely instance; grey-box reads
 * are named as such where they are used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { SQLITE_FILENAME } from '../../src/adapters/store/open-store.ts';
import type { Database } from '../../src/adapters/store/schema.ts';
import { buildHttpApp } from '../../src/server/http/app.ts';
import type { Latchkey } from '../../src/server/compose.ts';
import { ADMIN_SCOPES, type AdminScope } from '../../src/core/ports/store.ts';
import type { Harness, Person } from '../support/harness.ts';
import { captureCli, harnessCliEnv } from '../support/cli.ts';

/** Every table Latchkey owns. */
export const TABLES: readonly (keyof Database)[] = ['flows', 'challenges', 'single_use', 'enrollments', 'sessions', 'audit_events', 'audit_head', 'outbox', 'admin_tokens', 'builtin_accounts'];

/** A POST (or other method) with a raw body and explicit headers, for bodies `call` cannot express. */
export function raw(h: Harness, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload: string | Buffer | undefined, headers: Record<string, string> = {}, ip = '127.0.0.1'): Promise<LightMyRequestResponse> {
  return h.app.inject({ method, url, remoteAddress: ip, headers, ...(payload !== undefined ? { payload } : {}) });
}

const VOLATILE_KEYS = new Set(['flowToken', 'flowId', 'expiresAt', 'grantExpiresAt', 'sessionToken']);

/** The JSON body with per-request values (tokens, ids, times) replaced by their key name. */
export function scrubBody(value: unknown, key = ''): unknown {
  if (VOLATILE_KEYS.has(key) && typeof value === 'string') return `<${key}>`;
  if (Array.isArray(value)) return value.map((item) => scrubBody(item));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubBody(v, k)]));
  return value;
}

export interface Normalised {
  readonly status: number;
  readonly headerNames: readonly string[];
  readonly contentType: string | undefined;
  readonly cacheControl: string | undefined;
  readonly contentLength: string | undefined;
  readonly retryAfter: boolean;
  readonly setCookie: boolean;
  readonly body: unknown;
}

/**
 * What an observer can compare between two replies once per-request values are set aside: status,
 * header names and the security-relevant header values, the exact body length (volatile values
 * have fixed lengths, so equal shapes give equal lengths), and the body with volatile values named.
 */
export function normalise(response: LightMyRequestResponse): Normalised {
  const headers = response.headers;
  const text = response.body;
  let body: unknown = text;
  try {
    body = scrubBody(JSON.parse(text));
  } catch {
    body = text;
  }
  return {
    status: response.statusCode,
    headerNames: Object.keys(headers).filter((name) => name !== 'date').sort(),
    contentType: headers['content-type'] as string | undefined,
    cacheControl: headers['cache-control'] as string | undefined,
    contentLength: headers['content-length'] as string | undefined,
    retryAfter: headers['retry-after'] !== undefined,
    setCookie: headers['set-cookie'] !== undefined,
    body,
  };
}

/** Creates an account with explicit fields through the same service the CLI uses. */
export async function createAccount(h: Harness, fields: { username: string; email?: string; displayName?: string; groups?: string[]; department?: string; password?: string }): Promise<Person & { accountId: string }> {
  const password = fields.password ?? `${fields.username} strolls past nine amber lanterns`;
  const accountId = await h.latchkey.accounts.create(
    { username: fields.username, password, department: fields.department ?? 'Engineering', ...(fields.email ? { email: fields.email } : {}), ...(fields.displayName ? { displayName: fields.displayName } : {}), ...(fields.groups ? { groups: fields.groups } : {}) },
    { kind: 'cli', id: 'test' },
  );
  return { username: fields.username, password, email: fields.email ?? '', accountId };
}

/** Locks an account the way an attacker or a forgetful person does: failed sign-ins up to the threshold. */
export async function lockBySignIns(h: Harness, username: string): Promise<void> {
  const threshold = h.latchkey.deps.policy().signIn.lockoutThreshold;
  for (let attempt = 0; attempt < threshold; attempt += 1) {
    await h.app.inject({ method: 'POST', url: '/api/me/sign-in', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ username, password: 'certainly not the right password' }) });
  }
}

/** Number of rows in the outbox. */
export async function outboxSize(h: Harness): Promise<number> {
  return (await h.latchkey.store.outbox.list({ limit: 100_000 })).length;
}

/** An admin API token with the given scopes (default: all). */
export async function adminToken(h: Harness, scopes: readonly AdminScope[] = ADMIN_SCOPES): Promise<string> {
  const { token } = await h.latchkey.adminTokens.create({ name: `test-${Math.random().toString(36).slice(2, 8)}`, scopes }, { kind: 'cli', id: 'test' });
  return token;
}

/** Collects what a logger writes, one entry per written chunk (pino writes one JSON line per call). */
export class LogCapture {
  readonly chunks: string[] = [];
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  get text(): string {
    return this.chunks.join('');
  }
  /** The log split on real line breaks, as a terminal or a log shipper would split it. */
  get lines(): string[] {
    return this.text.split(/\r\n|\r|\n/).filter((line) => line !== '');
  }
}

/**
 * A second HTTP app over the harness's Latchkey with logging on (level from the harness config,
 * which the suite sets through `env: { LATCHKEY_LOG_LEVEL }`), writing to a capture. Returns a
 * harness view whose `app` is the logged one, so every harness helper drives it.
 */
export async function loggedHarness(h: Harness, latchkey: Latchkey = h.latchkey): Promise<{ lh: Harness; log: LogCapture }> {
  const log = new LogCapture();
  const app = await buildHttpApp(latchkey, { logStream: log });
  return { lh: { ...h, app, close: () => app.close() }, log };
}

/** A harness view whose app runs over a modified Latchkey (e.g. one dependency swapped for a failing one). */
export async function harnessOver(h: Harness, latchkey: Latchkey): Promise<Harness> {
  const app = await buildHttpApp(latchkey, { logger: false });
  return { ...h, latchkey, app, close: () => app.close() };
}

/**
 * Everything the database holds, as an observer with file or SQL access sees it: for SQLite the
 * bytes of the database file and its write-ahead log, for PostgreSQL every row of every table
 * rendered as text by the server (`row::text`).
 */
export async function databaseAsText(h: Harness): Promise<string> {
  if (h.engine === 'sqlite') {
    const parts: string[] = [];
    for (const suffix of ['', '-wal']) {
      try {
        parts.push((await readFile(join(h.dataDir, `${SQLITE_FILENAME}${suffix}`))).toString('latin1'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return parts.join('\n');
  }
  const db = kyselyOf(h.latchkey.store);
  const parts: string[] = [];
  for (const table of TABLES) {
    const result = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(db);
    parts.push(...result.rows.map((row) => row.row));
  }
  return parts.join('\n');
}

/** True when `secret` occurs in `text` as a whole token (not inside a longer run of letters or digits). */
export function containsToken(text: string, secret: string): boolean {
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?<![0-9A-Za-z])${escaped}(?![0-9A-Za-z])`).test(text);
}

/** Median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The Hodges-Lehmann estimate of how much slower `a` is than `b`: the median of every difference
 * a[i] - b[j]. Unlike the difference of two medians it stays put when latencies are bimodal (a
 * garbage collection, an fsync), because both samples carry the same mixture.
 */
export function shiftEstimate(a: readonly number[], b: readonly number[]): number {
  const differences: number[] = [];
  for (const x of a) for (const y of b) differences.push(x - y);
  return median(differences);
}

/**
 * Mann-Whitney U of `a` against `b` (ties counted half), with its normal approximation: `z` > 0
 * when `a` tends to be larger. `effect` is U / (n·m), the probability that a random draw from `a`
 * exceeds one from `b` (0.5 when neither is slower).
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): { u: number; z: number; effect: number } {
  const all = [...a.map((value) => ({ value, from: 'a' as const })), ...b.map((value) => ({ value, from: 'b' as const }))].sort((x, y) => x.value - y.value);
  const ranks = new Array<number>(all.length);
  let tieCorrection = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]?.value === all[i]?.value) j += 1;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k += 1) ranks[k] = rank;
    const t = j - i + 1;
    tieCorrection += t * t * t - t;
    i = j + 1;
  }
  let rankSumA = 0;
  all.forEach((item, index) => {
    if (item.from === 'a') rankSumA += ranks[index] as number;
  });
  const n = a.length;
  const m = b.length;
  const u = rankSumA - (n * (n + 1)) / 2;
  const mean = (n * m) / 2;
  const variance = ((n * m) / 12) * (n + m + 1 - tieCorrection / ((n + m) * (n + m - 1)));
  return { u, z: (u - mean) / Math.sqrt(variance), effect: u / (n * m) };
}

/**
 * Runs the CLI in-process against the harness's SQLite data directory (the CLI reads its
 * configuration from the environment: harnessCliEnv), capturing what it prints. SQLite only: the
 * checks that call it are written against a SQLite harness.
 */
export async function runCliOn(h: Harness, run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  if (h.engine !== 'sqlite') throw new Error('runCliOn needs a SQLite harness');
  const { code, stdout, stderr } = await captureCli(harnessCliEnv(h), run);
  return { code, out: stdout, err: stderr };
}
