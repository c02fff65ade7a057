import BetterSqlite3 from 'better-sqlite3';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely';
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDatabase, SqliteDialectConfig, SqliteStatement } from 'kysely';
import type { Store } from '../../core/ports/store.ts';
import { createKyselyStore } from './kysely-store.ts';
import type { Database } from './schema.ts';

/** How long a write waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5_000;

/** Prepared statements kept per connection. Kysely binds every value as a parameter, so the
 * statements of a running server are a few dozen distinct SQL texts; 256 leaves room for the
 * multi-row inserts (one text per row count) and the admin queries' optional filters. */
const STATEMENT_CACHE_SIZE = 256;

/** SQLite's own default: checkpoint when a commit leaves the WAL above 1000 pages (≈4 MB). */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

const CHECKPOINTER = {
  script: new URL('./sqlite-checkpointer.mjs', import.meta.url),
  intervalMs: 1_000,
  /** A WAL holding this much after a PASSIVE checkpoint is restarted (like SQLite's 1000 pages). */
  restartBytes: 4 * 1024 * 1024,
  /** A WAL file beyond this was held by a long reader: TRUNCATE shrinks it again. */
  truncateBytes: 64 * 1024 * 1024,
  /** How long a RESTART or TRUNCATE checkpoint waits for readers and writers. New writes wait
   * while one is pending, so it stays far below BUSY_TIMEOUT_MS. */
  busyTimeoutMs: 250,
  /** How long the writer checkpoints for itself when the thread cannot keep up (see the script). */
  handOverMs: 10_000,
  /** How long close() waits for the thread to end before terminating it. */
  stopGraceMs: 5_000,
} as const;

/**
 * The better-sqlite3 Database as Kysely's SQLite driver sees it, with a bounded LRU cache of
 * prepared statements keyed by SQL text.
 *
 * Why: Kysely's driver calls `prepare(sql)` for every statement it runs, and compiling SQL in
 * SQLite (parse, plan, code generation) cost about a sixth of the server's main-thread time in a
 * reset flow, although the same few dozen parameterised texts repeat. A cached statement is
 * reused as it is: `reader` is fixed at preparation, `all`/`run` reset it after each use, and
 * SQLite re-prepares it by itself if the schema changes (migrations).
 *
 * A statement still iterating (Kysely's `stream`, a generator the caller has not finished) is
 * `busy` and cannot run twice at once; a prepare of the same text meanwhile gets a fresh statement.
 *
 * It also applies a pending `wal_autocheckpoint` change before the next statement: the checkpoint
 * thread reports asynchronously, and a pragma between two statements can never land in the middle
 * of an iteration.
 */
class CachingSqliteDatabase implements SqliteDatabase {
  readonly #database: BetterSqlite3.Database;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #autocheckpoint: number | null = null;

  constructor(database: BetterSqlite3.Database) {
    this.#database = database;
  }

  prepare(sql: string): SqliteStatement {
    if (this.#autocheckpoint !== null) this.#applyAutocheckpoint();
    const cached = this.#statements.get(sql);
    if (cached !== undefined && !cached.busy) {
      // Map keeps insertion order: moving the hit to the end makes the first key the least recently used.
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = this.#database.prepare(sql);
    if (cached === undefined) {
      this.#statements.set(sql, statement);
      if (this.#statements.size > STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next();
        if (oldest.done !== true) this.#statements.delete(oldest.value);
      }
    }
    return statement;
  }

  /** Sets `PRAGMA wal_autocheckpoint` before the next statement (0 turns automatic checkpoints off). */
  setAutocheckpoint(pages: number): void {
    this.#autocheckpoint = pages;
  }

  #applyAutocheckpoint(): void {
    const pages = this.#autocheckpoint;
    this.#autocheckpoint = null;
    this.#database.pragma(`wal_autocheckpoint = ${pages}`);
  }

  close(): void {
    this.#statements.clear();
    this.#autocheckpoint = null;
    this.#database.close();
  }
}

interface Checkpointer {
  /** Ends the thread and waits until it has; idempotent. */
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop: a worker thread with its own connection checkpoints
 * the file once a second (see sqlite-checkpointer.mjs), and once it is ready the main connection's
 * automatic checkpoints are switched off (`wal_autocheckpoint = 0`).
 *
 * Why: with synchronous=NORMAL a WAL commit writes but never fsyncs; the fsyncs happen in
 * checkpoints, and an automatic checkpoint runs inside whichever commit crosses 1000 WAL pages,
 * synchronously on the main thread: measured stalls of the event loop of 100 ms and more under a
 * reset-flow load. A PASSIVE checkpoint in another thread blocks no reader or writer.
 *
 * The thread also guards against the one case it cannot handle: transactions so back-to-back
 * that its RESTART never gets the write lock. Once the log exceeds 64 MB that way it hands
 * checkpoints back to the writer for ten seconds (automatic checkpoints run inside the writer's own
 * commits, so they always get through), then takes them over again.
 *
 * If the thread cannot start, fails or ends unexpectedly, the main connection goes back to
 * automatic checkpoints for good, so the WAL never grows without bound; the store itself is
 * unaffected. The thread is unref'd: it never keeps a process alive.
 */
function startCheckpointer(filename: string, database: CachingSqliteDatabase): Checkpointer {
  let stopping: Promise<void> | null = null;
  let failed = false;
  let worker: Worker;
  const fallBack = (why: string): void => {
    failed = true;
    database.setAutocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    process.emitWarning(`SQLite checkpoint thread ${why}; the main connection checkpoints automatically again`, { code: 'LATCHKEY_SQLITE_CHECKPOINTER' });
  };
  try {
    worker = new Worker(CHECKPOINTER.script, {
      workerData: {
        filename,
        intervalMs: CHECKPOINTER.intervalMs,
        restartBytes: CHECKPOINTER.restartBytes,
        truncateBytes: CHECKPOINTER.truncateBytes,
        busyTimeoutMs: CHECKPOINTER.busyTimeoutMs,
        fallbackPages: DEFAULT_AUTOCHECKPOINT_PAGES,
        handOverMs: CHECKPOINTER.handOverMs,
      },
      // A plain JavaScript module: no loader (tsx) needed, none inherited.
      execArgv: [],
      stdout: false,
      stderr: false,
    });
  } catch (error) {
    fallBack(`could not start (${error instanceof Error ? error.message : 'unknown error'})`);
    return { stop: () => Promise.resolve() };
  }
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // { autocheckpoint: 0 } once the thread is ready; 1000 while it cannot keep up (see the script).
  worker.on('message', (message: unknown) => {
    const pages = typeof message === 'object' && message !== null ? (message as { autocheckpoint?: unknown }).autocheckpoint : undefined;
    if (typeof pages === 'number' && stopping === null && !failed) database.setAutocheckpoint(pages);
  });
  // Only the error's message: it names an SQLite condition (SQLITE_IOERR…), never data.
  worker.on('error', (error: Error) => {
    if (stopping === null) fallBack(`failed (${error.message})`);
  });
  worker.once('exit', (code) => {
    if (stopping === null && !failed) fallBack(`ended (exit code ${code})`);
  });
  return {
    stop() {
      if (stopping !== null) return stopping;
      // Unref'd, the thread would not keep the process alive until it has closed its connection.
      worker.ref();
      worker.postMessage('stop');
      const deadline = setTimeout(() => void worker.terminate(), CHECKPOINTER.stopGraceMs);
      deadline.unref();
      stopping = exited.finally(() => clearTimeout(deadline));
      return stopping;
    },
  };
}

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
 * Statements are prepared once and reused ({@link CachingSqliteDatabase}); a file database is
 * checkpointed by a worker thread instead of inside commits ({@link startCheckpointer}).
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
  const cached = new CachingSqliteDatabase(database);
  // ':memory:' and '' (a temporary file) are private to this connection: nobody else can open them.
  const checkpointer = database.memory || options.filename === '' ? null : startCheckpointer(resolve(options.filename), cached);
  const db = new Kysely<Database>({ dialect: new LatchkeySqliteDialect({ database: cached }) });
  return createKyselyStore(db, 'sqlite', { beforeClose: async () => checkpointer?.stop() });
}
