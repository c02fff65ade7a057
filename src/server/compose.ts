import { readFile } from 'node:fs/promises';
import type { AppDeps } from '../core/app/deps.ts';
import { BuiltinAccountAdmin } from '../core/account/builtin-admin.ts';
import { RecoveryService } from '../core/flows/recovery/service.ts';
import { SelfServiceService } from '../core/enrollment/service.ts';
import { DEFAULT_POLICY_FILE_URL } from '../core/policy/default-policy.ts';
import { formatPolicyError, parsePolicy } from '../core/policy/load.ts';
import type { Policy } from '../core/policy/schema.ts';
import type { Clock } from '../core/ports/system.ts';
import type { Store } from '../core/ports/store.ts';
import type { MessageChannel, MessageChannelKind } from '../core/ports/message-channel.ts';
import { createChannels } from '../adapters/channel/create-channels.ts';
import { createPwnedRangeCheck } from '../adapters/breach/pwned-range-check.ts';
import { createBuiltinDirectory, normalisePassword } from '../adapters/directory/builtin/builtin-directory.ts';
import { createMemoryRateLimiter, createPostgresRateLimiter } from '../adapters/rate-limit/rate-limiter.ts';
import { openStore } from '../adapters/store/open-store.ts';
import { createPostgresStore } from '../adapters/store/postgres.ts';
import { migrateStore } from '../adapters/store/open-store.ts';
import { createArgon2Hasher } from '../adapters/system/argon2-hasher.ts';
import { systemClock } from '../adapters/system/clock.ts';
import { createSecretCipher, createSecretHasher, loadOrCreateKeyring } from '../adapters/system/keyring.ts';
import { createSystemRandom } from '../adapters/system/random.ts';
import type { Config } from './config/config.ts';
import { OutboxWorker } from './workers/outbox-worker.ts';
import { FlowSweeper } from './workers/flow-sweeper.ts';
import { AdminTokenService } from './admin-tokens.ts';
import { AdminQueries } from '../core/app/admin-queries.ts';
import { DEV_OUTBOX_CHANNEL_NAME } from '../adapters/channel/dev-outbox/dev-outbox-channel.ts';

export class PolicyLoadError extends Error {
  override readonly name = 'PolicyLoadError';
}

/** Reads and validates the policy file (or the shipped default); errors are `FILE:LINE:COL message`. */
export async function loadPolicyFile(path: string | undefined): Promise<{ policy: Policy; source: string }> {
  const source = path ?? DEFAULT_POLICY_FILE_URL.pathname;
  const text = await readFile(path ?? DEFAULT_POLICY_FILE_URL, 'utf8');
  const parsed = parsePolicy(text, source);
  if (!parsed.ok) throw new PolicyLoadError(parsed.errors.map(formatPolicyError).join('\n'));
  return { policy: parsed.policy, source };
}

export interface ComposeOptions {
  readonly clock?: Clock;
  /** Test seam: a PostgreSQL schema to isolate this instance's tables in. */
  readonly postgresSchema?: string;
  /** Where start-up notices go (key file created, …). */
  readonly notice?: (message: string) => void;
}

/** Every running part of one Latchkey instance, built from configuration. */
export interface Latchkey {
  readonly config: Config;
  readonly deps: AppDeps;
  readonly store: Store;
  readonly recovery: RecoveryService;
  readonly selfService: SelfServiceService;
  readonly accounts: BuiltinAccountAdmin;
  readonly adminTokens: AdminTokenService;
  readonly adminQueries: AdminQueries;
  readonly channels: Readonly<Record<MessageChannelKind, MessageChannel>>;
  readonly worker: OutboxWorker;
  readonly sweeper: FlowSweeper;
  readonly policySource: string;
  close(): Promise<void>;
}

/** The composition root: the one place that picks adapters for ports. */
export async function composeLatchkey(config: Config, options: ComposeOptions = {}): Promise<Latchkey> {
  const clock = options.clock ?? systemClock;
  const random = createSystemRandom();
  const { policy, source: policySource } = await loadPolicyFile(config.policyFile);
  if (!config.breachedPasswordApi && (policy.tiers.standard.password.breachedCheck || policy.tiers.privileged.password.breachedCheck)) {
    throw new PolicyLoadError(`${policySource}: the policy turns on breachedCheck but breachedPasswordApi.url is not configured`);
  }
  const keys = await loadOrCreateKeyring({ envSpec: config.encryptionKey, dataDir: config.dataDir, random });
  if (keys.source === 'created') options.notice?.(`Created a new encryption key file at ${keys.path}. Back it up: without it, registered methods cannot be read.`);
  const store =
    config.databaseUrl && options.postgresSchema
      ? await createPostgresStore({ connectionString: config.databaseUrl, schema: options.postgresSchema })
      : await openStore({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, migrate: false });
  await migrateStore(store);
  const rateLimiter = config.databaseUrl
    ? await createPostgresRateLimiter({ connectionString: config.databaseUrl, ...(options.postgresSchema ? { schema: options.postgresSchema } : {}) })
    : createMemoryRateLimiter();
  const passwords = createArgon2Hasher();
  const currentPolicy = (): Policy => policy;
  const directory = createBuiltinDirectory({ store, hasher: passwords, clock, lockoutThreshold: () => currentPolicy().signIn.lockoutThreshold });
  const deps: AppDeps = {
    store,
    directory,
    clock,
    random,
    // Keyed hashes stay under the oldest key in the ring (the last listed): rotating the primary by
    // prepending a new key must not orphan stored recovery codes, fingerprints and token hashes.
    secrets: createSecretHasher(keys.keyring, { kid: keys.keyring.kids[keys.keyring.kids.length - 1] ?? keys.keyring.primaryKid }),
    cipher: createSecretCipher(keys.keyring),
    passwords,
    rateLimiter,
    breach: config.breachedPasswordApi ? createPwnedRangeCheck({ baseUrl: config.breachedPasswordApi.url }) : null,
    policy: currentPolicy,
  };
  const channels = createChannels({ smtp: config.smtp, sms: config.sms });
  const worker = new OutboxWorker({ store, cipher: deps.cipher, clock, channels, maxAttempts: config.outbox.maxAttempts, pollIntervalMs: config.outbox.pollIntervalMs });
  const recovery = new RecoveryService(deps);
  const sweeper = new FlowSweeper(recovery);
  return {
    config,
    deps,
    store,
    recovery,
    selfService: new SelfServiceService(deps, recovery),
    accounts: new BuiltinAccountAdmin({ store, hasher: passwords, clock, random, normalisePassword, policy: currentPolicy }),
    adminTokens: new AdminTokenService(deps),
    adminQueries: new AdminQueries(deps, new Set((['email', 'sms'] as const).filter((kind) => channels[kind].name === DEV_OUTBOX_CHANNEL_NAME))),
    channels,
    worker,
    sweeper,
    policySource,
    async close() {
      sweeper.stop();
      await worker.stop();
      await Promise.all([channels.email.close?.(), channels.sms.close?.()]);
      await rateLimiter.close();
      await store.close();
    },
  };
}
