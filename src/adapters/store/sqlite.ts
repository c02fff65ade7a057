import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDialectConfig } from 'kysely';
import type { Store } from '../../core/ports/store.ts';
import { createKyselyStore } from './kysely-store.ts';
import type { Database } from './schema.ts';

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Starts every transaction with BEGIN IMMEDIATE, taking the write lock up front. Within one process
 * Kysely's connection mutex already serialises transactions; this covers a second process on the
 * same file (the CLI next to the server): a deferred transaction that reads the audit head and then
 * writes would fail with SQLITE_BUSY instead of waiting, whereas an immediate one waits its turn.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** SQLite runs DDL transactionally; saying so makes Kysely's Migrator apply each run all-or-nothing. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class LatchkeySqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * Opens (creating if needed) a SQLite database file, or an in-memory one for ':memory:', as a Store.
 * Does not migrate: call migrateToLatest, or use openStore, which does both. WAL lets readers run
 * beside the writer, synchronous=NORMAL is durable under WAL except for the last commits on power
 * loss, and foreign_keys must be switched on per connection for the schema's cascades to work.
 */
export async function createSqliteStore(options: { filename: string }): Promise<Store> {
  const database = new BetterSqlite3(options.filename);
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    database.pragma('foreign_keys = ON');
  } catch (error) {
    database.close();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new LatchkeySqliteDialect({ database }) });
  return createKyselyStore(db, 'sqlite');
}
