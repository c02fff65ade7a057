import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool } from 'kysely';
import { linkEvent } from '../../core/audit/chain.ts';
import type { AuditData, AuditRecord } from '../../core/audit/events.ts';
import { DuplicateError } from '../../core/ports/store.ts';
import type {
  AdminScope,
  AdminTokenRecord,
  AdminTokenRepository,
  AuditRepository,
  BuiltinAccountRecord,
  BuiltinAccountRepository,
  ChallengeRecord,
  ChallengeRepository,
  EnrollmentRecord,
  EnrollmentRepository,
  FlowRecord,
  FlowRepository,
  OutboxRecord,
  OutboxRepository,
  Repositories,
  SessionRecord,
  SessionRepository,
  SingleUseRepository,
  Store,
} from '../../core/ports/store.ts';
import type { Database, IntBool } from './schema.ts';
import { msOrNull, toDate, toDateOrNull } from './columns.ts';
import { auditExportRepository } from './audit-export-repository.ts';
import { alertRepository } from './alerts-repository.ts';
import { privilegedHoldRepository } from './privileged-holds-repository.ts';
import { createReportQueries } from './report-queries.ts';
import { monitorStateRepository } from './monitor-state-repository.ts';
import { auditCheckpointRepository } from './audit-checkpoints-repository.ts';
import { travelRepository } from './travel-repository.ts';
import { breakGlassRepository } from './breakglass-repository.ts';
import { adminSessionRepository } from './admin-sessions-repository.ts';
import { temporaryAccessPassRepository } from './tap-repository.ts';
import { methodChangeRepository } from './method-changes-repository.ts';
import { policyVersionRepository } from './policy-versions-repository.ts';

/** Which database a store talks to; the few queries that differ between engines switch on it. */
export type Engine = Store['engine'];

/*
 * One implementation of the store ports for both engines. Every repository is built over a
 * `Kysely<Database>` that is either the root (each call autocommits) or a transaction (calls join
 * it); Kysely's Transaction is a Kysely, so the same code serves both. Atomicity comes from single
 * conditional statements (UPDATE … WHERE <precondition>, INSERT … ON CONFLICT DO NOTHING) wherever
 * possible, because those are atomic on both engines without relying on isolation levels.
 */

const ms = (date: Date): number => date.getTime();
const bit = (value: boolean): IntBool => (value ? 1 : 0);
const parseJson = <T>(text: string): T => JSON.parse(text) as T;

/** Rows per multi-row INSERT: well under PostgreSQL's 65,535 bind parameters and SQLite's limit. */
const INSERT_CHUNK = 500;
const DEFAULT_AUDIT_PAGE = 500;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof Error) || !('code' in error)) return false;
  return error.code === '23505' || error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Turns a unique-key violation into the port's DuplicateError; on PostgreSQL it still aborts a surrounding transaction. */
export async function insertUnique(insert: Promise<unknown>, what: string): Promise<void> {
  try {
    await insert;
  } catch (error) {
    if (isUniqueViolation(error)) throw new DuplicateError(`${what} already exists`, { cause: error });
    throw error;
  }
}

/** Runs `work` in the caller's transaction when there is one, otherwise in a transaction of its own. */
function atomically<T>(db: Kysely<Database>, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}

const affectedOne = (count: bigint): boolean => count === 1n;

function flowRepository(db: Kysely<Database>): FlowRepository {
  const toRecord = (row: Selectable<Database['flows']>): FlowRecord => ({
    id: row.id,
    kind: row.kind,
    accountId: row.account_id,
    secretHash: row.secret_hash,
    state: row.state,
    stateName: row.state_name,
    terminal: row.terminal === 1,
    version: row.version,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    expiresAt: toDate(row.expires_at),
  });
  return {
    async insert(flow) {
      await insertUnique(
        db
          .insertInto('flows')
          .values({
            id: flow.id,
            kind: flow.kind,
            account_id: flow.accountId,
            secret_hash: flow.secretHash,
            state: flow.state,
            state_name: flow.stateName,
            terminal: bit(flow.terminal),
            version: flow.version,
            created_at: ms(flow.createdAt),
            updated_at: ms(flow.updatedAt),
            expires_at: ms(flow.expiresAt),
          })
          .execute(),
        'flow',
      );
    },
    async get(id) {
      const row = await db.selectFrom('flows').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async update(id, expectedVersion, update) {
      const result = await db
        .updateTable('flows')
        .set((eb) => ({
          state: update.state,
          state_name: update.stateName,
          terminal: bit(update.terminal),
          secret_hash: update.secretHash,
          expires_at: ms(update.expiresAt),
          updated_at: ms(update.updatedAt),
          version: eb('version', '+', 1),
        }))
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async listStale(stateName, updatedBefore, limit) {
      const rows = await db
        .selectFrom('flows')
        .selectAll()
        .where('state_name', '=', stateName)
        .where('terminal', '=', 0)
        .where('updated_at', '<', ms(updatedBefore))
        .orderBy('updated_at')
        .limit(limit)
        .execute();
      return rows.map(toRecord);
    },
    async supersedeOpen(accountId, exceptId, state, stateName, now) {
      let query = db
        .updateTable('flows')
        .set((eb) => ({ state, state_name: stateName, terminal: 1, updated_at: ms(now), version: eb('version', '+', 1) }))
        .where('account_id', '=', accountId)
        .where('terminal', '=', 0);
      if (exceptId !== null) query = query.where('id', '<>', exceptId);
      const rows = await query.returning('id').execute();
      return rows.map((row) => row.id);
    },
  };
}

function challengeRepository(db: Kysely<Database>): ChallengeRepository {
  const toRecord = (row: Selectable<Database['challenges']>): ChallengeRecord => ({
    id: row.id,
    flowId: row.flow_id,
    accountId: row.account_id,
    methodId: row.method_id,
    enrollmentId: row.enrollment_id,
    secretHash: row.secret_hash,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    consumedAt: toDateOrNull(row.consumed_at),
  });
  return {
    async insert(challenge) {
      await insertUnique(
        db
          .insertInto('challenges')
          .values({
            id: challenge.id,
            flow_id: challenge.flowId,
            account_id: challenge.accountId,
            method_id: challenge.methodId,
            enrollment_id: challenge.enrollmentId,
            secret_hash: challenge.secretHash,
            attempts: challenge.attempts,
            max_attempts: challenge.maxAttempts,
            created_at: ms(challenge.createdAt),
            expires_at: ms(challenge.expiresAt),
            consumed_at: msOrNull(challenge.consumedAt),
          })
          .execute(),
        'challenge',
      );
    },
    async get(id) {
      const row = await db.selectFrom('challenges').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async registerAttempt(id, now) {
      // The cap is part of the WHERE clause, so the check and the increment are one atomic step.
      const row = await db
        .updateTable('challenges')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', ms(now))
        .where((eb) => eb('attempts', '<', eb.ref('max_attempts')))
        .returning('attempts')
        .executeTakeFirst();
      return row === undefined ? null : row.attempts;
    },
    async consume(id, now) {
      const result = await db
        .updateTable('challenges')
        .set({ consumed_at: ms(now) })
        .where('id', '=', id)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async invalidateForFlow(flowId, now) {
      const result = await db
        .updateTable('challenges')
        .set({ consumed_at: ms(now) })
        .where('flow_id', '=', flowId)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    async invalidateForAccount(accountId, now) {
      const result = await db
        .updateTable('challenges')
        .set({ consumed_at: ms(now) })
        .where('account_id', '=', accountId)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  };
}

function singleUseRepository(db: Kysely<Database>): SingleUseRepository {
  return {
    async insertMany(items) {
      for (const chunk of chunks(items, INSERT_CHUNK)) {
        await insertUnique(
          db
            .insertInto('single_use')
            .values(
              chunk.map((item) => ({
                enrollment_id: item.enrollmentId,
                key_hash: item.keyHash,
                purpose: item.purpose,
                account_id: item.accountId,
                created_at: ms(item.createdAt),
                consumed_at: null,
              })),
            )
            .execute(),
          'single-use secret',
        );
      }
    },
    async consume(enrollmentId, keyHash, now) {
      const result = await db
        .updateTable('single_use')
        .set({ consumed_at: ms(now) })
        .where('enrollment_id', '=', enrollmentId)
        .where('key_hash', '=', keyHash)
        .where('consumed_at', 'is', null)
        .executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async claimOnce(enrollmentId, keyHash, purpose, accountId, now) {
      // The primary key decides the race; RETURNING reports whether this call's row went in.
      const rows = await db
        .insertInto('single_use')
        .values({ enrollment_id: enrollmentId, key_hash: keyHash, purpose, account_id: accountId, created_at: ms(now), consumed_at: ms(now) })
        .onConflict((oc) => oc.columns(['enrollment_id', 'key_hash']).doNothing())
        .returning('key_hash')
        .execute();
      return rows.length === 1;
    },
    async countUnconsumed(enrollmentId, purpose) {
      const row = await db
        .selectFrom('single_use')
        .select((eb) => eb.fn.countAll().as('count'))
        .where('enrollment_id', '=', enrollmentId)
        .where('purpose', '=', purpose)
        .where('consumed_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
    async deleteForEnrollment(enrollmentId) {
      await db.deleteFrom('single_use').where('enrollment_id', '=', enrollmentId).execute();
    },
  };
}

function enrollmentRepository(db: Kysely<Database>): EnrollmentRepository {
  const toRecord = (row: Selectable<Database['enrollments']>): EnrollmentRecord => ({
    id: row.id,
    accountId: row.account_id,
    methodId: row.method_id,
    status: row.status,
    label: row.label,
    secretCiphertext: row.secret_ciphertext,
    channelFingerprint: row.channel_fingerprint,
    createdAt: toDate(row.created_at),
    verifiedAt: toDateOrNull(row.verified_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
  });
  return {
    async insert(enrollment) {
      await insertUnique(
        db
          .insertInto('enrollments')
          .values({
            id: enrollment.id,
            account_id: enrollment.accountId,
            method_id: enrollment.methodId,
            status: enrollment.status,
            label: enrollment.label,
            secret_ciphertext: enrollment.secretCiphertext,
            channel_fingerprint: enrollment.channelFingerprint,
            created_at: ms(enrollment.createdAt),
            verified_at: msOrNull(enrollment.verifiedAt),
            last_used_at: msOrNull(enrollment.lastUsedAt),
          })
          .execute(),
        'enrollment',
      );
    },
    async get(id) {
      const row = await db.selectFrom('enrollments').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async listForAccount(accountId) {
      const rows = await db.selectFrom('enrollments').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toRecord);
    },
    async activate(id, now) {
      const result = await db
        .updateTable('enrollments')
        .set({ status: 'active', verified_at: ms(now) })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async touchLastUsed(id, now) {
      await db.updateTable('enrollments').set({ last_used_at: ms(now) }).where('id', '=', id).execute();
    },
    async replaceSecret(id, expectedCiphertext, nextCiphertext) {
      const result = await db.updateTable('enrollments').set({ secret_ciphertext: nextCiphertext }).where('id', '=', id).where('secret_ciphertext', '=', expectedCiphertext).executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async delete(id) {
      const result = await db.deleteFrom('enrollments').where('id', '=', id).executeTakeFirst();
      return affectedOne(result.numDeletedRows);
    },
  };
}

function sessionRepository(db: Kysely<Database>): SessionRepository {
  const toRecord = (row: Selectable<Database['sessions']>): SessionRecord => ({
    id: row.id,
    accountId: row.account_id,
    tokenHash: row.token_hash,
    createdAt: toDate(row.created_at),
    expiresAt: toDate(row.expires_at),
    authenticatedAt: toDate(row.authenticated_at),
  });
  return {
    async insert(session) {
      await insertUnique(
        db
          .insertInto('sessions')
          .values({
            id: session.id,
            account_id: session.accountId,
            token_hash: session.tokenHash,
            created_at: ms(session.createdAt),
            expires_at: ms(session.expiresAt),
            authenticated_at: ms(session.authenticatedAt),
          })
          .execute(),
        'session',
      );
    },
    async findByTokenHash(tokenHash) {
      const row = await db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async delete(id) {
      await db.deleteFrom('sessions').where('id', '=', id).execute();
    },
    async deleteForAccount(accountId) {
      const result = await db.deleteFrom('sessions').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

function toAuditRecord(row: Selectable<Database['audit_events']>): AuditRecord {
  return {
    seq: row.seq,
    id: row.id,
    at: toDate(row.at),
    type: row.type,
    actor: { kind: row.actor_kind, id: row.actor_id },
    subject: row.subject,
    outcome: row.outcome,
    reason: row.reason,
    ip: row.ip,
    userAgent: row.user_agent,
    department: row.department,
    tier: row.tier,
    flowId: row.flow_id,
    data: parseJson<AuditData>(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function auditRepository(db: Kysely<Database>, engine: Engine): AuditRepository {
  const head = async (trx: Kysely<Database>, lock: boolean): Promise<{ seq: number; hash: string }> => {
    let query = trx.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1);
    // SQLite has no row locks; its transactions begin IMMEDIATE (sqlite.ts), which already excludes every other writer.
    if (lock && engine === 'postgres') query = query.forUpdate();
    return query.executeTakeFirstOrThrow();
  };
  return {
    append(events) {
      if (events.length === 0) return Promise.resolve([]);
      return atomically(db, async (trx) => {
        let last = await head(trx, true);
        const records = events.map((event) => {
          const record = linkEvent(event, last, randomUUID());
          last = record;
          return record;
        });
        for (const chunk of chunks(records, INSERT_CHUNK)) {
          await trx
            .insertInto('audit_events')
            .values(
              chunk.map((record) => ({
                seq: record.seq,
                id: record.id,
                at: ms(record.at),
                type: record.type,
                actor_kind: record.actor.kind,
                actor_id: record.actor.id,
                subject: record.subject,
                outcome: record.outcome,
                reason: record.reason,
                ip: record.ip,
                user_agent: record.userAgent,
                department: record.department,
                tier: record.tier,
                flow_id: record.flowId,
                data: JSON.stringify(record.data),
                prev_hash: record.prevHash,
                hash: record.hash,
              })),
            )
            .execute();
        }
        await trx.updateTable('audit_head').set({ seq: last.seq, hash: last.hash }).where('id', '=', 1).execute();
        return records;
      });
    },
    async query(query) {
      if (query.types !== undefined && query.types.length === 0) return [];
      let select = db.selectFrom('audit_events').selectAll();
      if (query.since !== undefined) select = select.where('at', '>=', ms(query.since));
      if (query.until !== undefined) select = select.where('at', '<', ms(query.until));
      if (query.types !== undefined) select = select.where('type', 'in', [...query.types]);
      if (query.outcome !== undefined) select = select.where('outcome', '=', query.outcome);
      if (query.subject !== undefined) select = select.where('subject', '=', query.subject);
      if (query.ip !== undefined) select = select.where('ip', '=', query.ip);
      if (query.flowId !== undefined) select = select.where('flow_id', '=', query.flowId);
      if (query.afterSeq !== undefined) select = select.where('seq', '>', query.afterSeq);
      const rows = await select.orderBy('seq').limit(query.limit).execute();
      return rows.map(toAuditRecord);
    },
    async *iterate(fromSeqExclusive = 0, pageSize = DEFAULT_AUDIT_PAGE) {
      let cursor = fromSeqExclusive;
      for (;;) {
        const rows = await db.selectFrom('audit_events').selectAll().where('seq', '>', cursor).orderBy('seq').limit(pageSize).execute();
        for (const row of rows) yield toAuditRecord(row);
        const last = rows.at(-1);
        if (last === undefined || rows.length < pageSize) return;
        cursor = last.seq;
      }
    },
    head(options) {
      return head(db, options?.lock === true);
    },
    async purgeThrough(seq) {
      const result = await db.deleteFrom('audit_events').where('seq', '<=', seq).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

function outboxRepository(db: Kysely<Database>, engine: Engine): OutboxRepository {
  const toRecord = (row: Selectable<Database['outbox']>): OutboxRecord => ({
    id: row.id,
    channel: row.channel,
    purpose: row.purpose,
    accountId: row.account_id,
    payloadCiphertext: row.payload_ciphertext,
    recipientHint: row.recipient_hint,
    status: row.status,
    attempts: row.attempts,
    createdAt: toDate(row.created_at),
    availableAt: toDate(row.available_at),
    leaseUntil: toDateOrNull(row.lease_until),
    deliveredAt: toDateOrNull(row.delivered_at),
    lastError: row.last_error,
    deliveredVia: row.delivered_via,
  });
  return {
    async enqueue(message) {
      await insertUnique(
        db
          .insertInto('outbox')
          .values({
            id: message.id,
            channel: message.channel,
            purpose: message.purpose,
            account_id: message.accountId,
            payload_ciphertext: message.payloadCiphertext,
            recipient_hint: message.recipientHint,
            status: 'pending',
            attempts: 0,
            created_at: ms(message.createdAt),
            available_at: ms(message.availableAt),
            lease_until: null,
            delivered_at: null,
            last_error: null,
            delivered_via: null,
          })
          .execute(),
        'outbox message',
      );
    },
    /** Each lease counts as an attempt, so a message whose worker keeps crashing still runs out of attempts. */
    async claimDue(now, leaseUntil, limit) {
      const at = ms(now);
      let due = db
        .selectFrom('outbox')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'pending'), eb('available_at', '<=', at)]),
            eb.and([eb('status', '=', 'sending'), eb('lease_until', '<=', at)]),
          ]),
        )
        .orderBy('available_at')
        .orderBy('created_at')
        .limit(limit);
      // PostgreSQL: rows another worker is leasing right now are skipped, not waited for or leased twice.
      // SQLite: the single UPDATE statement is its own write transaction, so nobody runs beside it.
      if (engine === 'postgres') due = due.forUpdate().skipLocked();
      const rows = await db
        .updateTable('outbox')
        .set((eb) => ({ status: 'sending', lease_until: ms(leaseUntil), attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', due)
        .returningAll()
        .execute();
      return rows
        .sort((a, b) => a.available_at - b.available_at || a.created_at - b.created_at || (a.id < b.id ? -1 : 1))
        .map(toRecord);
    },
    async markDelivered(id, now, via, scrubPayload) {
      await db
        .updateTable('outbox')
        .set({
          status: 'delivered',
          delivered_at: ms(now),
          delivered_via: via,
          lease_until: null,
          ...(scrubPayload ? { payload_ciphertext: null } : {}),
        })
        .where('id', '=', id)
        .execute();
    },
    async markFailed(id, error, retryAt) {
      await db
        .updateTable('outbox')
        .set(
          retryAt === null
            ? { status: 'dead', lease_until: null, last_error: error }
            : { status: 'pending', available_at: ms(retryAt), lease_until: null, last_error: error },
        )
        .where('id', '=', id)
        .execute();
    },
    async get(id) {
      const row = await db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async list(query) {
      let select = db.selectFrom('outbox').selectAll();
      if (query.status !== undefined) select = select.where('status', '=', query.status);
      if (query.accountId !== undefined) select = select.where('account_id', '=', query.accountId);
      if (query.afterCreatedAt !== undefined) select = select.where('created_at', '>', ms(query.afterCreatedAt));
      if (query.newest) {
        const newest = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
        return newest.reverse().map(toRecord);
      }
      const rows = await select.orderBy('created_at').orderBy('id').limit(query.limit).execute();
      return rows.map(toRecord);
    },
  };
}

function adminTokenRepository(db: Kysely<Database>): AdminTokenRepository {
  const toRecord = (row: Selectable<Database['admin_tokens']>): AdminTokenRecord => ({
    id: row.id,
    name: row.name,
    tokenHash: row.token_hash,
    scopes: parseJson<AdminScope[]>(row.scopes),
    createdAt: toDate(row.created_at),
    expiresAt: toDateOrNull(row.expires_at),
    revokedAt: toDateOrNull(row.revoked_at),
    lastUsedAt: toDateOrNull(row.last_used_at),
  });
  return {
    async insert(token) {
      await insertUnique(
        db
          .insertInto('admin_tokens')
          .values({
            id: token.id,
            name: token.name,
            token_hash: token.tokenHash,
            scopes: JSON.stringify(token.scopes),
            created_at: ms(token.createdAt),
            expires_at: msOrNull(token.expiresAt),
            revoked_at: msOrNull(token.revokedAt),
            last_used_at: msOrNull(token.lastUsedAt),
          })
          .execute(),
        'admin token',
      );
    },
    async findByHash(tokenHash) {
      const row = await db.selectFrom('admin_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async list() {
      const rows = await db.selectFrom('admin_tokens').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toRecord);
    },
    async revoke(id, now) {
      const at = ms(now);
      const result = await db
        .updateTable('admin_tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
        .executeTakeFirst();
      return affectedOne(result.numUpdatedRows);
    },
    async touch(id, now) {
      await db.updateTable('admin_tokens').set({ last_used_at: ms(now) }).where('id', '=', id).execute();
    },
  };
}

/** Escapes LIKE wildcards so a search for `a_b` or `50%` matches those characters literally. */
const likePattern = (text: string): string => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function containsIgnoringCase(
  eb: ExpressionBuilder<Database, 'builtin_accounts'>,
  column: 'username' | 'display_name' | 'work_email',
  pattern: string,
): Expression<SqlBool> {
  // PostgreSQL's LIKE is case-sensitive and SQLite's is not; lower() on both sides makes them agree.
  return sql<SqlBool>`lower(${eb.ref(column)}) like ${pattern} escape '\\'`;
}

function builtinAccountRepository(db: Kysely<Database>): BuiltinAccountRepository {
  const toRecord = (row: Selectable<Database['builtin_accounts']>): BuiltinAccountRecord => ({
    id: row.id,
    username: row.username,
    displayName: row.display_name,
    workEmail: row.work_email,
    department: row.department,
    groups: parseJson<string[]>(row.groups),
    enabled: row.enabled === 1,
    passwordHash: row.password_hash,
    failedSignIns: row.failed_sign_ins,
    lockedAt: toDateOrNull(row.locked_at),
    createdAt: toDate(row.created_at),
    passwordChangedAt: toDate(row.password_changed_at),
  });
  return {
    async insert(account) {
      await insertUnique(
        db
          .insertInto('builtin_accounts')
          .values({
            id: account.id,
            username: account.username,
            display_name: account.displayName,
            work_email: account.workEmail,
            department: account.department,
            groups: JSON.stringify(account.groups),
            enabled: bit(account.enabled),
            password_hash: account.passwordHash,
            failed_sign_ins: account.failedSignIns,
            locked_at: msOrNull(account.lockedAt),
            created_at: ms(account.createdAt),
            password_changed_at: ms(account.passwordChangedAt),
          })
          .execute(),
        'an account with this username',
      );
    },
    async get(id) {
      const row = await db.selectFrom('builtin_accounts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async findByUsername(username) {
      const row = await db.selectFrom('builtin_accounts').selectAll().where('username', '=', username).executeTakeFirst();
      return row === undefined ? null : toRecord(row);
    },
    async findByEmail(email) {
      const rows = await db.selectFrom('builtin_accounts').selectAll().where('work_email', '=', email).orderBy('username').execute();
      return rows.map(toRecord);
    },
    async list({ afterUsername, limit, query }) {
      let select = db.selectFrom('builtin_accounts').selectAll();
      if (afterUsername !== undefined) select = select.where('username', '>', afterUsername);
      if (query !== undefined && query !== '') {
        const pattern = likePattern(query);
        select = select.where((eb) =>
          eb.or([
            containsIgnoringCase(eb, 'username', pattern),
            containsIgnoringCase(eb, 'display_name', pattern),
            containsIgnoringCase(eb, 'work_email', pattern),
          ]),
        );
      }
      const rows = await select.orderBy('username').limit(limit).execute();
      return rows.map(toRecord);
    },
    async setPassword(id, passwordHash, now) {
      await db.updateTable('builtin_accounts').set({ password_hash: passwordHash, password_changed_at: ms(now) }).where('id', '=', id).execute();
    },
    /** An unknown id counts nothing and locks nothing. */
    recordFailedSignIn(id, threshold, now) {
      return atomically(db, async (trx) => {
        const counted = await trx
          .updateTable('builtin_accounts')
          .set((eb) => ({ failed_sign_ins: eb('failed_sign_ins', '+', 1) }))
          .where('id', '=', id)
          .returning('failed_sign_ins')
          .executeTakeFirst();
        if (counted === undefined) return { failedSignIns: 0, lockedNow: false };
        // Only the call whose UPDATE moves locked_at from null reports lockedNow, however many race.
        const locked = await trx
          .updateTable('builtin_accounts')
          .set({ locked_at: ms(now) })
          .where('id', '=', id)
          .where('locked_at', 'is', null)
          .where('failed_sign_ins', '>=', threshold)
          .executeTakeFirst();
        return { failedSignIns: counted.failed_sign_ins, lockedNow: affectedOne(locked.numUpdatedRows) };
      });
    },
    async clearFailedSignIns(id) {
      await db.updateTable('builtin_accounts').set({ failed_sign_ins: 0 }).where('id', '=', id).execute();
    },
    async unlock(id) {
      await db.updateTable('builtin_accounts').set({ locked_at: null, failed_sign_ins: 0 }).where('id', '=', id).execute();
    },
    async setEnabled(id, enabled) {
      await db.updateTable('builtin_accounts').set({ enabled: bit(enabled) }).where('id', '=', id).execute();
    },
  };
}

function repositories(db: Kysely<Database>, engine: Engine): Repositories {
  return {
    flows: flowRepository(db),
    challenges: challengeRepository(db),
    singleUse: singleUseRepository(db),
    enrollments: enrollmentRepository(db),
    sessions: sessionRepository(db),
    audit: auditRepository(db, engine),
    outbox: outboxRepository(db, engine),
    adminTokens: adminTokenRepository(db),
    builtinAccounts: builtinAccountRepository(db),
    auditExport: auditExportRepository(db),
    alerts: alertRepository(db, engine),
    auditCheckpoints: auditCheckpointRepository(db),
    travel: travelRepository(db),
    breakGlass: breakGlassRepository(db),
    adminSessions: adminSessionRepository(db),
    temporaryAccessPasses: temporaryAccessPassRepository(db),
    methodChanges: methodChangeRepository(db),
    privilegedHolds: privilegedHoldRepository(db),
    policyVersions: policyVersionRepository(db),
  };
}

const databases = new WeakMap<Store, Kysely<Database>>();

/**
 * Builds a Store over an open Kysely instance of either engine; the factories in sqlite.ts and
 * postgres.ts configure the connection and call this, so all engine-independent behaviour lives
 * in one place. The store owns `db`: closing the store destroys it.
 *
 * On SQLite, code inside `transaction` must use the `tx` repositories only: the one connection is
 * held by the transaction, so a call on the outer store waits for it forever.
 *
 * `beforeClose` runs first when the store closes (sqlite.ts stops its checkpoint thread there).
 */
export function createKyselyStore(db: Kysely<Database>, engine: Engine, options: { beforeClose?: () => Promise<void> } = {}): Store {
  const store: Store = {
    ...repositories(db, engine),
    engine,
    reports: createReportQueries(db, engine),
    monitorState: monitorStateRepository(db),
    transaction: (work) => db.transaction().execute((trx) => work(repositories(trx, engine))),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      try {
        await options.beforeClose?.();
      } finally {
        await db.destroy();
      }
    },
  };
  databases.set(store, db);
  return store;
}

/** The Kysely instance behind a store made by createKyselyStore, for migrations and maintenance tools. */
export function kyselyOf(store: Store): Kysely<Database> {
  const db = databases.get(store);
  if (db === undefined) throw new Error('this store was not created by createKyselyStore');
  return db;
}
