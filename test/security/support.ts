/*
 * Helpers shared by the security suites (test/security/*.test.ts). They drive the JSON API through
 * the harness exactly like the other API tests; the few grey-box reads (store rows, stored hashes)
 * go through the store's own Kysely instance and are named as such where used.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import type { Database } from '../../src/adapters/store/schema.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { AccountId } from '../../src/core/account/ids.ts';
import { outboxContext } from '../../src/core/notifications/outbox.ts';
import type { OutboundMessage } from '../../src/core/ports/message-channel.ts';
import {
  call,
  json,
  latestCode,
  messagesTo,
  oathtoolCode,
  passTwoGates,
  startFlow,
  type Enrolled,
  type FlowBody,
  type Harness,
  type Person,
  type PolicyEdit,
  type TestClock,
} from '../support/harness.ts';

/** The shipped default policy document, as text and as data. */
export const DEFAULT_POLICY_TEXT = readFileSync(DEFAULT_POLICY_FILE_URL, 'utf8');
export const defaultPolicy = (): Policy => parse(DEFAULT_POLICY_TEXT) as Policy;

/** A policy edit that puts the shipped default back for one rate rule (after `roomyLimits`). */
export const shippedRateLimit =
  (name: keyof Policy['rateLimits']): PolicyEdit =>
  (policy) => {
    policy.rateLimits[name] = { ...defaultPolicy().rateLimits[name] };
  };

/** A policy edit that puts the shipped default failure throttle back for the standard tier. */
export const shippedFailureThrottle: PolicyEdit = (policy) => {
  policy.tiers.standard.failureThrottle = { ...defaultPolicy().tiers.standard.failureThrottle };
};

/**
 * Moves the server clock to the middle of a 30-second TOTP step, so a code computed for step
 * offset ±n is still that offset when the server checks it a few milliseconds later.
 */
export function alignToMidStep(clock: TestClock): void {
  const intoStep = clock.now().getTime() % 30_000;
  clock.advance(((15_000 - intoStep + 30_000) % 30_000) / 1000);
}

/** Moves to a fresh TOTP step (never reused by an earlier gate) and to its middle. */
export function nextTotpStep(clock: TestClock): void {
  clock.advance(30);
  alignToMidStep(clock);
}

export const asAccount = (id: string): AccountId => id as AccountId;

/** Starts a reset flow and passes both gates (email code, then TOTP at a fresh step). Returns the grant token. */
export async function freshGrant(h: Harness, person: Person, enrolled: Enrolled, purpose: 'reset' | 'unlock' = 'reset'): Promise<{ grant: string; flowId: string }> {
  nextTotpStep(h.clock);
  const started = await startFlow(h, person.username, purpose);
  expect(started.response.statusCode).toBe(201);
  const grant = await passTwoGates(h, started.token, enrolled);
  return { grant, flowId: started.body.flow.flowId };
}

/** Chooses the email method in a flow and answers with the code that arrived. Returns the rotated token. */
export async function passEmailGate(h: Harness, token: string, enrolled: Enrolled): Promise<string> {
  const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
  expect(chosen.statusCode).toBe(200);
  const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token });
  expect(answered.statusCode).toBe(200);
  const next = json<FlowBody>(answered).flowToken;
  if (!next) throw new Error(`email gate did not rotate the token: ${answered.body}`);
  return next;
}

/** Chooses TOTP and answers with the code for the current step plus `offset`. */
export async function answerTotp(h: Harness, token: string, seed: string, offset = 0): Promise<LightMyRequestResponse> {
  const chosen = await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
  expect(chosen.statusCode).toBe(200);
  return call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(seed, h.clock, offset) }, { token });
}

/** Signs in to self-service (password, then the email gate) and returns the session token. */
export async function signInWithGate(h: Harness, person: Person, enrolled: Enrolled, password = person.password): Promise<string> {
  const response = await call(h, 'POST', '/api/me/sign-in', { username: person.username, password });
  const body = json<{ status: string; flowToken?: string; sessionToken?: string }>(response);
  if (body.status === 'signed_in' && body.sessionToken) return body.sessionToken;
  if (body.status !== 'gate_required' || !body.flowToken) throw new Error(`sign-in failed: ${response.body}`);
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token: body.flowToken });
  const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token: body.flowToken });
  const session = json<{ sessionToken?: string }>(answered).sessionToken;
  if (!session) throw new Error(`sign-in gate did not open a session: ${answered.body}`);
  return session;
}

/** Registers a phone (pending) and, unless `verify` is false, verifies it with the texted code. */
export async function enrolPhone(h: Harness, session: string, phone: string, verify = true): Promise<string> {
  const added = await call(h, 'POST', '/api/me/methods', { method: 'sms_code', phone }, { token: session });
  expect(added.statusCode).toBe(201);
  const id = json<{ enrollment: { id: string } }>(added).enrollment.id;
  if (verify) {
    const verified = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: await latestCode(h, phone) }, { token: session });
    expect(verified.statusCode).toBe(200);
  }
  return id;
}

/** Registers another alternate email and verifies it. */
export async function enrolEmail(h: Harness, session: string, address: string, verify = true): Promise<string> {
  const added = await call(h, 'POST', '/api/me/methods', { method: 'email_code', address }, { token: session });
  expect(added.statusCode).toBe(201);
  const id = json<{ enrollment: { id: string } }>(added).enrollment.id;
  if (verify) {
    const verified = await call(h, 'POST', `/api/me/methods/${id}/verify`, { code: await latestCode(h, address) }, { token: session });
    expect(verified.statusCode).toBe(200);
  }
  return id;
}

/** Codes in messages to an address, oldest first. */
export async function codesTo(h: Harness, to: string): Promise<string[]> {
  return (await messagesTo(h, to)).map((message) => /\b(\d{6,10})\b/.exec(message.text)?.[1]).filter((code): code is string => code !== undefined);
}

/** A wrong numeric code of the same length that differs from `code` in every position. */
export const wrongCode = (code: string): string => [...code].map((digit) => String((Number(digit) + 1) % 10)).join('');

export type Row = Record<string, unknown>;

/** Every row of every table Latchkey owns (grey-box: read through the store's own Kysely instance). */
export async function dumpStore(h: Harness): Promise<Record<keyof Database, Row[]>> {
  const db = kyselyOf(h.latchkey.store);
  const tables: (keyof Database)[] = ['flows', 'challenges', 'single_use', 'enrollments', 'sessions', 'audit_events', 'audit_head', 'outbox', 'admin_tokens', 'builtin_accounts'];
  const out = {} as Record<keyof Database, Row[]>;
  for (const table of tables) out[table] = (await db.selectFrom(table).selectAll().execute()) as Row[];
  return out;
}

/** The stored row of a built-in account (grey-box). */
export async function accountRow(h: Harness, id: string): Promise<Row & { password_hash: string; failed_sign_ins: number; locked_at: unknown; password_changed_at: unknown }> {
  const row = await kyselyOf(h.latchkey.store).selectFrom('builtin_accounts').selectAll().where('id', '=', asAccount(id)).executeTakeFirstOrThrow();
  return row as never;
}

/** A response with volatile values (ids, tokens, times) replaced, for shape comparisons (ENUM-style). */
export function normalisedReply(response: LightMyRequestResponse): { status: number; headerNames: string[]; body: unknown } {
  const scrub = (value: unknown, key = ''): unknown => {
    if (Array.isArray(value)) return value.map((item) => scrub(item));
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, k)]));
    if (['flowId', 'flowToken', 'expiresAt', 'grantExpiresAt', 'retryAfterSeconds'].includes(key)) return `<${key}>`;
    return value;
  };
  return {
    status: response.statusCode,
    headerNames: Object.keys(response.headers).sort(),
    body: scrub(response.json()),
  };
}

/**
 * Moves the server clock on by 2 ms. The outbox orders messages by creation time (then by random
 * id), so two codes to one address issued within the same millisecond could come back in either
 * order; a tick before issuing makes "the latest code" unambiguous.
 */
export const tick = (h: Harness): void => h.clock.advance(0.002);

/** Ids of every outbox record so far, to tell later messages apart without relying on order. */
export async function outboxIds(h: Harness): Promise<Set<string>> {
  return new Set((await h.latchkey.store.outbox.list({ limit: 100_000 })).map((record) => record.id));
}

/** Messages queued since a snapshot of outbox ids (decrypted). */
export async function messagesSince(h: Harness, seen: ReadonlySet<string>): Promise<OutboundMessage[]> {
  const records = (await h.latchkey.store.outbox.list({ limit: 100_000 })).filter((record) => !seen.has(record.id) && record.payloadCiphertext);
  return records.map((record) => JSON.parse(h.latchkey.deps.cipher.decrypt(record.payloadCiphertext as string, outboxContext(record.id))) as OutboundMessage);
}

/** Milliseconds to wait in real time (rate-limiter windows run on the real clock). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
