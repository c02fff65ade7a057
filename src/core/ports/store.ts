import type { AccountId, ChallengeId, EnrollmentId, FlowId, SessionId } from '../account/ids.ts';
import type { EnrollmentStatus } from '../account/account.ts';
import type { MethodId } from '../methods/method-ids.ts';
import type { AuditEventInput, AuditEventType, AuditOutcome, AuditRecord } from '../audit/events.ts';
import type { MessageChannelKind, MessagePurpose } from './message-channel.ts';

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

export type SingleUsePurpose = 'recovery_code' | 'totp_step';

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
  head(): Promise<{ seq: number; hash: string }>;
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

export const ADMIN_SCOPES = ['accounts:read', 'audit:read', 'outbox:read'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

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
}

/**
 * The database. `transaction` runs `work` in one transaction: everything written through its
 * repositories commits together or not at all; a thrown error rolls back and is rethrown.
 */
export interface Store extends Repositories {
  readonly engine: 'sqlite' | 'postgres';
  transaction<T>(work: (tx: Repositories) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
