import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { composeLatchkey, type ComposeOptions, type Latchkey } from '../../src/server/compose.ts';
import { buildHttpApp, type App } from '../../src/server/http/app.ts';
import { loadConfig, type Config } from '../../src/server/config/config.ts';
import { DEFAULT_POLICY_FILE_URL } from '../../src/core/policy/default-policy.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import type { Clock } from '../../src/core/ports/system.ts';
import type { FindingSink } from '../../src/core/monitoring/finding-sink.ts';
import type { AuditRecord, AuditEventType } from '../../src/core/audit/events.ts';
import type { OutboundMessage } from '../../src/core/ports/message-channel.ts';
import { outboxContext } from '../../src/core/notifications/outbox.ts';

export type Engine = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL when LATCHKEY_TEST_DATABASE_URL is set (see global-setup.ts). */
export const ENGINES: readonly Engine[] = process.env['LATCHKEY_TEST_DATABASE_URL'] ? ['sqlite', 'postgres'] : ['sqlite'];
export const POSTGRES_URL = process.env['LATCHKEY_TEST_DATABASE_URL'] ?? null;

/** A server clock the test moves forward; the client never controls time (H7). */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

export type PolicyEdit = (policy: Policy) => void;

/**
 * Test policy: the shipped default with roomy request limits, so that suites testing something else
 * do not trip them; a suite about a limit sets its own numbers.
 */
export const roomyLimits: PolicyEdit = (policy) => {
  policy.rateLimits.perIp = { points: 100_000, windowSeconds: 60 };
  policy.rateLimits.perIdentifier = { points: 10_000, windowSeconds: 60 };
  policy.rateLimits.perFlow = { points: 10_000, windowSeconds: 60 };
  policy.rateLimits.messagesPerRecipient = { points: 10_000, windowSeconds: 60 };
  policy.tiers.standard.failureThrottle = { points: 10_000, windowSeconds: 60 };
  policy.tiers.privileged.failureThrottle = { points: 10_000, windowSeconds: 60 };
  policy.tiers.standard.failureCeiling = { points: 100, windowSeconds: 60 };
  policy.tiers.privileged.failureCeiling = { points: 100, windowSeconds: 60 };
};

export interface HarnessOptions {
  readonly engine: Engine;
  readonly policy?: readonly PolicyEdit[];
  readonly env?: Readonly<Record<string, string>>;
  /** Where the detectors hand their findings instead of the alert service (see ComposeOptions.findingSink). */
  readonly findingSink?: FindingSink;
  /** The `directory` section of latchkey.yaml (e.g. from slapdDirectoryConfig); unset means built-in. */
  readonly directory?: Readonly<Record<string, unknown>>;
}

export interface Harness {
  readonly engine: Engine;
  readonly latchkey: Latchkey;
  readonly app: App;
  readonly clock: TestClock;
  readonly dataDir: string;
  /** The PostgreSQL schema this harness's tables live in (null on SQLite): a second instance composed with it shares the database. */
  readonly postgresSchema: string | null;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-test-'));
  const policy = parse(await readFile(DEFAULT_POLICY_FILE_URL, 'utf8')) as Policy;
  for (const edit of options.policy ?? [roomyLimits]) edit(policy);
  const policyFile = join(dataDir, 'policy.yaml');
  await writeFile(policyFile, stringify(policy));
  const schema = options.engine === 'postgres' ? `lk_test_${Math.random().toString(36).slice(2, 10)}` : null;
  const env: Record<string, string> = {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_POLICY_FILE: policyFile,
    LATCHKEY_LOG_LEVEL: 'silent',
    ...(options.engine === 'postgres' && POSTGRES_URL ? { LATCHKEY_DATABASE_URL: POSTGRES_URL } : {}),
    ...options.env,
  };
  const config = loadConfig(options.directory ? stringify({ directory: options.directory }) : null, 'test', env);
  const clock = new TestClock();
  const latchkey = await composeLatchkey(config, { clock, ...(schema ? { postgresSchema: schema } : {}), ...(options.findingSink ? { findingSink: options.findingSink } : {}) });
  const app = await buildHttpApp(latchkey, { logger: false });
  return {
    engine: options.engine,
    latchkey,
    app,
    clock,
    dataDir,
    postgresSchema: schema,
    async close() {
      await app.close();
      await latchkey.close();
      if (schema && POSTGRES_URL) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Another Latchkey over the harness's database (its data directory, PostgreSQL schema and clock), as a
 * second process or a restart would run next to it. `config` defaults to the harness's own; the caller closes it.
 */
export async function composeSibling(h: Harness, options: Omit<ComposeOptions, 'clock' | 'postgresSchema'> = {}, config: Config = h.latchkey.config): Promise<Latchkey> {
  return composeLatchkey(config, { ...options, clock: h.clock, ...(h.postgresSchema ? { postgresSchema: h.postgresSchema } : {}) });
}

export interface Person {
  readonly username: string;
  readonly password: string;
  readonly email: string;
  readonly accountId: string;
}

/** Creates an account in the built-in directory, through the same service the CLI uses. */
export async function createPerson(h: Harness, username: string, extra: { groups?: string[]; department?: string; password?: string } = {}): Promise<Person> {
  const password = extra.password ?? `${username} walks past seven quiet lanterns`;
  const email = `${username}@corp.test`;
  const accountId = await h.latchkey.accounts.create(
    { username, email, password, displayName: username, ...(extra.groups ? { groups: extra.groups } : {}), department: extra.department ?? 'Engineering' },
    { kind: 'cli', id: 'test' },
  );
  return { username, password, email, accountId };
}

export interface CallOptions {
  readonly token?: string;
  readonly ip?: string;
  readonly headers?: Record<string, string>;
}

/** One JSON API call through Fastify's injector. */
export async function call(h: Harness, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method,
    url,
    remoteAddress: options.ip ?? '127.0.0.1',
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

export const json = <T = Record<string, unknown>>(response: LightMyRequestResponse): T => response.json<T>();

/** Asserts an `application/problem+json` reply with this status and error code, and returns its body. */
export function expectProblem(response: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
  const body = response.json<Record<string, unknown>>();
  expect(body).toMatchObject({ status, code });
  return body;
}

/** Every message in the outbox for a recipient (decrypted), oldest first. */
export async function messagesTo(h: Harness, to: string): Promise<OutboundMessage[]> {
  const records = await h.latchkey.store.outbox.list({ limit: 10_000 });
  return records
    .filter((record) => record.payloadCiphertext)
    .map((record) => JSON.parse(h.latchkey.deps.cipher.decrypt(record.payloadCiphertext as string, outboxContext(record.id))) as OutboundMessage)
    .filter((message) => message.to === to);
}

export async function allMessages(h: Harness): Promise<OutboundMessage[]> {
  const records = await h.latchkey.store.outbox.list({ limit: 10_000 });
  return records.filter((record) => record.payloadCiphertext).map((record) => JSON.parse(h.latchkey.deps.cipher.decrypt(record.payloadCiphertext as string, outboxContext(record.id))) as OutboundMessage);
}

/** The code in the newest message to an address. */
export async function latestCode(h: Harness, to: string): Promise<string> {
  const messages = await messagesTo(h, to);
  const last = messages[messages.length - 1];
  const code = last ? /\b(\d{6,10})\b/.exec(last.text)?.[1] : undefined;
  if (!code) throw new Error(`no code was sent to ${to}`);
  return code;
}

export async function auditEvents(h: Harness, filter: { types?: AuditEventType[]; flowId?: string } = {}): Promise<AuditRecord[]> {
  const events: AuditRecord[] = [];
  for await (const record of h.latchkey.store.audit.iterate()) {
    if (filter.types && !filter.types.includes(record.type)) continue;
    if (filter.flowId && record.flowId !== filter.flowId) continue;
    events.push(record);
  }
  return events;
}

/** A TOTP code from the independent `oathtool`, at the harness clock's time plus `stepOffset` steps. */
export function oathtoolCode(seed: string, clock: Clock, stepOffset = 0): string {
  const at = new Date(clock.now().getTime() + stepOffset * 30_000);
  return execFileSync('oathtool', ['--totp', '-b', seed, '--now', `${at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')} UTC`], { encoding: 'utf8' }).trim();
}

/** Signs in with the password only (no methods yet) and returns the session token. */
export async function signInFresh(h: Harness, person: Person): Promise<string> {
  const response = await call(h, 'POST', '/api/me/sign-in', { username: person.username, password: person.password });
  const body = json<{ status: string; sessionToken?: string }>(response);
  if (body.status !== 'signed_in' || !body.sessionToken) throw new Error(`sign-in did not open a session: ${response.body}`);
  return body.sessionToken;
}

/**
 * Registers an authenticator app in an open self-service session and proves it with a current code
 * (from oathtool); returns its seed. The code's TOTP step is then spent: move the clock on before reusing it.
 */
export async function registerTotp(h: Harness, session: string): Promise<string> {
  const totp = json<{ enrollment: { id: string }; shownOnce: { secret: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'totp' }, { token: session }));
  const verified = await call(h, 'POST', `/api/me/methods/${totp.enrollment.id}/verify`, { code: oathtoolCode(totp.shownOnce.secret, h.clock) }, { token: session });
  if (verified.statusCode !== 200) throw new Error(`totp verification failed: ${verified.body}`);
  return totp.shownOnce.secret;
}

export interface Enrolled {
  readonly session: string;
  readonly altEmail: string;
  readonly totpSeed: string;
  readonly recoveryCodes: readonly string[];
}

/** Registers an alternate email and an authenticator app (both verified), and optionally recovery codes. */
export async function enrolEmailAndTotp(h: Harness, person: Person, options: { recoveryCodes?: boolean } = {}): Promise<Enrolled> {
  const session = await signInFresh(h, person);
  const altEmail = `${person.username}.home@example.org`;
  const email = json<{ enrollment: { id: string } }>(await call(h, 'POST', '/api/me/methods', { method: 'email_code', address: altEmail }, { token: session }));
  const verified = await call(h, 'POST', `/api/me/methods/${email.enrollment.id}/verify`, { code: await latestCode(h, altEmail) }, { token: session });
  if (verified.statusCode !== 200) throw new Error(`email verification failed: ${verified.body}`);
  const totpSeed = await registerTotp(h, session);
  let recoveryCodes: readonly string[] = [];
  if (options.recoveryCodes) {
    const codes = json<{ shownOnce: { codes: string[] } }>(await call(h, 'POST', '/api/me/methods', { method: 'recovery_code' }, { token: session }));
    recoveryCodes = codes.shownOnce.codes;
  }
  // The TOTP step used for verification may not be used again (TOK-14): move past it.
  h.clock.advance(30);
  return { session, altEmail, totpSeed, recoveryCodes };
}

export interface FlowBody {
  readonly flowToken?: string;
  readonly flow: { readonly flowId: string; readonly step: string; readonly gatesPassed: number; readonly gatesRequired: number; readonly methods: readonly { id: string }[]; readonly challenge: unknown };
}

/** Starts a flow and returns the token and body. */
export async function startFlow(h: Harness, identifier: string, purpose: 'reset' | 'unlock' = 'reset', options: CallOptions = {}): Promise<{ token: string; body: FlowBody; response: LightMyRequestResponse }> {
  const response = await call(h, 'POST', '/api/recovery/flows', { identifier, purpose }, options);
  const body = json<FlowBody & { flowToken: string }>(response);
  return { token: body.flowToken, body, response };
}

/** Passes the email gate then the TOTP gate, returning the token that holds the grant. */
export async function passTwoGates(h: Harness, token: string, enrolled: Enrolled): Promise<string> {
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token });
  const first = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token }));
  const second = first.flowToken ?? token;
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token: second });
  const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token: second });
  const body = json<FlowBody>(answered);
  if (!body.flowToken) throw new Error(`second gate did not pass: ${answered.body}`);
  return body.flowToken;
}
