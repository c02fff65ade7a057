import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Tier } from '../../core/account/account.ts';
import type { AuditData, AuditEventType } from '../../core/audit/events.ts';
import type { ReportFlowEnding, ReportPeriod, ReportQueryRepository } from '../../core/ports/store.ts';
import type { Database } from './schema.ts';
import type { Engine } from './kysely-store.ts';
import { toDate } from './columns.ts';

/** Flows are counted per 15 minutes, the granularity of every UTC offset in use, so days can be cut in any time zone. */
const QUARTER_HOUR_MS = 900_000;

/** The terminal events of a recovery flow; a flow has at most one, and `min` picks completed first should it ever have two. */
const TERMINAL_TYPES = ['recovery.completed', 'recovery.expired', 'recovery.interrupted', 'recovery.superseded'] as const satisfies readonly AuditEventType[];
const ENDING_BY_TYPE: Readonly<Record<(typeof TERMINAL_TYPES)[number], ReportFlowEnding>> = {
  'recovery.completed': 'completed',
  'recovery.expired': 'expired',
  'recovery.interrupted': 'interrupted',
  'recovery.superseded': 'superseded',
};

export const FAILURE_TYPES = [
  'challenge.failed',
  'challenge.exhausted',
  'password.rejected',
  'recovery.rate_limited',
  'recovery.expired',
  'recovery.refused',
  'recovery.interrupted',
] as const satisfies readonly AuditEventType[];

/**
 * A scalar field of an audit event's JSON `data` as text. The two engines spell JSON access
 * differently; everything else in these queries is shared SQL.
 */
function dataField(engine: Engine, alias: string, key: string): RawBuilder<string | null> {
  return engine === 'postgres' ? sql<string | null>`(${sql.ref(`${alias}.data`)}::json ->> ${sql.lit(key)})` : sql<string | null>`json_extract(${sql.ref(`${alias}.data`)}, ${sql.lit(`$.${key}`)})`;
}

/** recovery.started's `decoy` flag as 1 or 0 on both engines (SQLite's JSON true is 1, PostgreSQL's ->> gives 'true'). */
function decoyFlag(engine: Engine, alias: string): RawBuilder<number> {
  return engine === 'postgres'
    ? sql<number>`(case when ${sql.ref(`${alias}.data`)}::json ->> 'decoy' = 'true' then 1 else 0 end)`
    : sql<number>`coalesce(json_extract(${sql.ref(`${alias}.data`)}, '$.decoy'), 0)`;
}

const list = (values: readonly string[]): RawBuilder<unknown> => sql.join(values.map((value) => sql.lit(value)));

/**
 * The SQL behind the usage report, one implementation for SQLite and PostgreSQL. Every query starts
 * from an index: recovery.started and failure events by (type, at) (migration 0007_report_indexes),
 * a flow's other events by flow_id. Grouping happens in the database, so what comes back grows with
 * days × tiers × departments, not with the number of events.
 */
export function createReportQueries(db: Kysely<Database>, engine: Engine): ReportQueryRepository {
  const purpose = dataField(engine, 's', 'purpose');
  const range = (period: ReportPeriod, alias: string): RawBuilder<unknown> => sql`${sql.ref(`${alias}.at`)} >= ${period.from.getTime()} and ${sql.ref(`${alias}.at`)} < ${period.to.getTime()}`;

  return {
    async flowGroups(period) {
      const { rows } = await sql<{ quarter_hour: number; purpose: 'reset' | 'unlock'; decoy: number; tier: Tier | null; department: string | null; ending: (typeof TERMINAL_TYPES)[number] | null; count: number }>`
        select s.at / ${sql.lit(QUARTER_HOUR_MS)} as quarter_hour, ${purpose} as purpose, ${decoyFlag(engine, 's')} as decoy, s.tier as tier, s.department as department,
          (select min(t.type) from audit_events t where t.flow_id = s.flow_id and t.type in (${list(TERMINAL_TYPES)})) as ending,
          count(*) as count
        from audit_events s
        where s.type = 'recovery.started' and ${range(period, 's')} and ${purpose} in ('reset', 'unlock')
        group by 1, 2, 3, 4, 5, 6`.execute(db);
      return rows.map((row) => ({
        quarterHour: Number(row.quarter_hour),
        purpose: row.purpose,
        decoy: Number(row.decoy) === 1,
        tier: row.tier,
        department: row.department,
        ending: row.ending === null ? 'open' : ENDING_BY_TYPE[row.ending],
        count: Number(row.count),
      }));
    },

    async completedGateGroups(period) {
      const { rows } = await sql<{ purpose: 'reset' | 'unlock'; tier: Tier | null; gates: string | null; count: number }>`
        select ${purpose} as purpose, s.tier as tier, ${dataField(engine, 'c', 'gates')} as gates, count(*) as count
        from audit_events s
        join audit_events c on c.flow_id = s.flow_id and c.type = 'recovery.completed'
        where s.type = 'recovery.started' and ${range(period, 's')} and ${purpose} in ('reset', 'unlock')
        group by 1, 2, 3`.execute(db);
      return rows.map((row) => ({ purpose: row.purpose, tier: row.tier, gates: row.gates ?? '', count: Number(row.count) }));
    },

    async failureGroups(period) {
      const detail = sql<string | null>`case e.type
          when 'challenge.failed' then ${dataField(engine, 'e', 'method')}
          when 'challenge.exhausted' then ${dataField(engine, 'e', 'method')}
          when 'recovery.rate_limited' then ${dataField(engine, 'e', 'bucket')}
          when 'recovery.expired' then ${dataField(engine, 'e', 'step')}
          else null end`;
      // Sign-in gates run on the same engine; their failures are not recovery failures.
      const { rows } = await sql<{ type: AuditEventType; reason: string | null; detail: string | null; count: number }>`
        select e.type as type, e.reason as reason, ${detail} as detail, count(*) as count
        from audit_events e
        where e.type in (${list(FAILURE_TYPES)}) and ${range(period, 'e')}
          and not exists (select 1 from audit_events s where s.flow_id = e.flow_id and s.type = 'recovery.started' and ${purpose} = 'sign_in')
        group by 1, 2, 3`.execute(db);
      return rows.map((row) => ({ type: row.type, reason: row.reason, detail: row.detail, count: Number(row.count) }));
    },

    async adminAssistedCompletions(period) {
      const { rows } = await sql<{ type: AuditEventType; count: number }>`
        select e.type as type, count(*) as count
        from audit_events e
        where e.type in ('password.reset', 'account.unlocked') and e.outcome = 'success' and e.actor_kind in ('admin', 'admin_token', 'cli') and ${range(period, 'e')}
        group by 1`.execute(db);
      const count = (type: AuditEventType): number => Number(rows.find((row) => row.type === type)?.count ?? 0);
      return { resets: count('password.reset'), unlocks: count('account.unlocked') };
    },

    async passesIssued(period) {
      const kind = dataField(engine, 'e', 'kind');
      const { rows } = await sql<{ kind: string | null; count: number }>`
        select ${kind} as kind, count(*) as count
        from audit_events e
        where e.type = 'tap.issued' and ${range(period, 'e')}
        group by 1`.execute(db);
      const count = (wanted: string): number => Number(rows.find((row) => row.kind === wanted)?.count ?? 0);
      return { helpdesk: count('helpdesk'), dayOne: count('day_one') };
    },

    async activeEnrollments() {
      const rows = await db
        .selectFrom('enrollments')
        .select(['account_id', 'method_id', sql<number>`coalesce(last_used_at, verified_at, created_at)`.as('last_activity')])
        .where('status', '=', 'active')
        .execute();
      return rows.map((row) => ({ accountId: row.account_id, methodId: row.method_id, lastActivityAt: toDate(row.last_activity) }));
    },

    async eventsInSeqRange(afterSeq, throughSeq, types) {
      if (types.length === 0 || throughSeq <= afterSeq) return [];
      // The type filter runs here, not in SQL: with `type in (…)` in the query, the first scrape of a
      // 100k-event SQLite log took 2.8 s (the planner prefers a type index over the seq range); the
      // primary-key range alone reads each event once and took 0.5 s (bench/usage-report.ts).
      const wanted = new Set<string>(types);
      const rows = await db.selectFrom('audit_events').select(['seq', 'type', 'tier', 'reason', 'data']).where('seq', '>', afterSeq).where('seq', '<=', throughSeq).orderBy('seq').execute();
      return rows.filter((row) => wanted.has(row.type)).map((row) => ({ seq: Number(row.seq), type: row.type, tier: row.tier, reason: row.reason, data: JSON.parse(row.data) as AuditData }));
    },
  };
}
