import type { AccountId, ChallengeId, EnrollmentId, FlowId, SessionId } from '../account/ids.ts';
import type { EnrollmentStatus, Tier } from '../account/account.ts';
import type { MethodId } from '../methods/method-ids.ts';
import type { AuditEventInput, AuditEventType, AuditOutcome, AuditRecord } from '../audit/events.ts';
import type { Checkpoint } from '../audit/checkpoint.ts';
import type { MessageChannelKind, MessagePurpose } from './message-channel.ts';
import type { AlertRecord, AlertStatus } from '../monitoring/alerts/alert.ts';
import type { AlertSeverity } from '../monitoring/finding.ts';
import type { TravelWindow } from '../travel/travel.ts';
import type { DrillRow, OpeningRecord, SealRecord } from '../breakglass/records.ts';
import type { PolicyVersionRecord } from '../policy/versions.ts';

/*
 * Persistence ports, one small repository per aggregate. All times are Date objects in the port and
 * epoch milliseconds in the database. Every method is safe to call concurrently from several
 * processes sharing one PostgreSQL database; the atomicity each one promises is stated on it and
 * proven by test/store/store.contract.ts against SQLite and PostgreSQL.
 */

export type FlowKind = 'recovery' | 'sign_in';

export interface FlowRecord {
  readonly id: FlowId;
  readonly kind: FlowKind;
  /** null for a decoy subject (unknown identifier, or a tier with no self-service). */
  readonly accountId: AccountId | null;
  /** HMAC of the secret half of the flow token; the id alone cannot continue a flow. */
  readonly secretHash: string;
  /** The serialized state machine state (JSON text); `stateName` duplicates its `name` for queries. */
  readonly state: string;
  readonly stateName: string;
  readonly terminal: boolean;
  /** Optimistic-concurrency counter: every update must name the version it read. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly expiresAt: Date;
}

export interface FlowUpdate {
  readonly state: string;
  readonly stateName: string;
  readonly terminal: boolean;
  readonly secretHash: string;
  readonly expiresAt: Date;
  readonly updatedAt: Date;
}

export interface FlowRepository {
  insert(flow: FlowRecord): Promise<void>;
  get(id: FlowId): Promise<FlowRecord | null>;
  /** Compare-and-set: applies only if the stored version is `expectedVersion`; true if it applied (then version+1). */
  update(id: FlowId, expectedVersion: number, update: FlowUpdate): Promise<boolean>;
  /** Non-terminal flows in `stateName` not updated since `updatedBefore`, oldest first (for the sweeper). */
  listStale(stateName: string, updatedBefore: Date, limit: number): Promise<FlowRecord[]>;
  /**
   * Ends every non-terminal flow of the account except `exceptId`, writing `state`/`stateName` and
   * terminal=true, version+1. Returns the ids it ended.
   */
  supersedeOpen(accountId: AccountId, exceptId: FlowId | null, state: string, stateName: string, now: Date): Promise<FlowId[]>;
}

export interface ChallengeRecord {
  readonly id: ChallengeId;
  /** The flow it belongs to; null for the verification of a new enrollment (its id is the enrollment id). */
  readonly flowId: FlowId | null;
  readonly accountId: AccountId | null;
  readonly methodId: MethodId;
  readonly enrollmentId: EnrollmentId | null;
  /** HMAC of the expected answer for code methods; null where the method verifies another way (TOTP). */
  readonly secretHash: string | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly consumedAt: Date | null;
}

export interface ChallengeRepository {
  insert(challenge: ChallengeRecord): Promise<void>;
  get(id: ChallengeId): Promise<ChallengeRecord | null>;
  /**
   * Atomically counts one attempt if the challenge is unconsumed, unexpired at `now` and below its cap.
   * Returns the new attempt count, or null if no attempt may be made. Under concurrency no more than
   * maxAttempts calls ever return a number.
   */
  registerAttempt(id: ChallengeId, now: Date): Promise<number | null>;
  /** Atomically marks the challenge consumed; of any number of concurrent callers exactly one gets true. */
  consume(id: ChallengeId, now: Date): Promise<boolean>;
  /** Marks every unconsumed challenge of the flow consumed (a new challenge replaces older ones: TOK-7). */
  invalidateForFlow(flowId: FlowId, now: Date): Promise<number>;
  /** Marks every unconsumed challenge of the account consumed (after a reset: TOK-7). */
  invalidateForAccount(accountId: AccountId, now: Date): Promise<number>;
}

export type SingleUsePurpose = 'recovery_code' | 'totp_step' | 'temporary_access_pass';

export interface SingleUseRepository {
  /** Stores pre-generated single-use secrets (recovery codes) by their keyed hash. */
  insertMany(items: readonly { keyHash: string; accountId: AccountId; enrollmentId: EnrollmentId; purpose: SingleUsePurpose; createdAt: Date }[]): Promise<void>;
  /**
   * Atomically consumes a stored secret of this enrollment. Of any number of concurrent callers with
   * the same key exactly one gets true.
   */
  consume(enrollmentId: EnrollmentId, keyHash: string, now: Date): Promise<boolean>;
  /**
   * Records a key as used if it was never recorded (e.g. one TOTP time step of one enrollment: TOK-14).
   * Exactly one of any number of concurrent callers gets true.
   */
  claimOnce(enrollmentId: EnrollmentId, keyHash: string, purpose: SingleUsePurpose, accountId: AccountId, now: Date): Promise<boolean>;
  countUnconsumed(enrollmentId: EnrollmentId, purpose: SingleUsePurpose): Promise<number>;
  deleteForEnrollment(enrollmentId: EnrollmentId): Promise<void>;
}

export interface EnrollmentRecord {
  readonly id: EnrollmentId;
  readonly accountId: AccountId;
  readonly methodId: MethodId;
  readonly status: EnrollmentStatus;
  readonly label: string;
  /** SecretCipher output; the store never sees method secrets in clear. */
  readonly secretCiphertext: string;
  /** A keyed hash of the channel address (email, phone), for finding reuse across accounts; null for others. */
  readonly channelFingerprint: string | null;
  readonly createdAt: Date;
  readonly verifiedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface EnrollmentRepository {
  insert(enrollment: EnrollmentRecord): Promise<void>;
  get(id: EnrollmentId): Promise<EnrollmentRecord | null>;
  listForAccount(accountId: AccountId): Promise<EnrollmentRecord[]>;
  /** pending → active; true if it changed. */
  activate(id: EnrollmentId, now: Date): Promise<boolean>;
  touchLastUsed(id: EnrollmentId, now: Date): Promise<void>;
  /**
   * Compare-and-set of the encrypted secret: replaced only if it still is `expectedCiphertext`, so
   * of two requests that read the same secret (a passkey's signature counter) only one writes.
   * True if it changed.
   */
  replaceSecret(id: EnrollmentId, expectedCiphertext: string, nextCiphertext: string): Promise<boolean>;
  delete(id: EnrollmentId): Promise<boolean>;
}

export interface SessionRecord {
  readonly id: SessionId;
  readonly accountId: AccountId;
  readonly tokenHash: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** When the person last proved who they are (password plus gate): step-up is measured from here. */
  readonly authenticatedAt: Date;
}

export interface SessionRepository {
  insert(session: SessionRecord): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<SessionRecord | null>;
  delete(id: SessionId): Promise<void>;
  /** Ends every session of the account (after a reset: SESS-1). Returns how many ended. */
  deleteForAccount(accountId: AccountId): Promise<number>;
}

export interface AuditQuery {
  readonly since?: Date;
  readonly until?: Date;
  readonly types?: readonly AuditEventType[];
  readonly outcome?: AuditOutcome;
  readonly subject?: AccountId;
  readonly ip?: string;
  readonly flowId?: FlowId;
  /** Returns records with seq strictly greater than this (paging cursor). */
  readonly afterSeq?: number;
  readonly limit: number;
}

export interface AuditRepository {
  /**
   * Appends events to the hash chain in order (see core/audit/chain.ts linkEvent), holding the chain
   * head exclusively for the rest of the transaction, so appends from several processes never fork
   * the chain. Must be called inside Store.transaction together with the change the events record.
   */
  append(events: readonly AuditEventInput[]): Promise<AuditRecord[]>;
  query(query: AuditQuery): Promise<AuditRecord[]>;
  /** Every record in seq order, fetched in pages; for verify and export. */
  iterate(fromSeqExclusive?: number, pageSize?: number): AsyncIterable<AuditRecord>;
  /**
   * The chain head. With `lock` (inside Store.transaction) the head is held exclusively until the
   * transaction ends, as append holds it: no event can be appended meanwhile, so a caller can sign
   * or cut the chain at exactly this head.
   */
  head(options?: { readonly lock?: boolean }): Promise<{ seq: number; hash: string }>;
  /**
   * Deletes every event with seq ≤ `seq` (retention) and returns how many. The head row is kept,
   * so appends continue the chain. Call inside Store.transaction with the head locked, together
   * with the checkpoint that anchors the kept log and the `audit.purged` event.
   */
  purgeThrough(seq: number): Promise<number>;
}

/**
 * Signed checkpoints of the audit chain (see core/audit/checkpoint.ts). At most one per seq:
 * recording a second one for the same seq throws DuplicateError.
 */
export interface AuditCheckpointRepository {
  record(checkpoint: Checkpoint, eventSeq: number): Promise<void>;
  /** The checkpoint with the highest seq, with the seq of the event that carries it. */
  latest(): Promise<{ checkpoint: Checkpoint; eventSeq: number } | null>;
  get(seq: number): Promise<Checkpoint | null>;
  /** Checkpoints with seq ≥ `fromSeq`, in seq order. */
  list(fromSeq?: number): Promise<Checkpoint[]>;
}

export type OutboxStatus = 'pending' | 'sending' | 'delivered' | 'dead';

export interface OutboxRecord {
  readonly id: string;
  readonly channel: MessageChannelKind;
  readonly purpose: MessagePurpose;
  readonly accountId: AccountId | null;
  /** SecretCipher output of the JSON-encoded OutboundMessage; null once delivered by a real channel (scrubbed). */
  readonly payloadCiphertext: string | null;
  /** Masked recipient for listings (`a•••@example.org`, `+44•••••••12`). */
  readonly recipientHint: string;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly availableAt: Date;
  readonly leaseUntil: Date | null;
  readonly deliveredAt: Date | null;
  /** Short failure description of the last attempt; never message content. */
  readonly lastError: string | null;
  /** Which channel adapter delivered it (`dev-outbox`, `smtp`, …). */
  readonly deliveredVia: string | null;
}

export interface OutboxQuery {
  readonly status?: OutboxStatus;
  readonly accountId?: AccountId;
  readonly afterCreatedAt?: Date;
  /** The newest `limit` messages (still returned oldest first) instead of the oldest. */
  readonly newest?: boolean;
  readonly limit: number;
}

export interface OutboxRepository {
  enqueue(message: Pick<OutboxRecord, 'id' | 'channel' | 'purpose' | 'accountId' | 'payloadCiphertext' | 'recipientHint' | 'createdAt' | 'availableAt'>): Promise<void>;
  /**
   * Leases up to `limit` messages that are pending (or whose lease ran out) and available at `now`,
   * setting status 'sending' and leaseUntil. Two concurrent callers never lease the same message.
   */
  claimDue(now: Date, leaseUntil: Date, limit: number): Promise<OutboxRecord[]>;
  markDelivered(id: string, now: Date, via: string, scrubPayload: boolean): Promise<void>;
  /** Records a failed attempt: back to pending at `retryAt`, or 'dead' when `retryAt` is null. */
  markFailed(id: string, error: string, retryAt: Date | null): Promise<void>;
  get(id: string): Promise<OutboxRecord | null>;
  list(query: OutboxQuery): Promise<OutboxRecord[]>;
}

// The permission catalog lives with the admin principal; re-exported so existing imports keep working.
export { ADMIN_SCOPES, type AdminScope } from '../admin/principal.ts';
import type { AdminRole, AdminScope } from '../admin/principal.ts';

export interface AdminTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly tokenHash: string;
  readonly scopes: readonly AdminScope[];
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface AdminTokenRepository {
  insert(token: AdminTokenRecord): Promise<void>;
  findByHash(tokenHash: string): Promise<AdminTokenRecord | null>;
  list(): Promise<AdminTokenRecord[]>;
  /** True if a live token was revoked. */
  revoke(id: string, now: Date): Promise<boolean>;
  touch(id: string, now: Date): Promise<void>;
}

/** An admin-console sign-in: after the password it awaits the second factor; after that it is active. */
export type AdminSessionStage = 'awaiting_second_factor' | 'active';

export interface AdminSessionRecord {
  readonly id: string;
  /** Keyed hash of the current token; the token is replaced when the second factor passes. */
  readonly tokenHash: string;
  readonly accountId: AccountId;
  readonly username: string;
  readonly stage: AdminSessionStage;
  /** The roles as last resolved from the directory's groups, at `rolesCheckedAt`. */
  readonly roles: readonly AdminRole[];
  readonly failedAttempts: number;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  /** Absolute end: the pending window before the second factor, the session lifetime after. */
  readonly expiresAt: Date;
  readonly rolesCheckedAt: Date;
}

/**
 * Admin-console sessions (admin-sessions-repository.ts). `activate` and `recordFailure` are single
 * conditional statements, so concurrent second-factor submissions cannot both activate one session
 * nor lose a failure count; proven by test/admin-identity on SQLite and PostgreSQL.
 */
export interface AdminSessionRepository {
  insert(session: AdminSessionRecord): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<AdminSessionRecord | null>;
  /**
   * awaiting_second_factor → active under a new token hash, with the session's lifetime starting
   * now. True for exactly one of any number of concurrent callers; false once it is active or gone.
   */
  activate(id: string, newTokenHash: string, roles: readonly AdminRole[], now: Date, expiresAt: Date): Promise<boolean>;
  /** Counts a wrong second factor; returns the count after this one (0 when the session is gone). */
  recordFailure(id: string): Promise<number>;
  /** Marks the session used now; with `roles`, stores freshly resolved roles checked now. */
  touch(id: string, now: Date, roles?: readonly AdminRole[]): Promise<void>;
  /** True if the session existed. */
  delete(id: string): Promise<boolean>;
  /** Ends every admin session of the account; returns how many ended. */
  deleteForAccount(accountId: AccountId): Promise<number>;
  /** Deletes sessions past their absolute end or idle longer than `idleSeconds`; returns how many. */
  deleteExpired(now: Date, idleSeconds: number): Promise<number>;
}

export interface BuiltinAccountRecord {
  readonly id: AccountId;
  /** Canonical (see core/account/identifier.ts); unique. */
  readonly username: string;
  readonly displayName: string;
  /** Canonical form, or null. Not unique: two accounts sharing one makes lookups by it ambiguous. */
  readonly workEmail: string | null;
  readonly department: string | null;
  readonly groups: readonly string[];
  readonly enabled: boolean;
  readonly passwordHash: string;
  readonly failedSignIns: number;
  readonly lockedAt: Date | null;
  readonly createdAt: Date;
  readonly passwordChangedAt: Date;
}

export interface BuiltinAccountRepository {
  /** Throws DuplicateError when the username exists. */
  insert(account: BuiltinAccountRecord): Promise<void>;
  get(id: AccountId): Promise<BuiltinAccountRecord | null>;
  findByUsername(username: string): Promise<BuiltinAccountRecord | null>;
  /** Every account whose workEmail equals the canonical email (0, 1 or several). */
  findByEmail(email: string): Promise<BuiltinAccountRecord[]>;
  list(options: { afterUsername?: string; limit: number; query?: string }): Promise<BuiltinAccountRecord[]>;
  setPassword(id: AccountId, passwordHash: string, now: Date): Promise<void>;
  /**
   * Atomically counts a failed sign-in and locks the account when the count reaches `threshold`.
   * Returns the new count and whether this call locked it.
   */
  recordFailedSignIn(id: AccountId, threshold: number, now: Date): Promise<{ failedSignIns: number; lockedNow: boolean }>;
  clearFailedSignIns(id: AccountId): Promise<void>;
  /** Clears lockedAt and the failure count. */
  unlock(id: AccountId): Promise<void>;
  setEnabled(id: AccountId, enabled: boolean): Promise<void>;
}

/**
 * Where an audit export sink stands. `active`: delivering (or idle, caught up). `stalled`: its last
 * attempt failed and it is being retried. `stopped`: it refused a batch as malformed (a poison batch)
 * and is not retried until an operator resets it.
 */
export type AuditExportStatus = 'active' | 'stalled' | 'stopped';

export interface AuditExportCursor {
  readonly sink: string;
  /** The seq of the last event the sink acknowledged; 0 when it never acknowledged one. */
  readonly deliveredSeq: number;
  readonly status: AuditExportStatus;
  /** Short description of the last failure (never event content); null while healthy. */
  readonly lastError: string | null;
  /** The exporter instance holding the sink's lease, and until when. */
  readonly leaseOwner: string | null;
  readonly leaseUntil: Date | null;
  readonly updatedAt: Date;
}

/**
 * Per-sink export cursors. A sink is exported by one exporter at a time: the lease is taken with one
 * conditional UPDATE (free, expired or already ours), so of any number of concurrent callers exactly
 * one holds it. The cursor only moves forward, only for the lease holder, and only from the value
 * the holder read (compare-and-set), so a holder that lost its lease cannot move it.
 */
export interface AuditExportRepository {
  /** The cursor of a sink, or null when the sink never ran. */
  get(sink: string): Promise<AuditExportCursor | null>;
  /** Every cursor, by sink name. */
  list(): Promise<AuditExportCursor[]>;
  /**
   * Takes or renews the sink's lease for `owner` until `leaseUntil`, creating the cursor at 0 when the
   * sink is new. Returns the cursor when `owner` holds the lease, null when another live holder does.
   */
  acquire(sink: string, owner: string, now: Date, leaseUntil: Date): Promise<AuditExportCursor | null>;
  /** Lets the lease go (on a clean stop) so another exporter can take over at once. */
  release(sink: string, owner: string): Promise<void>;
  /**
   * Moves the cursor from `fromSeq` to `toSeq` after the sink acknowledged everything up to `toSeq`
   * (the status is left to setStatus). True if it applied: `owner` still holds the lease and the cursor was
   * still at `fromSeq`.
   */
  advance(sink: string, owner: string, fromSeq: number, toSeq: number, now: Date): Promise<boolean>;
  /**
   * Sets the status (and last error) if it differs from the stored one; true only for the call that
   * changed it, so a state change is recorded once however many exporters see it.
   */
  setStatus(sink: string, status: AuditExportStatus, lastError: string | null, now: Date): Promise<boolean>;
  /**
   * The smallest delivered seq over the named sinks; a sink that never delivered counts as 0, and an
   * empty list gives 0. Retention purges only events at or below it, i.e. what every sink has.
   */
  minimumDelivered(sinkNames: readonly string[]): Promise<number>;
}

export interface AlertQuery {
  readonly status?: AlertStatus;
  readonly severity?: AlertSeverity;
  readonly detectorId?: string;
  /** Alerts active at some time in [since, until): last seen at or after `since`, first seen before `until`. */
  readonly since?: Date;
  readonly until?: Date;
  /** Paging cursor: alerts after this one in the listing order (newest first seen first). */
  readonly after?: { readonly firstSeenAt: Date; readonly id: string };
  readonly limit: number;
}

/** A notification about an alert (or a summary of suppressed ones): the record the throttle counts. */
export interface AlertNotificationRecord {
  readonly id: string;
  readonly alertId: string | null;
  readonly kind: 'alert' | 'suppressed_summary';
  /** `sent`: delivered to targets; `suppressed`: held back by the global cap; `summarised`: a summary covered it. */
  readonly status: 'sent' | 'suppressed' | 'summarised';
  readonly severity: AlertSeverity | null;
  readonly createdAt: Date;
}

export type AlertDeliveryStatus = 'pending' | 'sending' | 'delivered' | 'dead';

/** One notification queued for one asynchronous target (a webhook, syslog). */
export interface AlertDeliveryRecord {
  readonly id: string;
  readonly notificationId: string;
  readonly alertId: string | null;
  /** The target's name, e.g. `webhook:soc` or `syslog`. */
  readonly target: string;
  /** JSON of the AlertNotification: what is sent, identical on every retry. */
  readonly payload: string;
  readonly status: AlertDeliveryStatus;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly availableAt: Date;
  readonly leaseUntil: Date | null;
  readonly deliveredAt: Date | null;
  /** Short failure description of the last attempt; never the payload. */
  readonly lastError: string | null;
}

/**
 * Alerts, their notifications and the delivery queue. At most one alert per dedupe key is active
 * (open or acknowledged): `insert` of a second throws DuplicateError, so two processes raising the
 * same finding at once end with one alert (the loser retries as an update). `update` is
 * compare-and-set on the version. Deliveries are leased like the outbox: two concurrent callers of
 * `claimDueDeliveries` never lease the same row.
 */
export interface AlertRepository {
  insert(alert: AlertRecord): Promise<void>;
  get(id: string): Promise<AlertRecord | null>;
  /** The open or acknowledged alert of the key; inside a transaction it stays locked until commit where the engine has row locks. */
  findActive(dedupeKey: string): Promise<AlertRecord | null>;
  /** The most recently resolved alert of the key, if any. */
  latestResolved(dedupeKey: string): Promise<AlertRecord | null>;
  /** Writes the alert if its stored version is `expectedVersion` (then version+1); true if it applied. */
  update(alert: AlertRecord, expectedVersion: number): Promise<boolean>;
  /** Newest first seen first. */
  list(query: AlertQuery): Promise<AlertRecord[]>;
  /**
   * Takes the global throttle lock until the surrounding transaction ends, so that counting the
   * notifications in the window and recording a new one is atomic across processes.
   */
  lockThrottle(): Promise<void>;
  recordNotification(notification: AlertNotificationRecord): Promise<void>;
  /** Notifications of `kind` with `status` created at or after `since`. */
  countNotifications(kind: AlertNotificationRecord['kind'], status: AlertNotificationRecord['status'], since: Date): Promise<number>;
  /** When the last suppressed-notifications summary was made, or null. */
  lastSummaryAt(): Promise<Date | null>;
  /** Suppressed notifications not yet summarised, oldest first. */
  listSuppressed(limit: number): Promise<AlertNotificationRecord[]>;
  /** Marks suppressed notifications summarised; returns how many changed (a concurrent summariser gets 0). */
  markSummarised(ids: readonly string[]): Promise<number>;
  enqueueDeliveries(deliveries: readonly Pick<AlertDeliveryRecord, 'id' | 'notificationId' | 'alertId' | 'target' | 'payload' | 'createdAt' | 'availableAt'>[]): Promise<void>;
  claimDueDeliveries(now: Date, leaseUntil: Date, limit: number): Promise<AlertDeliveryRecord[]>;
  markDeliveryDelivered(id: string, now: Date): Promise<void>;
  /** Back to pending at `retryAt`, or 'dead' when `retryAt` is null. */
  markDeliveryFailed(id: string, error: string, retryAt: Date | null): Promise<void>;
  listDeliveries(query: { readonly alertId?: string; readonly status?: AlertDeliveryStatus; readonly limit: number }): Promise<AlertDeliveryRecord[]>;
}

/** A report period [from, to): events at or after `from` and strictly before `to`. */
export interface ReportPeriod {
  readonly from: Date;
  readonly to: Date;
}

/**
 * How a recovery flow ended, from its audit events: `completed` when it has a recovery.completed
 * event (whenever recorded), else the terminal event it has (expired, superseded, interrupted), else
 * `open` (abandoned, or still running when the report was made).
 */
export type ReportFlowEnding = 'completed' | 'expired' | 'superseded' | 'interrupted' | 'open';

/** Reset and unlock flows started in a period, counted per quarter hour, purpose, decoy flag, tier, department and ending. */
export interface ReportFlowGroup {
  /**
   * 15-minute slots since 1970-01-01 UTC of the flow's recovery.started event: every UTC offset in
   * use is a multiple of 15 minutes, so the report can cut days in any time zone.
   */
  readonly quarterHour: number;
  readonly purpose: 'reset' | 'unlock';
  readonly decoy: boolean;
  /** null for decoys (the audit log records no tier for them). */
  readonly tier: Tier | null;
  readonly department: string | null;
  readonly ending: ReportFlowEnding;
  readonly count: number;
}

/** Completed reset and unlock flows started in a period, per purpose, tier and the methods that passed their gates (space-separated, as recovery.completed records them). */
export interface ReportGateGroup {
  readonly purpose: 'reset' | 'unlock';
  readonly tier: Tier | null;
  readonly gates: string;
  readonly count: number;
}

/** Failure events recorded in a period (sign-in gates excluded), per type, reason and a bounded detail (method, rate-limit bucket or flow step). */
export interface ReportFailureGroup {
  readonly type: AuditEventType;
  readonly reason: string | null;
  readonly detail: string | null;
  readonly count: number;
}

/** One active enrollment: whose, which method, and when it was last used (or verified, or created). */
export interface ReportEnrollmentRow {
  readonly accountId: AccountId;
  readonly methodId: MethodId;
  readonly lastActivityAt: Date;
}

/**
 * Aggregate queries behind the usage report. Read-only and outside any transaction: a report may
 * lag the newest events by the time it takes to run, which is fine for a report and keeps it from
 * holding a lock the request path needs. Counts come from the audit log, so a period whose events
 * were purged by retention reports what is left.
 */
export interface ReportQueryRepository {
  flowGroups(period: ReportPeriod): Promise<ReportFlowGroup[]>;
  completedGateGroups(period: ReportPeriod): Promise<ReportGateGroup[]>;
  failureGroups(period: ReportPeriod): Promise<ReportFailureGroup[]>;
  /** Successful password.reset and account.unlocked events in the period whose actor is an admin token or the CLI. */
  adminAssistedCompletions(period: ReportPeriod): Promise<{ readonly resets: number; readonly unlocks: number }>;
  /** Temporary Access Passes issued in the period (`tap.issued`), by how they were issued. */
  passesIssued(period: ReportPeriod): Promise<{ readonly helpdesk: number; readonly dayOne: number }>;
  /** Every active enrollment now: one row each, so memory grows with the number of enrollments. */
  activeEnrollments(): Promise<ReportEnrollmentRow[]>;
  /**
   * Events of the given types with afterSeq < seq ≤ throughSeq, in seq order, only the fields the
   * Prometheus counters read. Bounded by seq on both sides so each call reads one window of the log
   * whatever the types' share of it.
   */
  eventsInSeqRange(afterSeq: number, throughSeq: number, types: readonly AuditEventType[]): Promise<Pick<AuditRecord, 'seq' | 'type' | 'tier' | 'reason' | 'data'>[]>;
}

/** Where the detector runner stands: the last audit seq it judged, and each detector's state (JSON text). */
export interface MonitorSnapshot {
  /** Bumped by every commit; a runner holding an older version lost a race and must reload. */
  readonly version: number;
  readonly cursor: number;
  readonly states: Readonly<Record<string, string>>;
}

/** A finding the runner committed but has not yet handed to the FindingSink. */
export interface PendingFinding {
  /** Deterministic (`<seq>:<detector>:<n>`): replaying the same records yields the same ids. */
  readonly id: string;
  /** The audit seq of the record that raised it; pending findings are handed on in seq order. */
  readonly seq: number;
  /** The Finding as JSON text. */
  readonly finding: string;
  readonly createdAt: Date;
}

/**
 * The detector runner's durable state. `commit` is a compare-and-set on the version: of several
 * runners (one per instance on PostgreSQL) judging the same records, exactly one commits its cursor,
 * states and findings, all in one transaction; the others get false and reload. Pending findings
 * are leased before they are handed on, so two runners never hand on the same one at once; a runner
 * that dies mid-hand-off leaves a lease that expires, and the finding is handed on again
 * (at least once; the alert service folds repeats by dedupe key).
 */
export interface MonitorStateRepository {
  /** Version 0, cursor 0 and no states before the first commit. */
  load(): Promise<MonitorSnapshot>;
  version(): Promise<number>;
  /** Applies only if the stored version is `expectedVersion` (then version+1); true if it applied. */
  commit(expectedVersion: number, cursor: number, states: Readonly<Record<string, string>>, findings: readonly PendingFinding[], now: Date): Promise<boolean>;
  /** Leases up to `limit` pending findings (unleased or lease expired at `now`), lowest seq first. */
  claimPending(now: Date, leaseUntil: Date, limit: number): Promise<PendingFinding[]>;
  /** Drops a finding the sink accepted. */
  removePending(id: string): Promise<void>;
  countPending(): Promise<number>;
}

/** Why a pass is issued: by the helpdesk after verifying the person, or in bulk for a new hire's first day. */
export type AccessPassKind = 'helpdesk' | 'day_one';

/** A Temporary Access Pass as stored: only the keyed hash of the pass, never the pass. */
export interface AccessPassRecord {
  readonly id: string;
  readonly accountId: AccountId;
  /** The `temporary_access_pass` enrollment that lets the recovery engine offer the pass as a gate. */
  readonly enrollmentId: EnrollmentId;
  readonly keyHash: string;
  readonly kind: AccessPassKind;
  readonly validFrom: Date;
  readonly expiresAt: Date;
  readonly maxUses: number;
  readonly uses: number;
  readonly issuedAt: Date;
  /** Who issued it, as audit records name actors (`admin_session`, `admin_token`, `cli`) and its id. */
  readonly issuedByKind: string;
  readonly issuedBy: string;
  readonly revokedAt: Date | null;
  readonly revokeReason: string | null;
  readonly lastUsedAt: Date | null;
  /** The self-service session the newest sign-in with this pass opened (forced registration looks it up). */
  readonly sessionId: SessionId | null;
}

export type HelpdeskVerificationMethod = 'method_code' | 'manager_approval' | 'out_of_band';
export type HelpdeskVerificationStatus = 'pending' | 'verified' | 'used';

/** One identity check a helpdesk agent ran before issuing a pass. */
export interface HelpdeskVerificationRecord {
  readonly id: string;
  readonly accountId: AccountId;
  /** The principal that started it; only the same principal may issue a pass on it. */
  readonly agentKind: string;
  readonly agentId: string;
  readonly method: HelpdeskVerificationMethod;
  /** For `method_code`: the enrollment the code went to; its challenge has the same id as this record. */
  readonly enrollmentId: EnrollmentId | null;
  /** For `manager_approval`: keyed hash of the link token, and the masked approver address. */
  readonly approvalTokenHash: string | null;
  readonly approverHint: string | null;
  /** For `out_of_band`: what the agent recorded (no secrets). */
  readonly reason: string | null;
  readonly ticket: string | null;
  readonly status: HelpdeskVerificationStatus;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly verifiedAt: Date | null;
  readonly usedAt: Date | null;
}

/**
 * Temporary Access Passes and the helpdesk verifications that precede them. At most one pass per
 * account is live (not revoked and not used up): `insert` of a second live pass throws
 * DuplicateError, so two agents issuing at once end with one pass. `use` is one conditional UPDATE:
 * of any number of concurrent callers, no more than the pass's remaining uses succeed. Verification
 * status changes are compare-and-set on the status, so an approval link or a verification is used
 * once however many requests race.
 */
export interface TemporaryAccessPassRepository {
  insert(pass: AccessPassRecord): Promise<void>;
  get(id: string): Promise<AccessPassRecord | null>;
  /** The account's pass that is neither revoked nor used up (it may be expired or not yet valid). */
  findLive(accountId: AccountId): Promise<AccessPassRecord | null>;
  /** Revokes the account's live pass, if any, and returns it as it was. */
  revokeLive(accountId: AccountId, reason: string, now: Date): Promise<AccessPassRecord | null>;
  /**
   * Counts one use of the pass of `enrollmentId` whose keyed hash is `keyHash`, if it is not revoked,
   * valid at `now` (validFrom ≤ now < expiresAt) and has uses left; the last use takes it out of
   * the live set. Returns the pass after the use, or null when no use was counted.
   */
  use(enrollmentId: EnrollmentId, keyHash: string, now: Date): Promise<AccessPassRecord | null>;
  /** Records the session a sign-in with the pass opened. */
  attachSession(id: string, sessionId: SessionId): Promise<void>;
  findBySession(sessionId: SessionId): Promise<AccessPassRecord | null>;
  /** Live passes whose time ran out before `now`: they are taken out of the live set and returned (each once). */
  retireExpired(now: Date, limit: number): Promise<AccessPassRecord[]>;
  insertVerification(verification: HelpdeskVerificationRecord): Promise<void>;
  getVerification(id: string): Promise<HelpdeskVerificationRecord | null>;
  findVerificationByApprovalToken(tokenHash: string): Promise<HelpdeskVerificationRecord | null>;
  /** `from` → `to` if the stored status is `from` and it has not expired at `now`; true if it applied. */
  moveVerification(id: string, from: HelpdeskVerificationStatus, to: HelpdeskVerificationStatus, now: Date): Promise<boolean>;
}

/**
 * Break-glass custody records (core/breakglass/records.ts). At most one live (sealed or opened)
 * seal per account: inserting a second throws DuplicateError. Seal and opening updates are
 * compare-and-set on the version, so of two processes re-sealing or opening the same seal at once
 * exactly one applies. `takePendingShares` hands the worker-made shares out once.
 */
export interface BreakGlassRepository {
  insertSeal(seal: SealRecord): Promise<void>;
  getSeal(id: string): Promise<SealRecord | null>;
  liveSeal(accountId: AccountId): Promise<SealRecord | null>;
  /** Every live seal, oldest first (for the watch and the status listing). */
  listLive(): Promise<SealRecord[]>;
  /** Writes the seal if its stored version is `expectedVersion` (then version+1); true if it applied. */
  updateSeal(seal: SealRecord, expectedVersion: number): Promise<boolean>;
  /** Clears and returns the seal's pending shares; of concurrent callers exactly one gets them, the rest null. */
  takePendingShares(id: string): Promise<string | null>;
  insertDrill(drill: DrillRow): Promise<void>;
  getDrill(id: string): Promise<DrillRow | null>;
  /** The account's drills, newest first. */
  listDrills(accountId: AccountId, limit: number): Promise<DrillRow[]>;
  insertOpening(opening: OpeningRecord): Promise<void>;
  getOpening(id: string): Promise<OpeningRecord | null>;
  updateOpening(opening: OpeningRecord, expectedVersion: number): Promise<boolean>;
}

/** A removed enrollment as it was, with its unconsumed single-use secrets, so a disputed removal can be undone. */
export interface RemovedEnrollmentSnapshot {
  readonly enrollment: EnrollmentRecord;
  readonly singleUse: readonly { readonly keyHash: string; readonly purpose: SingleUsePurpose; readonly createdAt: Date }[];
}

/**
 * One change of an account's recovery methods: what was added (activated) and what was removed,
 * and the "this wasn't me" link sent about it. `tokenHash` is a keyed hash of the link's token.
 */
export interface MethodChangeRecord {
  readonly id: string;
  readonly accountId: AccountId;
  readonly createdAt: Date;
  readonly addedEnrollmentId: EnrollmentId | null;
  readonly addedMethodId: MethodId | null;
  /** Whether the added method cools off before it counts (see core/lifecycle/rules.ts activationCoolsOff). */
  readonly coolsOff: boolean;
  readonly removed: readonly RemovedEnrollmentSnapshot[];
  /** Made within the policy's window after a reset or unlock of the account. */
  readonly afterRecovery: boolean;
  readonly tokenHash: string;
  readonly tokenExpiresAt: Date;
  /** When the link was followed (the change disputed); null while it was not. */
  readonly disputedAt: Date | null;
  /** When the change was undone (its own dispute, or one of an earlier change); null while it stands. */
  readonly revertedAt: Date | null;
}

/** Self-service is frozen for the account until an admin lifts it. */
export interface SelfServiceFreezeRecord {
  readonly accountId: AccountId;
  readonly frozenAt: Date;
  /** The disputed change that froze it. */
  readonly changeId: string | null;
}

/**
 * Method changes, their dispute links and self-service freezes. `dispute` consumes a link
 * atomically: of any number of concurrent callers with the same token exactly one gets the record.
 */
export interface MethodChangeRepository {
  insert(change: MethodChangeRecord): Promise<void>;
  findByTokenHash(tokenHash: string): Promise<MethodChangeRecord | null>;
  /**
   * Marks the change disputed if its link is unused, unexpired at `now` and the change not yet
   * reverted; returns the record as it was before, or null when the link cannot be used.
   */
  dispute(tokenHash: string, now: Date): Promise<MethodChangeRecord | null>;
  /** The account's changes created at or after `since`, oldest first. */
  listForAccount(accountId: AccountId, since?: Date): Promise<MethodChangeRecord[]>;
  markReverted(id: string, now: Date): Promise<void>;
  /** Ids of the account's enrollments whose activation cools off (their change not reverted). */
  coolingOffEnrollmentIds(accountId: AccountId): Promise<Set<string>>;
  /** The unconsumed single-use secrets of an enrollment, for a removal snapshot. */
  unconsumedSingleUse(enrollmentId: EnrollmentId): Promise<RemovedEnrollmentSnapshot['singleUse']>;
  /** True if the account was not frozen before. */
  freeze(freeze: SelfServiceFreezeRecord): Promise<boolean>;
  getFreeze(accountId: AccountId): Promise<SelfServiceFreezeRecord | null>;
  /** True if a freeze was lifted. */
  unfreeze(accountId: AccountId): Promise<boolean>;
}

/**
 * Published policy versions (see core/policy/versions.ts). Versions are numbered without gaps and
 * never change once written: `insert` of a number that exists throws DuplicateError, so of two
 * instances publishing at once exactly one gets the next number and the other must re-read and retry.
 */
export interface PolicyVersionRepository {
  insert(version: PolicyVersionRecord): Promise<void>;
  get(version: number): Promise<PolicyVersionRecord | null>;
  /** The highest version, or null before the first is seeded. */
  latest(): Promise<PolicyVersionRecord | null>;
  /** The highest version number (0 before the first): one indexed read, for instances polling for a change. */
  latestNumber(): Promise<number>;
  /** Newest first, without the text and diff (history listings). */
  list(options: { readonly beforeVersion?: number; readonly limit: number }): Promise<Omit<PolicyVersionRecord, 'text' | 'diff'>[]>;
}

/**
 * Declared trips (src/core/travel). Plain inserts and reads; `cancel` is a conditional update, so of
 * two concurrent cancellations of one trip exactly one reports true.
 */
export interface TravelRepository {
  insert(window: TravelWindow): Promise<void>;
  get(id: string): Promise<TravelWindow | null>;
  /** The account's trips that end after `endsAfter` (cancelled ones too), soonest start first. */
  listForAccount(accountId: string, endsAfter: Date): Promise<TravelWindow[]>;
  /** Every trip not cancelled that ends after `endsAfter`, for the in-memory index. */
  listInForce(endsAfter: Date): Promise<TravelWindow[]>;
  /** Cancels a trip of the account that is not cancelled yet; false when there is none. */
  cancel(id: string, accountId: string, at: Date): Promise<boolean>;
}

export class DuplicateError extends Error {
  override readonly name = 'DuplicateError';
}

/** The repositories, bound either to autocommit or to one transaction. */
export interface Repositories {
  readonly flows: FlowRepository;
  readonly challenges: ChallengeRepository;
  readonly singleUse: SingleUseRepository;
  readonly enrollments: EnrollmentRepository;
  readonly sessions: SessionRepository;
  readonly audit: AuditRepository;
  readonly outbox: OutboxRepository;
  readonly adminTokens: AdminTokenRepository;
  readonly builtinAccounts: BuiltinAccountRepository;
  readonly auditExport: AuditExportRepository;
  readonly alerts: AlertRepository;
  readonly auditCheckpoints: AuditCheckpointRepository;
  readonly travel: TravelRepository;
  readonly breakGlass: BreakGlassRepository;
  readonly adminSessions: AdminSessionRepository;
  readonly temporaryAccessPasses: TemporaryAccessPassRepository;
  readonly methodChanges: MethodChangeRepository;
  readonly privilegedHolds: PrivilegedHoldRepository;
  readonly policyVersions: PolicyVersionRepository;
}

/** A privileged recovery held until a second admin confirms it (policy privileged.holdForConfirmation). */
export interface PrivilegedHoldRecord {
  readonly id: string;
  readonly accountId: AccountId;
  readonly flowId: FlowId;
  readonly purpose: 'reset' | 'unlock';
  /** `held` until confirmed or the deadline passes; `unconfirmed` still holds the account. */
  readonly status: 'held' | 'confirmed' | 'unconfirmed';
  readonly createdAt: Date;
  readonly deadlineAt: Date;
  readonly resolvedAt: Date | null;
  /** Who confirmed it (the principal's audit id), or the system for an unconfirmed hold. */
  readonly resolvedBy: string | null;
  readonly version: number;
}

/**
 * Holds of privileged recoveries. `update` is a compare-and-set on `version`: of two admins
 * confirming one hold at once, or a confirmation racing the deadline sweep, exactly one wins.
 */
export interface PrivilegedHoldRepository {
  insert(hold: PrivilegedHoldRecord): Promise<void>;
  get(id: string): Promise<PrivilegedHoldRecord | null>;
  /** Holds still blocking the account (`held` or `unconfirmed`), oldest first. */
  blockingForAccount(accountId: AccountId): Promise<PrivilegedHoldRecord[]>;
  /** `held` holds whose deadline is at or before `now`, oldest first. */
  listOverdue(now: Date, limit: number): Promise<PrivilegedHoldRecord[]>;
  /** Holds by status (all when omitted), newest first. */
  list(query: { status?: PrivilegedHoldRecord['status']; limit: number }): Promise<PrivilegedHoldRecord[]>;
  update(hold: PrivilegedHoldRecord, expectedVersion: number): Promise<boolean>;
}

/**
 * The database. `transaction` runs `work` in one transaction: everything written through its
 * repositories commits together or not at all; a thrown error rolls back and is rethrown.
 */
export interface Store extends Repositories {
  readonly engine: 'sqlite' | 'postgres';
  /** Read-only aggregate queries for usage reports; outside transactions by design (see ReportQueryRepository). */
  readonly reports: ReportQueryRepository;
  /** The detector runner's cursor, detector state and findings not yet handed on; its own transactions. */
  readonly monitorState: MonitorStateRepository;
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
