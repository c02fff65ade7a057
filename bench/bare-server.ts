import BetterSqlite3 from 'better-sqlite3';
import Fastify from 'fastify';
import { join } from 'node:path';
import { isParentMessage, toParent } from './ipc.ts';

/*
 * The floor to compare the reset-start endpoint with: a bare Fastify 5 route that parses a JSON
 * body and does one SQLite insert (better-sqlite3, WAL, synchronous=NORMAL like Latchkey's store,
 * a prepared statement, a tiny table), in its own process like the server under test.
 */

const dataDir = process.env['BENCH_BARE_DIR'];
if (!dataDir) throw new Error('BENCH_BARE_DIR is not set');
const database = new BetterSqlite3(join(dataDir, 'bare.db'));
database.pragma('journal_mode = WAL');
database.pragma('synchronous = NORMAL');
database.exec('CREATE TABLE IF NOT EXISTS starts (id INTEGER PRIMARY KEY, identifier TEXT NOT NULL, created_at INTEGER NOT NULL)');
const insert = database.prepare<[string, number]>('INSERT INTO starts (identifier, created_at) VALUES (?, ?)');

const app = Fastify({ logger: false });
app.post('/bare/insert', async (request, reply) => {
  const body = request.body as { identifier?: unknown } | null;
  const identifier = typeof body?.identifier === 'string' ? body.identifier : '';
  const { lastInsertRowid } = insert.run(identifier, Date.now());
  return reply.code(201).send({ id: Number(lastInsertRowid) });
});
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;

process.on('message', (message: unknown) => {
  if (!isParentMessage(message) || message.type !== 'stop') return;
  void app.close().then(() => {
    database.close();
    process.disconnect?.();
  });
});
toParent({ type: 'ready', port, description: 'bare fastify 5 + better-sqlite3 (WAL) insert' });
