import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/core/audit/chain.ts';
import type { AuditRecord } from '../../src/core/audit/events.ts';
import type { Store } from '../../src/core/ports/store.ts';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { MIGRATIONS } from '../../src/adapters/store/migrations.ts';
import { migrateStore, openStore } from '../../src/adapters/store/open-store.ts';
import { createSqliteStore } from '../../src/adapters/store/sqlite.ts';
import { storeContract } from './store.contract.ts';

const run = promisify(execFile);

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'latchkey-store-'));
}

const directories = new Map<Store, string>();

storeContract(
  'SQLite',
  async () => {
    const directory = await tempDir();
    const store = await createSqliteStore({ filename: join(directory, 'test.db') });
    await migrateStore(store);
    directories.set(store, directory);
    return store;
  },
  async (store) => {
    await store.close();
    const directory = directories.get(store);
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
    directories.delete(store);
  },
);

describe('SQLite store', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await tempDir();
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('works on an in-memory database', async () => {
    const store = await createSqliteStore({ filename: ':memory:' });
    try {
      expect(store.engine).toBe('sqlite');
      expect(await migrateStore(store)).toEqual({ applied: Object.keys(MIGRATIONS).sort() });
      expect(await store.audit.head()).toMatchObject({ seq: 0 });
    } finally {
      await store.close();
    }
  });

  it('opens a file in WAL mode with foreign keys on and a busy timeout', async () => {
    const store = await createSqliteStore({ filename: join(directory, 'pragmas.db') });
    try {
      const db = kyselyOf(store);
      const pragma = async (name: string): Promise<unknown> => {
        const { rows } = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(db);
        return rows[0]?.[name] ?? rows[0]?.['timeout'];
      };
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('synchronous')).toBe(1);
      expect(Number(await pragma('busy_timeout'))).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('applies the migrations once and then reports nothing to apply', async () => {
    const store = await createSqliteStore({ filename: join(directory, 'migrate.db') });
    try {
      expect(await migrateStore(store)).toEqual({ applied: Object.keys(MIGRATIONS).sort() });
      expect(await migrateStore(store)).toEqual({ applied: [] });
    } finally {
      await store.close();
    }
  });

  it('openStore creates the data directory and a migrated latchkey.db in it', async () => {
    const dataDir = join(directory, 'nested', 'data');
    const store = await openStore({ dataDir, migrate: true });
    try {
      expect(store.engine).toBe('sqlite');
      expect(existsSync(join(dataDir, 'latchkey.db'))).toBe(true);
      expect(await store.audit.head()).toMatchObject({ seq: 0 });
    } finally {
      await store.close();
    }
  });

  it('openStore refuses a database URL that is not PostgreSQL instead of falling back to SQLite', async () => {
    await expect(openStore({ databaseUrl: 'postgress://typo', dataDir: directory, migrate: false })).rejects.toThrow(/postgres:\/\//);
  });

  it('keeps one unforked chain when several processes append to the same file at once', async () => {
    const filename = join(directory, 'shared.db');
    const setup = await createSqliteStore({ filename });
    await migrateStore(setup);
    await setup.close();

    const worker = join(import.meta.dirname, 'append-worker.ts');
    await Promise.all(['a', 'b', 'c'].map((label) => run(process.execPath, ['--import', 'tsx', worker, filename, '200', label])));

    const store = await createSqliteStore({ filename });
    try {
      const records: AuditRecord[] = [];
      for await (const record of store.audit.iterate()) records.push(record);
      expect(await verifyChain(records)).toMatchObject({ ok: true, count: 1200 });
      for (let i = 0; i < records.length; i += 2) expect(records[i]?.data).toEqual(records[i + 1]?.data);
      expect(new Set(records.map((record) => record.data['label'])).size).toBe(3);
    } finally {
      await store.close();
    }
  }, 60_000);
});
