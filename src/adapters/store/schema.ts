import type { AccountId, ChallengeId, EnrollmentId, FlowId, SessionId } from '../../core/account/ids.ts';
import type { EnrollmentStatus, Tier } from '../../core/account/account.ts';
import type { MethodId } from '../../core/methods/method-ids.ts';
import type { ActorKind, AuditEventType, AuditOutcome } from '../../core/audit/events.ts';
import type { MessageChannelKind, MessagePurpose } from '../../core/ports/message-channel.ts';
import type { FlowKind, OutboxStatus, SingleUsePurpose } from '../../core/ports/store.ts';

/*
 * Row types as both engines return them. Times are epoch milliseconds (bigint on PostgreSQL, parsed
 * to number by the pool), booleans are 0/1 integers and structured values are JSON text, so one
 * set of queries and one set of migrations serves SQLite and PostgreSQL alike. Columns carry the
 * domain's branded and union types so that rows map to records without casts.
 */

/** 0 or 1: SQLite has no boolean type, and keeping PostgreSQL the same keeps the queries shared. */
export type IntBool = 0 | 1;

export interface FlowsTable {
  id: FlowId;
  kind: FlowKind;
  account_id: AccountId | null;
  secret_hash: string;
  state: string;
  state_name: string;
  terminal: IntBool;
  version: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

export interface ChallengesTable {
  id: ChallengeId;
  /** null for the verification of a new enrollment, which belongs to no flow. */
  flow_id: FlowId | null;
  account_id: AccountId | null;
  method_id: MethodId;
  enrollment_id: EnrollmentId | null;
  secret_hash: string | null;
  attempts: number;
  max_attempts: number;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface SingleUseTable {
  enrollment_id: EnrollmentId;
  key_hash: string;
  purpose: SingleUsePurpose;
  account_id: AccountId;
  created_at: number;
  consumed_at: number | null;
}

export interface EnrollmentsTable {
  id: EnrollmentId;
  account_id: AccountId;
  method_id: MethodId;
  status: EnrollmentStatus;
  label: string;
  secret_ciphertext: string;
  channel_fingerprint: string | null;
  created_at: number;
  verified_at: number | null;
  last_used_at: number | null;
}

export interface SessionsTable {
  id: SessionId;
  account_id: AccountId;
  token_hash: string;
  created_at: number;
  expires_at: number;
  authenticated_at: number;
}

export interface AuditEventsTable {
  seq: number;
  id: string;
  at: number;
  type: AuditEventType;
  actor_kind: ActorKind;
  actor_id: string | null;
  subject: AccountId | null;
  outcome: AuditOutcome;
  reason: string | null;
  ip: string | null;
  user_agent: string | null;
  department: string | null;
  tier: Tier | null;
  flow_id: FlowId | null;
  /** JSON object of scalars (AuditData). */
  data: string;
  prev_hash: string;
  hash: string;
}

/** Exactly one row (id 1): the last appended record, which every append locks and advances. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

export interface OutboxTable {
  id: string;
  channel: MessageChannelKind;
  purpose: MessagePurpose;
  account_id: AccountId | null;
  payload_ciphertext: string | null;
  recipient_hint: string;
  status: OutboxStatus;
  attempts: number;
  created_at: number;
  available_at: number;
  lease_until: number | null;
  delivered_at: number | null;
  last_error: string | null;
  delivered_via: string | null;
}

export interface AdminTokensTable {
  id: string;
  name: string;
  token_hash: string;
  /** JSON array of AdminScope. */
  scopes: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface BuiltinAccountsTable {
  id: AccountId;
  username: string;
  display_name: string;
  work_email: string | null;
  department: string | null;
  /** JSON array of group names. */
  groups: string;
  enabled: IntBool;
  password_hash: string;
  failed_sign_ins: number;
  locked_at: number | null;
  created_at: number;
  password_changed_at: number;
}

/** The Kysely database type: every table Latchkey owns, by name. */
export interface Database {
  flows: FlowsTable;
  challenges: ChallengesTable;
  single_use: SingleUseTable;
  enrollments: EnrollmentsTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  outbox: OutboxTable;
  admin_tokens: AdminTokensTable;
  builtin_accounts: BuiltinAccountsTable;
}
