import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AuditEventInput, AuditEventType, AuditRecord } from '../../src/core/audit/events.ts';
import type { Store } from '../../src/core/ports/store.ts';
import { migrateStore } from '../../src/adapters/store/open-store.ts';
import { createPostgresStore } from '../../src/adapters/store/postgres.ts';
import { createSqliteStore } from '../../src/adapters/store/sqlite.ts';
import { auditExportConfigSchema, type AuditExportConfig } from '../../src/adapters/audit-export/config.ts';
import { createAuditExportSinks } from '../../src/adapters/audit-export/create-sinks.ts';
import type { AuditExportSink } from '../../src/adapters/audit-export/sink.ts';
import { AuditExporter } from '../../src/server/workers/audit-exporter.ts';
import { systemClock } from '../../src/adapters/system/clock.ts';
import { POSTGRES_URL, type Engine } from '../support/harness.ts';

/** A migrated store of its own: SQLite in a temp directory, or PostgreSQL in a fresh schema. */
export interface TestStore {
  readonly store: Store;
  /** Another store on the same database (a second Latchkey instance); PostgreSQL only. */
  openSibling(): Promise<Store>;
  close(): Promise<void>;
}

export async function openTestStore(engine: Engine): Promise<TestStore> {
  if (engine === 'postgres') {
    const url = POSTGRES_URL;
    if (url === null) throw new Error('LATCHKEY_TEST_DATABASE_URL is not set');
    const schema = `lk_test_${randomBytes(6).toString('hex')}`;
    const store = await createPostgresStore({ connectionString: url, schema });
    await migrateStore(store);
    const siblings: Store[] = [];
    return {
      store,
      async openSibling() {
        const sibling = await createPostgresStore({ connectionString: url, schema });
        siblings.push(sibling);
        return sibling;
      },
      async close() {
        for (const sibling of siblings) await sibling.close();
        await store.close();
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-export-'));
  const store = await createSqliteStore({ filename: join(dir, 'test.db') });
  await migrateStore(store);
  return {
    store,
    openSibling: () => Promise.reject(new Error('one SQLite store per file in these tests')),
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const TYPES: readonly AuditEventType[] = ['recovery.started', 'challenge.issued', 'challenge.failed', 'challenge.passed', 'password.reset', 'sign_in.succeeded'];

/** A synthetic event; `n` varies its type and fields. */
export function eventInput(n: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    type: TYPES[n % TYPES.length] ?? 'recovery.started',
    at: new Date(Date.UTC(2030, 0, 1, 9, 0, 0) + n * 1000),
    actor: { kind: 'anonymous', id: null },
    subject: null,
    outcome: 'info',
    reason: null,
    ip: '192.0.2.10',
    userAgent: 'test-agent',
    department: 'Sales',
    tier: 'standard',
    flowId: null,
    data: { n },
    ...overrides,
  };
}

/** Appends `count` synthetic events in one transaction; returns them as stored. */
export async function appendEvents(store: Store, count: number, from = 0): Promise<AuditRecord[]> {
  return store.transaction((tx) => tx.audit.append(Array.from({ length: count }, (_, index) => eventInput(from + index))));
}

/** Every stored record, in seq order. */
export async function allRecords(store: Store): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of store.audit.iterate()) records.push(record);
  return records;
}

/** Validated export settings with fast timings for tests. */
export function exportConfig(sinks: unknown[], overrides: Partial<Omit<AuditExportConfig, 'sinks'>> = {}): AuditExportConfig {
  return auditExportConfigSchema.parse({ pollIntervalMs: 20, batchSize: 50, retryInitialMs: 50, retryMaxMs: 400, leaseSeconds: 30, ...overrides, sinks });
}

/** An exporter over real sinks built from configuration, as compose.ts builds it. */
export function exporterFor(store: Store, config: AuditExportConfig, options: { owner?: string; sinks?: AuditExportSink[] } = {}): AuditExporter {
  const { sinks, ...timing } = config;
  return new AuditExporter({ store, clock: systemClock, sinks: options.sinks ?? createAuditExportSinks(sinks, 'test'), ...timing, ...(options.owner ? { owner: options.owner } : {}) });
}

/** Polls `probe` until it returns true; fails after `timeoutMs`. */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
