import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { availableParallelism } from 'node:os';
import { createArgon2Hasher } from '../src/adapters/system/argon2-hasher.ts';
import { composeLatchkey } from '../src/server/compose.ts';
import { buildHttpApp } from '../src/server/http/app.ts';
import { loadConfig } from '../src/server/config/config.ts';
import { isParentMessage, toParent, type ParentMessage } from './ipc.ts';
import { installSqlProbe, readCounters, readLoopDelay } from './sql-probe.ts';
import { measureHashRate } from './hash.ts';

/*
 * The server under test, in its own process: what `latchkey serve` runs (composeLatchkey, the HTTP
 * app, the outbox worker), configured from LATCHKEY_* variables, listening on 127.0.0.1:0, with
 * request logging off, and the SQL/event-loop probe of sql-probe.ts. The parent drives it over
 * IPC: ready → (counters | hash-rate | profile-start/stop)* → stop.
 */

installSqlProbe();
const config = loadConfig(null, 'bench', process.env);
const latchkey = await composeLatchkey(config);
const app = await buildHttpApp(latchkey, { logger: false });
await app.listen({ host: config.host, port: config.port });
latchkey.worker.start();
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
readLoopDelay();

let profiler: Session | null = null;

async function handle(message: ParentMessage): Promise<void> {
  switch (message.type) {
    case 'profile-start': {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: message.samplingIntervalUs });
      await profiler.post('Profiler.start');
      toParent({ type: 'profile-started' });
      return;
    }
    case 'profile-stop': {
      if (!profiler) throw new Error('no profile is running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = null;
      await writeFile(message.file, JSON.stringify(profile));
      toParent({ type: 'profile-stopped', file: message.file });
      return;
    }
    case 'hash-rate': {
      // 'server': the server's own hasher, with the parameters and cap compose.ts gave it.
      // 'all-cores': compose.ts's call (createArgon2Hasher with default parameters) but one slot per
      // core, for comparison; the report checks that both hashed with the same parameters.
      const hasher = message.cap === 'server' ? latchkey.deps.passwords : createArgon2Hasher({ maxConcurrent: availableParallelism() });
      const result = await measureHashRate(hasher, message);
      toParent({ type: 'hash-rate', result });
      return;
    }
    case 'counters': {
      toParent({ type: 'counters', counters: readCounters(), loop: readLoopDelay() });
      return;
    }
    case 'stop': {
      await app.close();
      await latchkey.close();
      process.disconnect?.();
      return;
    }
  }
}

process.on('message', (message: unknown) => {
  if (!isParentMessage(message)) return;
  handle(message).catch((error: unknown) => toParent({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
toParent({ type: 'ready', port, description: `latchkey (${latchkey.store.engine}, email via ${latchkey.channels.email.name}, outbox worker on, request logging off)` });
