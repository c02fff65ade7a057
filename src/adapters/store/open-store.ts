import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../../core/ports/store.ts';
import { kyselyOf } from './kysely-store.ts';
import { migrateToLatest } from './migrations.ts';
import { createPostgresStore } from './postgres.ts';
import { createSqliteStore } from './sqlite.ts';

/** The SQLite file's name inside the data directory. */
export const SQLITE_FILENAME = 'latchkey.db';

const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url);

/**
 * Applies pending migrations to a store made by this module's factories and returns their names.
 * Kept apart from opening so that a deployment can migrate once, from one process, before the
 * servers start, instead of every server racing to migrate at boot.
 */
export function migrateStore(store: Store): Promise<{ applied: string[] }> {
  return migrateToLatest(kyselyOf(store));
}

/**
 * Opens the configured database: PostgreSQL for a postgres:// or postgresql:// URL, otherwise SQLite
 * at `<dataDir>/latchkey.db` (creating the directory). `migrate: true` also brings the schema up to
 * date. Any other URL is refused rather than silently falling back to SQLite, because a typo in the
 * URL would otherwise start a server on an empty local database.
 */
export async function openStore(options: { databaseUrl?: string; dataDir: string; migrate: boolean }): Promise<Store> {
  const url = options.databaseUrl ?? '';
  let store: Store;
  if (isPostgresUrl(url)) {
    store = await createPostgresStore({ connectionString: url });
  } else if (url === '') {
    await mkdir(options.dataDir, { recursive: true });
    store = await createSqliteStore({ filename: join(options.dataDir, SQLITE_FILENAME) });
  } else {
    throw new Error('the database URL must start with postgres:// or postgresql://; leave it unset to use SQLite in the data directory');
  }
  if (options.migrate) {
    try {
      await migrateStore(store);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
