/*
 * One argon2 thread of argon2-hasher.ts. Plain JavaScript (no TypeScript syntax) so that it runs in
 * a worker under tsx, under the published entry point (whose tsx loader is registered on the main
 * thread only) and under plain node alike.
 *
 * It runs the jobs it is sent one after the other, synchronously, in arrival order: while one runs,
 * the next ones wait in this thread's message queue, so the thread starts the next hash the moment
 * the previous one ends, however busy the main thread's event loop is.
 *
 * First message: { ready: true }, once @node-rs/argon2 has loaded.
 * Job:   { id, op: 'hash', password, options } | { id, op: 'verify', hash, password }
 * Reply: { id, ok: true, value } | { id, ok: false, error } (error: a message, never the password)
 */
import { parentPort } from 'node:worker_threads';
import { hashSync, verifySync } from '@node-rs/argon2';

const port = parentPort;
if (port === null) throw new Error('argon2-worker.mjs runs as a worker thread');

const verify = (hash, password) => {
  try {
    return verifySync(hash, password);
  } catch {
    // A hash that parses but cannot be verified (truncated digest, bad salt) is malformed:
    // the answer is "does not match", never an exception the caller must special-case.
    return false;
  }
};

port.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? hashSync(job.password, job.options) : verify(job.hash, job.password);
    port.postMessage({ id: job.id, ok: true, value });
  } catch (error) {
    port.postMessage({ id: job.id, ok: false, error: error instanceof Error ? error.message : 'argon2 failed' });
  }
});
port.postMessage({ ready: true });
