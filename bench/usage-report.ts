import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { composeLatchkey, type Latchkey } from '../src/server/compose.ts';
import { loadConfig } from '../src/server/config/config.ts';
import { DEFAULT_POLICY_FILE_URL } from '../src/core/policy/default-policy.ts';
import type { Policy } from '../src/core/policy/schema.ts';
import { asAccountId, asEnrollmentId, asFlowId, type AccountId } from '../src/core/account/ids.ts';
import type { AuditEventInput } from '../src/core/audit/events.ts';
import type { MethodId } from '../src/core/methods/method-ids.ts';
import { kyselyOf } from '../src/adapters/store/kysely-store.ts';
import { buildHttpApp } from '../src/server/http/app.ts';

/*
 * The usage report over a seeded 100,000-event audit log, on SQLite and (when
 * LATCHKEY_BENCH_DATABASE_URL or LATCHKEY_TEST_DATABASE_URL is set) PostgreSQL:
 *
 *   npx tsx bench/usage-report.ts
 *
 * The log spans 400 days of reset, unlock and sign-in flows for 5,000 accounts (2.5 active methods
 * each) with failures, expiries and decoys in realistic proportions, appended through the store in
 * hash-chained batches. Timed: the report over the last 30 days and over 366 days (median of 5),
 * the same without the (type, at) index of migration 0007_report_indexes, and the first Prometheus
 * scrape, which reads the whole log once.
 */

const EVENTS = Number(process.env['BENCH_REPORT_EVENTS'] ?? 100_000);
const ACCOUNTS = 5_000;
const DAYS = 400;
const DAY_MS = 86_400_000;
const RUNS = 5;
const END = Date.parse('2026-03-01T00:00:00Z');
const START = END - DAYS * DAY_MS;
const POSTGRES_URL = process.env['LATCHKEY_BENCH_DATABASE_URL'] ?? process.env['LATCHKEY_TEST_DATABASE_URL'] ?? null;
const DEPARTMENTS = ['Sales', 'Engineering', 'Finance', 'Support', 'Legal', 'Operations', 'Marketing', 'HR', null];
const METHODS: readonly MethodId[] = ['email_code', 'sms_code', 'totp', 'recovery_code'];

/** A small deterministic PRNG (mulberry32), so every run seeds the same log. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Instance {
  readonly latchkey: Latchkey;
  close(): Promise<void>;
}

async function instance(engine: 'sqlite' | 'postgres'): Promise<Instance> {
  const dataDir = await mkdtemp(join(tmpdir(), 'latchkey-bench-report-'));
  const policyFile = join(dataDir, 'policy.yaml');
  await writeFile(policyFile, stringify(parse(await readFile(DEFAULT_POLICY_FILE_URL, 'utf8')) as Policy));
  const schema = engine === 'postgres' ? `lk_bench_${Math.random().toString(36).slice(2, 10)}` : null;
  const config = loadConfig(null, 'bench', {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_POLICY_FILE: policyFile,
    LATCHKEY_LOG_LEVEL: 'silent',
    ...(schema && POSTGRES_URL ? { LATCHKEY_DATABASE_URL: POSTGRES_URL } : {}),
  });
  const latchkey = await composeLatchkey(config, schema ? { postgresSchema: schema } : {});
  return {
    latchkey,
    async close() {
      await latchkey.close();
      if (schema && POSTGRES_URL) {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function seed(latchkey: Latchkey): Promise<{ events: number; flows: number; enrollments: number }> {
  const random = prng(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const { store } = latchkey;
  const accounts: { id: AccountId; department: string | null; tier: 'standard' | 'privileged' }[] = [];
  let enrollments = 0;
  await store.transaction(async (tx) => {
    for (let index = 0; index < ACCOUNTS; index += 1) {
      const id = asAccountId(`builtin:bench-${index}`);
      const privileged = random() < 0.05;
      const department = pick(DEPARTMENTS);
      accounts.push({ id, department, tier: privileged ? 'privileged' : 'standard' });
      const created = new Date(START);
      await tx.builtinAccounts.insert({ id, username: `bench${index}`, displayName: `Bench ${index}`, workEmail: `bench${index}@corp.test`, department, groups: privileged ? ['admins'] : [], enabled: random() > 0.02, passwordHash: 'unused', failedSignIns: 0, lockedAt: null, createdAt: created, passwordChangedAt: created });
      const count = Math.floor(random() * 4) + 1;
      for (const method of METHODS.slice(0, count)) {
        const lastUsed = random() < 0.7 ? new Date(END - Math.floor(random() * 300) * DAY_MS) : null;
        await tx.enrollments.insert({ id: asEnrollmentId(`bench-${index}-${method}`), accountId: id, methodId: method, status: 'active', label: method, secretCiphertext: 'unused', channelFingerprint: null, createdAt: created, verifiedAt: created, lastUsedAt: lastUsed });
        enrollments += 1;
      }
    }
  });

  let events = 0;
  let flows = 0;
  let batch: AuditEventInput[] = [];
  const flush = async (): Promise<void> => {
    batch.sort((a, b) => a.at.getTime() - b.at.getTime());
    await store.transaction((tx) => tx.audit.append(batch));
    events += batch.length;
    batch = [];
  };
  // Flows are generated in time order, a few minutes apart on average, until the log holds EVENTS events.
  let clock = START;
  while (events + batch.length < EVENTS) {
    clock += Math.floor(random() * ((DAYS * DAY_MS) / (EVENTS / 9.3)) * 2);
    flows += 1;
    const account = pick(accounts);
    const roll = random();
    const purpose = roll < 0.1 ? 'sign_in' : roll < 0.75 ? 'reset' : 'unlock';
    const decoy = purpose !== 'sign_in' && random() < 0.12;
    const flowId = asFlowId(`00000000-0000-4000-8000-${flows.toString(16).padStart(12, '0')}`);
    const base = { actor: decoy ? { kind: 'anonymous' as const, id: null } : { kind: 'person' as const, id: account.id }, subject: decoy ? null : account.id, ip: `198.51.100.${flows % 250}`, userAgent: 'bench', department: decoy ? null : account.department, tier: decoy ? null : account.tier, flowId };
    let at = clock;
    const step = (): Date => new Date((at += 20_000 + Math.floor(random() * 40_000)));
    batch.push({ ...base, type: 'recovery.started', at: new Date(at), outcome: 'info', reason: null, data: { purpose, decoy, identifier_hash: 'h' } });
    const gates: MethodId[] = [];
    for (const method of ['email_code', 'totp'] as const) {
      batch.push({ ...base, type: 'recovery.method_chosen', at: step(), outcome: 'info', reason: null, data: { method } });
      batch.push({ ...base, type: 'challenge.issued', at: step(), outcome: 'info', reason: null, data: { method, challenge_id: 'c', enrolled: !decoy } });
      if (random() < 0.15 || decoy) batch.push({ ...base, type: 'challenge.failed', at: step(), outcome: 'failure', reason: 'challenge.invalid', data: { method, challenge_id: 'c' } });
      if (decoy || random() < 0.1) break;
      batch.push({ ...base, type: 'challenge.passed', at: step(), outcome: 'success', reason: null, data: { method, challenge_id: 'c' } });
      gates.push(method);
    }
    if (purpose === 'sign_in' || gates.length < 2) {
      if (random() < 0.3) batch.push({ ...base, type: 'recovery.expired', at: step(), outcome: 'failure', reason: 'flow.expired', data: { step: 'awaiting_method_choice' } });
    } else {
      batch.push({ ...base, type: 'recovery.gates_satisfied', at: step(), outcome: 'success', reason: null, data: { gates: gates.join(' ') } });
      if (purpose === 'reset' && random() < 0.2) batch.push({ ...base, type: 'password.rejected', at: step(), outcome: 'failure', reason: 'password.policy', data: { rules: 'too common' } });
      batch.push({ ...base, type: 'grant.claimed', at: step(), outcome: 'info', reason: null, data: { purpose } });
      batch.push({ ...base, type: purpose === 'reset' ? 'password.reset' : 'account.unlocked', at: step(), outcome: 'success', reason: null, data: {} });
      batch.push({ ...base, type: 'recovery.completed', at: step(), outcome: 'success', reason: null, data: { purpose, gates: gates.join(' ') } });
    }
    if (batch.length >= 5_000) await flush();
  }
  if (batch.length > 0) await flush();
  return { events, flows, enrollments };
}

/** Where a 366-day report's time goes: each query alone, median of RUNS. */
async function breakdown(latchkey: Latchkey): Promise<string> {
  const period = { from: new Date(END - 366 * DAY_MS), to: new Date(END) };
  const parts: [string, () => Promise<unknown>][] = [
    ['flowGroups', () => latchkey.store.reports.flowGroups(period)],
    ['completedGateGroups', () => latchkey.store.reports.completedGateGroups(period)],
    ['failureGroups', () => latchkey.store.reports.failureGroups(period)],
    ['activeEnrollments', () => latchkey.store.reports.activeEnrollments()],
    [
      'directory.listAccounts',
      async () => {
        for await (const account of latchkey.deps.directory.listAccounts()) void account;
      },
    ],
  ];
  const out: string[] = [];
  for (const [name, run] of parts) {
    const times: number[] = [];
    for (let index = 0; index < RUNS; index += 1) {
      const begin = performance.now();
      await run();
      times.push(performance.now() - begin);
    }
    out.push(`${name} ${median(times).toFixed(0)} ms`);
  }
  return out.join(', ');
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

async function timeReport(latchkey: Latchkey, days: number): Promise<{ ms: number; started: number }> {
  const period = { from: new Date(END - days * DAY_MS), to: new Date(END), timeZone: 'UTC' };
  const times: number[] = [];
  let started = 0;
  for (let run = 0; run < RUNS; run += 1) {
    const begin = performance.now();
    const report = await latchkey.reports.usage({ kind: 'cli', id: 'bench' }, period, { format: 'json' });
    times.push(performance.now() - begin);
    started = report.totals.reset.started + report.totals.unlock.started;
  }
  return { ms: median(times), started };
}

async function bench(engine: 'sqlite' | 'postgres'): Promise<void> {
  const target = await instance(engine);
  try {
    const seedStart = performance.now();
    const seeded = await seed(target.latchkey);
    const seedMs = performance.now() - seedStart;
    const db = kyselyOf(target.latchkey.store);
    // Fresh statistics, as autovacuum (PostgreSQL) or an operator's ANALYZE (SQLite) would leave them.
    await sql`analyze`.execute(db);
    // One untimed report first: the timed runs should not pay for statement preparation and JIT warm-up.
    await timeReport(target.latchkey, 30);
    const month = await timeReport(target.latchkey, 30);
    const year = await timeReport(target.latchkey, 366);
    const parts = await breakdown(target.latchkey);
    await sql`drop index audit_events_type_at`.execute(db);
    const monthNoIndex = await timeReport(target.latchkey, 30);
    const yearNoIndex = await timeReport(target.latchkey, 366);
    await sql`create index audit_events_type_at on audit_events (type, at)`.execute(db);
    const app = await buildHttpApp(target.latchkey, { logger: false });
    const scrapeStart = performance.now();
    const scrape = await app.inject({ method: 'GET', url: '/metrics' });
    const firstScrapeMs = performance.now() - scrapeStart;
    const againStart = performance.now();
    await app.inject({ method: 'GET', url: '/metrics' });
    const nextScrapeMs = performance.now() - againStart;
    await app.close();
    const completed = /latchkey_recoveries_total\{purpose="reset",tier="standard",outcome="completed"\} (\d+)/.exec(scrape.body)?.[1];
    console.log(`\n${engine}: ${seeded.events.toLocaleString('en')} events (${seeded.flows.toLocaleString('en')} flows over ${DAYS} days), ${ACCOUNTS.toLocaleString('en')} accounts, ${seeded.enrollments.toLocaleString('en')} active enrollments; seeded in ${(seedMs / 1000).toFixed(1)} s`);
    console.log(`  usage report, last 30 days (${month.started.toLocaleString('en')} flows):  ${month.ms.toFixed(0)} ms median of ${RUNS}   without the (type, at) index: ${monthNoIndex.ms.toFixed(0)} ms`);
    console.log(`  usage report, 366 days (${year.started.toLocaleString('en')} flows):      ${year.ms.toFixed(0)} ms median of ${RUNS}   without the (type, at) index: ${yearNoIndex.ms.toFixed(0)} ms`);
    console.log(`  of which (366 days, each alone): ${parts}`);
    console.log(`  Prometheus: first scrape (reads the whole log) ${firstScrapeMs.toFixed(0)} ms, next scrape ${nextScrapeMs.toFixed(0)} ms; standard resets completed: ${completed ?? '?'}`);
  } finally {
    await target.close();
  }
}

await bench('sqlite');
if (POSTGRES_URL) await bench('postgres');
else console.log('\npostgres: skipped (set LATCHKEY_BENCH_DATABASE_URL or LATCHKEY_TEST_DATABASE_URL)');
