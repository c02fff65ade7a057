import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readConfig } from '../../src/cli/context.ts';
import { composeLatchkey, type Latchkey } from '../../src/server/compose.ts';
import type { AuditEventInput, AuditRecord } from '../../src/core/audit/events.ts';
import type { Repositories, Store } from '../../src/core/ports/store.ts';
import { toExportedRecord } from '../../src/core/audit/formats/json.ts';
import { POSTGRES_URL, TestClock, type Engine } from '../support/harness.ts';
import { runLatchkey, withLatchkeyEnv, type CliRun } from '../support/cli.ts';

/*
 * One Latchkey "installation" per test file and engine: a data directory with a latchkey.yaml and,
 * on PostgreSQL, a schema of its own chosen through the URL's search_path (as an operator could),
 * so that the CLI in this process and a composed instance see the same database.
 */

export interface Site {
  readonly engine: Engine;
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly clock: TestClock;
  readonly latchkey: Latchkey;
  cli(...args: string[]): Promise<CliRun>;
  close(): Promise<void>;
}

export interface SiteOptions {
  /**
   * How many days ago the installation was first started: the clock is set back this far while it
   * is composed, so what the first start records (the `policy.published` event of the policy
   * version it seeds from the policy file) is that old, and then returns to now. A purge cuts
   * before the first young event, so a suite that purges old events needs the first start old too.
   */
  readonly firstStartedDaysAgo?: number;
}

export async function openSite(engine: Engine, yaml = '', options: SiteOptions = {}): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-evidence-'));
  const configFile = join(dir, 'latchkey.yaml');
  await writeFile(configFile, `dataDir: ${JSON.stringify(join(dir, 'data'))}\nlogLevel: silent\n${yaml}`);
  let schema: string | null = null;
  const env: Record<string, string> = { LATCHKEY_CONFIG: configFile };
  if (engine === 'postgres') {
    if (!POSTGRES_URL) throw new Error('PostgreSQL is not configured');
    schema = `lk_evidence_${Math.random().toString(36).slice(2, 10)}`;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.end();
    const url = new URL(POSTGRES_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    env['LATCHKEY_DATABASE_URL'] = url.toString();
  }
  const clock = new TestClock();
  const daysAgo = options.firstStartedDaysAgo ?? 0;
  clock.advance(-daysAgo * 86_400);
  const latchkey = await withLatchkeyEnv(env, async () => composeLatchkey(await readConfig(), { clock, notice: () => undefined }));
  clock.advance(daysAgo * 86_400);
  return {
    engine,
    dir,
    env,
    clock,
    latchkey,
    cli: (...args) => runLatchkey(env, args),
    async close() {
      await latchkey.close();
      if (schema !== null && POSTGRES_URL) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A synthetic audit event at `at` (detectors and flows are not under test here: only the chain). */
export function syntheticEvent(at: Date, n: number): AuditEventInput {
  return {
    type: 'admin.audit_queried',
    at,
    actor: { kind: 'cli', id: 'evidence-test' },
    subject: null,
    outcome: 'success',
    reason: null,
    ip: null,
    userAgent: null,
    department: null,
    tier: null,
    flowId: null,
    data: { count: n },
  };
}

export async function appendEvents(store: Store, count: number, at: Date): Promise<AuditRecord[]> {
  return store.transaction((tx) => tx.audit.append(Array.from({ length: count }, (_, n) => syntheticEvent(at, n))));
}

export async function allRecords(store: Store): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of store.audit.iterate()) records.push(record);
  return records;
}

/** The lines `latchkey audit export` writes for these records. */
export const exportLines = (records: readonly AuditRecord[]): string => records.map((record) => `${JSON.stringify(toExportedRecord(record))}\n`).join('');

/**
 * The store with one repository call made to fail inside transactions: what a process that dies at
 * that point leaves behind, as far as the database can tell (the transaction never commits).
 */
export function failingInside(store: Store, when: (tx: Repositories) => Repositories): Store {
  return { ...store, transaction: (work) => store.transaction((tx) => work(when(tx))) };
}
