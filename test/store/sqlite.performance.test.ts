import BetterSqlite3 from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { migrateStore } from '../../src/adapters/store/open-store.ts';
import { createSqliteStore } from '../../src/adapters/store/sqlite.ts';
import type { Store } from '../../src/core/ports/store.ts';
import { asFlowId } from '../../src/core/account/ids.ts';

/*
 * The SQLite store's two performance measures: prepared statements are cached per SQL text
 * (bounded), and a file database is checkpointed by a worker thread instead of inside commits.
 */

const pragma = async (store: Store, name: string): Promise<unknown> => {
  const { rows } = await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(kyselyOf(store));
  return rows[0]?.[name];
};

describe('SQLite store: prepared statements', () => {
  let store: Store;
  beforeEach(async () => {
    store = await createSqliteStore({ filename: ':memory:' });
    await migrateStore(store);
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
  });

  it('prepares a repeated statement once and reuses it with new parameters', async () => {
    const prepare = vi.spyOn(BetterSqlite3.prototype, 'prepare');
    for (let i = 0; i < 5; i += 1) expect(await store.flows.get(asFlowId(`missing-${i}`))).toBeNull();
    const texts = prepare.mock.calls.map(([text]) => text);
    expect(texts.filter((text) => text.startsWith('select * from "flows"'))).toHaveLength(1);
  });

  it('keeps the cache bounded, evicting the least recently used statement', async () => {
    const db = kyselyOf(store);
    const select = (n: number): Promise<unknown> => sql`${sql.raw(`select ${n} as n`)}`.execute(db);
    for (let n = 0; n < 300; n += 1) await select(n);
    const prepare = vi.spyOn(BetterSqlite3.prototype, 'prepare');
    await select(299);
    expect(prepare).not.toHaveBeenCalled();
    await select(0);
    expect(prepare).toHaveBeenCalledTimes(1);
    expect((await sql<{ n: number }>`${sql.raw('select 0 as n')}`.execute(db)).rows).toEqual([{ n: 0 }]);
  });

  it('leaves an in-memory database to SQLite’s automatic checkpoints (no thread)', async () => {
    expect(await pragma(store, 'wal_autocheckpoint')).toBe(1000);
  });
});

describe('SQLite store: checkpoints off the event loop', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'latchkey-checkpoint-'));
  });
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('hands checkpoints of a file database to a worker thread and stops it on close', async () => {
    const filename = join(directory, 'checkpointed.db');
    const store = await createSqliteStore({ filename });
    try {
      await migrateStore(store);
      // The thread reports ready asynchronously; the main connection then stops checkpointing itself.
      await vi.waitFor(async () => expect(await pragma(store, 'wal_autocheckpoint')).toBe(0), { timeout: 5_000, interval: 20 });
      for (let i = 0; i < 50; i += 1) {
        await store.transaction(async (tx) => {
          await tx.audit.append([
            { type: 'recovery.started', at: new Date(), actor: { kind: 'system', id: 'test' }, subject: null, outcome: 'info', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { i } },
          ]);
        });
      }
      expect(existsSync(`${filename}-wal`)).toBe(true);
    } finally {
      await store.close();
    }
    // The last connection to close checkpoints and removes the WAL: the thread's had closed first.
    expect(existsSync(`${filename}-wal`)).toBe(false);
    const reopened = await createSqliteStore({ filename });
    try {
      expect(await reopened.audit.head()).toMatchObject({ seq: 50 });
    } finally {
      await reopened.close();
    }
  });
});
