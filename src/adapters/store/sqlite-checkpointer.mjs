/*
 * The SQLite WAL checkpointer: a worker thread started by sqlite.ts for a file database. Plain
 * JavaScript (no TypeScript syntax) so that it runs in a worker under tsx, under the published
 * entry point (whose tsx loader is registered on the main thread only) and under plain node alike.
 *
 * It opens its own connection to the same file and, every `intervalMs`:
 *   1. runs `PRAGMA wal_checkpoint(PASSIVE)`: copies the committed WAL pages into the database file
 *      and fsyncs it, without waiting for or blocking any reader or writer (the costly part);
 *   2. if the WAL still holds `restartBytes` or more, runs `wal_checkpoint(RESTART)` right after.
 *      Under a steady write load the log never empties by itself: the main thread commits while
 *      step 1 runs, and SQLite starts the WAL over only when a transaction begins with every frame
 *      already checkpointed. RESTART takes the write lock briefly (for the pages committed since
 *      step 1 and an fsync), and the next transaction reuses the WAL from its start. When the WAL
 *      file has grown beyond `truncateBytes`, TRUNCATE also shrinks the file.
 * Both lock-taking modes wait at most `busyTimeoutMs` and otherwise give up until the next tick.
 *
 * Protocol (worker → main): `{ autocheckpoint: pages }`, the `wal_autocheckpoint` the main
 * connection should use: 0 once this connection is open. When the log has grown beyond
 * `truncateBytes` because RESTART cannot get the write lock (transactions so back-to-back that
 * they leave no gap), it hands checkpoints back to the writer for `handOverMs` (SQLite's default
 * of 1000 pages: checkpoints inside the writer's own commits, which always get through) and then
 * takes them over again. Main → worker: 'stop' clears the timer, closes the connection and lets
 * the thread end. An error other than "busy" ends the thread with that error, which the main
 * thread answers by switching automatic checkpoints back on for good.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { filename, intervalMs, restartBytes, truncateBytes, busyTimeoutMs, fallbackPages, handOverMs } = workerData;
const port = parentPort;
if (port === null) throw new Error('sqlite-checkpointer.mjs runs as a worker thread');

const database = new Database(filename, { fileMustExist: true });
database.pragma(`busy_timeout = ${Number(busyTimeoutMs)}`);
// This connection writes nothing, but it must never checkpoint on SQLite's schedule either.
database.pragma('wal_autocheckpoint = 0');
const pageSize = Number(database.pragma('page_size', { simple: true }));

let advised = -1;
const advise = (pages) => {
  if (pages === advised) return;
  advised = pages;
  port.postMessage({ autocheckpoint: pages });
};

const walFileSize = () => {
  try {
    return statSync(`${filename}-wal`).size;
  } catch {
    return 0;
  }
};

/** Another connection holds what the checkpoint needs (a write lock, a reader): try next tick. */
const WAIT_AND_RETRY = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

/** Until when the writer checkpoints for itself (see the protocol above); 0 when this thread does. */
let handedOverUntil = 0;

const checkpoint = () => {
  // Checkpointing beside the writer's own checkpoints would only make both of them fail as busy.
  if (Date.now() < handedOverUntil) return;
  try {
    // Each returns one row { busy, log, checkpointed }: busy 1 when it could not finish, log the
    // frames in the WAL (-1 when the file is not in WAL mode: then there is nothing to do).
    const [passive] = database.pragma('wal_checkpoint(PASSIVE)');
    if (passive === undefined || passive.log < 0) return;
    const logBytes = passive.log * pageSize;
    const fileTooBig = walFileSize() > truncateBytes;
    if (logBytes >= restartBytes || fileTooBig) {
      const [restart] = database.pragma(fileTooBig ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(RESTART)');
      if (restart?.busy !== 0 && logBytes > truncateBytes) {
        advise(fallbackPages);
        handedOverUntil = Date.now() + handOverMs;
        return;
      }
    }
    advise(0);
  } catch (error) {
    if (error instanceof Error && 'code' in error && WAIT_AND_RETRY.has(error.code)) return;
    // Anything else (an I/O error, corruption) will not heal by retrying: end the thread with the
    // error, so that the main connection checkpoints for itself again.
    clearInterval(timer);
    database.close();
    throw error;
  }
};

const timer = setInterval(checkpoint, intervalMs);

port.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  database.close();
  port.close();
});
advise(0);
