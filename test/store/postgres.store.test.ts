import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { asFlowId } from '../../src/core/account/ids.ts';
import type { Store } from '../../src/core/ports/store.ts';
import { kyselyOf } from '../../src/adapters/store/kysely-store.ts';
import { MIGRATIONS } from '../../src/adapters/store/migrations.ts';
import { migrateStore, openStore } from '../../src/adapters/store/open-store.ts';
import { createPostgresStore } from '../../src/adapters/store/postgres.ts';
import { storeContract } from './store.contract.ts';

/*
 * Runs only when LATCHKEY_TEST_DATABASE_URL names a PostgreSQL database. Every store lives in a
 * schema of its own (lk_test_<random>), dropped when the store closes, so runs never see each
 * other's rows and leave nothing behind.
 */
const url = process.env['LATCHKEY_TEST_DATABASE_URL'];
const connectionString = url ?? '';

const liveSchemas = new Set<string>();
const schemasOf = new Map<Store, string>();

async function openInFreshSchema(options: { migrate: boolean; schema?: string } = { migrate: true }): Promise<Store> {
  const schema = options.schema ?? `lk_test_${randomBytes(6).toString('hex')}`;
  liveSchemas.add(schema);
  const store = await createPostgresStore({ connectionString, schema });
  schemasOf.set(store, schema);
  if (options.migrate) await migrateStore(store);
  return store;
}

async function closeAndDrop(store: Store): Promise<void> {
  const schema = schemasOf.get(store);
  try {
    if (schema !== undefined && liveSchemas.delete(schema)) {
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(kyselyOf(store));
    }
  } finally {
    await store.close();
  }
}

describe.skipIf(url === undefined)('PostgreSQL', () => {
  afterAll(async () => {
    if (liveSchemas.size === 0) return;
    // Schemas a failed test could not drop through its own store.
    const pool = new pg.Pool({ connectionString });
    try {
      for (const schema of liveSchemas) await pool.query(`drop schema if exists "${schema}" cascade`);
    } finally {
      await pool.end();
    }
  });

  storeContract('PostgreSQL', () => openInFreshSchema(), closeAndDrop);

  describe('PostgreSQL store', () => {
    it('openStore connects to PostgreSQL for a postgres:// URL', async () => {
      const store = await openStore({ databaseUrl: connectionString, dataDir: tmpdir(), migrate: false });
      try {
        expect(store.engine).toBe('postgres');
        await store.ping();
      } finally {
        await store.close();
      }
    });

    it('keeps stores in different schemas apart', async () => {
      const first = await openInFreshSchema();
      const second = await openInFreshSchema();
      try {
        await first.audit.append([
          { type: 'audit.exported', at: new Date(), actor: { kind: 'cli', id: null }, subject: null, outcome: 'info', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: {} },
        ]);
        expect(await first.audit.head()).toMatchObject({ seq: 1 });
        expect(await second.audit.head()).toMatchObject({ seq: 0 });
        expect(await second.flows.get(asFlowId('missing'))).toBeNull();
      } finally {
        await closeAndDrop(first);
        await closeAndDrop(second);
      }
    });

    it('applies the migrations exactly once when two processes migrate the same schema at the same moment', async () => {
      const first = await openInFreshSchema({ migrate: false });
      const second = await createPostgresStore({ connectionString, schema: schemasOf.get(first) ?? '' });
      try {
        const results = await Promise.all([migrateStore(first), migrateStore(second)]);
        expect(results.flatMap((result) => result.applied)).toEqual(Object.keys(MIGRATIONS).sort());
        expect(await second.audit.head()).toMatchObject({ seq: 0 });
      } finally {
        await second.close();
        await closeAndDrop(first);
      }
    });

    it('refuses a schema name that is not a plain identifier', async () => {
      await expect(createPostgresStore({ connectionString, schema: 'x"; drop table y; --' })).rejects.toThrow(/invalid PostgreSQL schema name/);
    });
  });
});
