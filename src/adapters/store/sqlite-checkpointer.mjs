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
 *      already checkpointed. RESTART takes the write lock briefly (the pages committed since step 1
 *      and an fsync), after which the next transaction reuses the WAL from its start. When the WAL
 *      file has grown beyond `truncateBytes` (a long reader held it), TRUNCATE also shrinks it.
 * Both lock-taking modes wait at most `busyTimeoutMs` and give up until the next tick.
 *
 * Protocol: posts 'ready' once its connection is open; on the message 'stop' it clears its timer,
 * closes its connection and lets the thread end. An error other than "busy" ends the thread with
 * that error, which the main thread answers by switching automatic checkpoints back on.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { filename, intervalMs, restartBytes, truncateBytes, busyTimeoutMs } = workerData;
const port = parentPort;
if (port === null) throw new Error('sqlite-checkpointer.mjs runs as a worker thread');

const database = new Database(filename, { fileMustExist: true });
database.pragma(`busy_timeout = ${Number(busyTimeoutMs)}`);
// This connection writes nothing, but it must never checkpoint on SQLite's schedule either.
database.pragma('wal_autocheckpoint = 0');
const pageSize = Number(database.pragma('page_size', { simple: true }));

const walFileSize = () => {
  try {
    return statSync(`${filename}-wal`).size;
  } catch {
    return 0;
  }
};

/** Another connection holds what the checkpoint needs (a write lock, a reader): try next tick. */
const WAIT_AND_RETRY = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);

const checkpoint = () => {
  try {
    const [passive] = database.pragma('wal_checkpoint(PASSIVE)');
    // `log`: frames in the WAL, -1 when the file is not in WAL mode (then there is nothing to do).
    if (passive === undefined || !(passive.log * pageSize >= restartBytes)) return;
    database.pragma(walFileSize() > truncateBytes ? 'wal_checkpoint(TRUNCATE)' : 'wal_checkpoint(RESTART)');
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
port.postMessage('ready');
