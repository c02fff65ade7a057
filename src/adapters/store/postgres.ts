import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { DatabaseIntrospector, DatabaseMetadata, SchemaMetadata, TableMetadata } from 'kysely';
import type { Store } from '../../core/ports/store.ts';
import { createKyselyStore } from './kysely-store.ts';
import type { Database } from './schema.ts';

const INT8_OID = 20;
/** Schema names are spliced into SQL and a connection option, so only plain identifiers are accepted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** SQLSTATEs of a CREATE SCHEMA IF NOT EXISTS that lost a race with another process creating the same schema. */
const SCHEMA_ALREADY_CREATED = new Set(['23505', '42P06']);

/**
 * Parses int8 (bigint) as a JS number for this pool only. Every bigint column holds epoch
 * milliseconds, counts or audit seqs, all far below 2^53, and the shared schema types them as numbers;
 * the global pg.types registry is left alone so other pg users in the process are not affected.
 */
function getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
  return oid === INT8_OID && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format);
}

/**
 * Lists the tables of the current schema only, and without columns: just what Kysely's Migrator
 * asks for. Kysely's own PostgreSQL introspector reads every schema in the database and resolves
 * each one by name, so another client dropping a schema at that moment makes it fail
 * ("schema … does not exist"), which broke migrations whenever tests or tenants shared a database.
 */
class CurrentSchemaIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;

  constructor(db: Kysely<unknown>) {
    this.#db = db;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    const { rows } = await sql<SchemaMetadata>`select nspname as name from pg_catalog.pg_namespace`.execute(this.#db);
    return rows;
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; is_view: boolean }>`
      select c.relname as name, n.nspname as schema, c.relkind = 'v' as is_view
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')`.execute(this.#db);
    return rows.map((row) => ({ name: row.name, schema: row.schema, isView: row.is_view, columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class LatchkeyPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new CurrentSchemaIntrospector(db);
  }
}

const lostSchemaRace = (error: unknown): boolean => error instanceof Error && 'code' in error && SCHEMA_ALREADY_CREATED.has(String(error.code));

/**
 * Connects a pg pool to PostgreSQL and returns it as a Store; fails fast if the server cannot be
 * reached. With `schema`, the schema is created if missing and every connection's search_path is
 * set to it (as a startup option, so it holds before the first query), which lets several
 * deployments or test runs share one database without seeing each other. Does not migrate.
 */
export async function createPostgresStore(options: { connectionString: string; schema?: string; poolSize?: number }): Promise<Store> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lower-case letters, digits and underscores`);
  }
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 5_000,
    types: { getTypeParser },
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle connection dropped by the server emits 'error' on the pool, which would otherwise crash
  // the process; the pool discards that connection and the next query reports a real outage.
  pool.on('error', () => undefined);
  try {
    if (schema === undefined) {
      await pool.query('select 1');
    } else {
      await pool.query(`create schema if not exists "${schema}"`).catch((error: unknown) => {
        if (!lostSchemaRace(error)) throw error;
      });
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return createKyselyStore(new Kysely<Database>({ dialect: new LatchkeyPostgresDialect({ pool }) }), 'postgres');
}
