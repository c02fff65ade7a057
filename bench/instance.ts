import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { composeLatchkey } from '../src/server/compose.ts';
import { buildHttpApp, type App } from '../src/server/http/app.ts';
import { loadConfig } from '../src/server/config/config.ts';
import { DEFAULT_POLICY_FILE_URL } from '../src/core/policy/default-policy.ts';
import type { Policy } from '../src/core/policy/schema.ts';
import { generateKeySpec } from '../src/adapters/system/keyring.ts';
import { createSystemRandom } from '../src/adapters/system/random.ts';
import { OutboxReader } from './outbox.ts';

/*
 * One bench instance: a temp data directory with the embedded SQLite database, the shipped policy
 * with roomy request limits, and accounts prepared through the same services and API the tests use
 * (in-process, before the server under test starts; none of it is timed).
 */

/** Every request limit at the schema's maximum (100,000 per second, the answer ceiling 100 per second), so no limit shapes the figures. */
const ROOMY = { points: 100_000, windowSeconds: 1 } as const;

export function roomyLimits(policy: Policy): void {
  policy.rateLimits.perIp = { ...ROOMY };
  policy.rateLimits.perIdentifier = { ...ROOMY };
  policy.rateLimits.perFlow = { ...ROOMY };
  policy.rateLimits.messagesPerRecipient = { ...ROOMY };
  for (const tier of [policy.tiers.standard, policy.tiers.privileged]) {
    tier.failureThrottle = { ...ROOMY };
    // The long answer budget allows at most 100 per window (NIST); per second it shapes nothing here.
    if (tier.failureCeiling !== undefined) tier.failureCeiling = { points: 100, windowSeconds: 1 };
  }
}

export interface BenchAccount {
  readonly accountId: string;
  readonly username: string;
  readonly workEmail: string;
}

export interface EnrolledAccount extends BenchAccount {
  readonly altEmail: string;
  /** Unused recovery codes; a flow takes one. */
  readonly recoveryCodes: string[];
}

export interface PreparedAccounts {
  /** Alternate email + recovery codes: the accounts full reset flows run on. */
  readonly flow: EnrolledAccount[];
  /** Same enrolment, kept out of the flow runs: the "email enrolled" timing class. */
  readonly timingEnrolled: EnrolledAccount[];
  /** No method at all: the "nothing enrolled" timing class. */
  readonly timingBare: BenchAccount[];
}

export interface BenchInstance {
  readonly dataDir: string;
  /** Environment for a server process of this instance (LATCHKEY_*). */
  readonly env: Readonly<Record<string, string>>;
  readonly encryptionKey: string;
  cleanup(): Promise<void>;
}

export async function createInstance(): Promise<BenchInstance> {
  const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-'));
  const policy = parse(await readFile(DEFAULT_POLICY_FILE_URL, 'utf8')) as Policy;
  roomyLimits(policy);
  const policyFile = join(dataDir, 'policy.yaml');
  await writeFile(policyFile, stringify(policy));
  const encryptionKey = generateKeySpec(createSystemRandom(), 'bench');
  return {
    dataDir,
    encryptionKey,
    env: {
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_POLICY_FILE: policyFile,
      LATCHKEY_ENCRYPTION_KEY: encryptionKey,
      LATCHKEY_LOG_LEVEL: 'silent',
      LATCHKEY_HOST: '127.0.0.1',
      LATCHKEY_PORT: '0',
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
  };
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index] as T, index);
  });
  await Promise.all(lanes);
  return results;
}

async function inject(app: App, url: string, body: unknown, token?: string): Promise<{ status: number; body: unknown }> {
  const response = await app.inject({
    method: 'POST',
    url,
    remoteAddress: '127.0.0.1',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json<unknown>() };
}

function field(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[key] : undefined;
  return current;
}

function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new Error(`setup: ${what} missing`);
  return value;
}

const pad = (index: number): string => String(index).padStart(4, '0');

/**
 * Creates the accounts: `flowCount` with an alternate email and a recovery-code set (10 codes,
 * so 10 flows each), `timingCount` more the same way, and `timingCount` with no method.
 */
export async function prepareAccounts(instance: BenchInstance, counts: { flow: number; timing: number }): Promise<PreparedAccounts> {
  const config = loadConfig(null, 'bench', { ...instance.env });
  const latchkey = await composeLatchkey(config);
  const app = await buildHttpApp(latchkey, { logger: false });
  const outbox = new OutboxReader(instance.dataDir, instance.encryptionKey);
  const create = async (username: string): Promise<BenchAccount & { password: string }> => {
    const password = `${username} walks past seven quiet lanterns`;
    const workEmail = `${username}@corp.test`;
    const accountId = await latchkey.accounts.create({ username, email: workEmail, password, displayName: username, department: 'Engineering' }, { kind: 'cli', id: 'bench' });
    return { accountId, username, workEmail, password };
  };
  const enrol = async (username: string): Promise<EnrolledAccount> => {
    const { password, ...account } = await create(username);
    const signIn = await inject(app, '/api/me/sign-in', { username, password });
    const session = expectString(field(signIn.body, 'sessionToken'), `session of ${username} (${JSON.stringify(signIn.body)})`);
    const altEmail = `${username}.home@example.org`;
    const added = await inject(app, '/api/me/methods', { method: 'email_code', address: altEmail }, session);
    const enrollmentId = expectString(field(added.body, 'enrollment', 'id'), `email enrollment of ${username}`);
    const code = await outbox.latestCode(account.accountId, 'enrollment_code');
    const verified = await inject(app, `/api/me/methods/${enrollmentId}/verify`, { code }, session);
    if (verified.status !== 200) throw new Error(`setup: email verification failed for ${username}: ${JSON.stringify(verified.body)}`);
    const codes = field(await inject(app, '/api/me/methods', { method: 'recovery_code' }, session).then((response) => response.body), 'shownOnce', 'codes');
    if (!Array.isArray(codes) || codes.length === 0 || !codes.every((item) => typeof item === 'string')) throw new Error(`setup: no recovery codes for ${username}`);
    return { ...account, altEmail, recoveryCodes: [...(codes as string[])] };
  };
  try {
    // Eight at a time keeps every argon2 slot busy (create and sign-in each hash once).
    const flow = await mapLimit(Array.from({ length: counts.flow }, (_, index) => `flow${pad(index)}`), 8, enrol);
    const timingEnrolled = await mapLimit(Array.from({ length: counts.timing }, (_, index) => `tima${pad(index)}`), 8, enrol);
    const timingBare = await mapLimit(Array.from({ length: counts.timing }, (_, index) => `timb${pad(index)}`), 8, async (username) => {
      const { password: _password, ...account } = await create(username);
      return account;
    });
    return { flow, timingEnrolled, timingBare };
  } finally {
    outbox.close();
    await app.close();
    await latchkey.close();
  }
}
