import type { AccountId, ChallengeId, EnrollmentId, FlowId, SessionId } from '../../core/account/ids.ts';
import type { EnrollmentStatus, Tier } from '../../core/account/account.ts';
import type { MethodId } from '../../core/methods/method-ids.ts';
import type { ActorKind, AuditEventType, AuditOutcome } from '../../core/audit/events.ts';
import type { MessageChannelKind, MessagePurpose } from '../../core/ports/message-channel.ts';
import type { FlowKind, OutboxStatus, SingleUsePurpose } from '../../core/ports/store.ts';
import type { AuditExportStatus } from '../../core/ports/store.ts';
import type { AdminSessionStage } from '../../core/ports/store.ts';
import type { AlertDeliveryStatus, AlertNotificationRecord } from '../../core/ports/store.ts';
import type { AlertStatus } from '../../core/monitoring/alerts/alert.ts';
import type { AlertSeverity } from '../../core/monitoring/finding.ts';
import type { PolicyVersionSource } from '../../core/policy/versions.ts';
import type { AccessPassKind, HelpdeskVerificationMethod, HelpdeskVerificationStatus } from '../../core/ports/store.ts';

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

export interface TravelWindowsTable {
  id: string;
  account_id: string;
  /** JSON array of ISO 3166-1 alpha-2 codes. */
  countries: string;
  from_date: string;
  to_date: string;
  starts_at: number;
  ends_at: number;
  created_at: number;
  cancelled_at: number | null;
}

export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  at: number;
  instance: string;
  key_id: string;
  /** Ed25519, base64url. */
  signature: string;
  /** The `audit.checkpointed` event that carries this checkpoint in the chain. */
  event_seq: number;
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

export interface AdminSessionsTable {
  id: string;
  token_hash: string;
  account_id: AccountId;
  username: string;
  stage: AdminSessionStage;
  /** JSON array of AdminRole. */
  roles: string;
  failed_attempts: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  roles_checked_at: number;
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

/** One row per audit export sink (see AuditExportRepository). */
export interface AuditExportCursorsTable {
  sink: string;
  delivered_seq: number;
  status: AuditExportStatus;
  last_error: string | null;
  lease_owner: string | null;
  lease_until: number | null;
  updated_at: number;
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
  audit_checkpoints: AuditCheckpointsTable;
  travel_windows: TravelWindowsTable;
  outbox: OutboxTable;
  admin_tokens: AdminTokensTable;
  admin_sessions: AdminSessionsTable;
  builtin_accounts: BuiltinAccountsTable;
  break_glass_seals: BreakGlassSealsTable;
  break_glass_drills: BreakGlassDrillsTable;
  break_glass_openings: BreakGlassOpeningsTable;
  audit_export_cursors: AuditExportCursorsTable;
  alerts: AlertsTable;
  alert_notifications: AlertNotificationsTable;
  alert_deliveries: AlertDeliveriesTable;
  alert_throttle: AlertThrottleTable;
  monitor_cursor: MonitorCursorTable;
  monitor_state: MonitorStateTable;
  monitor_pending_findings: MonitorPendingFindingsTable;
  method_changes: MethodChangesTable;
  self_service_freezes: SelfServiceFreezesTable;
  temporary_access_passes: TemporaryAccessPassesTable;
  helpdesk_verifications: HelpdeskVerificationsTable;
  privileged_holds: PrivilegedHoldsTable;
  policy_versions: PolicyVersionsTable;
}

/** One published policy version; rows are never updated. */
export interface PolicyVersionsTable {
  version: number;
  text: string;
  hash: string;
  created_at: number;
  actor_kind: ActorKind;
  actor_id: string | null;
  reason: string;
  source: PolicyVersionSource;
  diff: string;
  lines_added: number;
  lines_removed: number;
}

export interface PrivilegedHoldsTable {
  id: string;
  account_id: string;
  flow_id: string;
  purpose: string;
  status: string;
  created_at: number;
  deadline_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
  version: number;
}

export interface MethodChangesTable {
  id: string;
  account_id: AccountId;
  created_at: number;
  added_enrollment_id: EnrollmentId | null;
  added_method_id: MethodId | null;
  cools_off: number;
  /** JSON: RemovedEnrollmentSnapshot[] with times as epoch milliseconds. */
  removed: string;
  after_recovery: number;
  token_hash: string;
  token_expires_at: number;
  disputed_at: number | null;
  reverted_at: number | null;
}

export interface SelfServiceFreezesTable {
  account_id: AccountId;
  frozen_at: number;
  change_id: string | null;
}

export interface AlertsTable {
  id: string;
  dedupe_key: string;
  /** The dedupe key while open or acknowledged, null once resolved (unique: one active alert per key). */
  active_key: string | null;
  detector_id: string;
  severity: AlertSeverity;
  status: AlertStatus;
  summary: string;
  subject: AccountId | null;
  ip: string | null;
  department: string | null;
  /** JSON object of scalars. */
  observed: string;
  baseline: string | null;
  /** JSON array of audit event ids. */
  event_ids: string;
  occurrences: number;
  first_seen_at: number;
  last_seen_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  acknowledged_reason: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolved_reason: string | null;
  recurrence_of: string | null;
  last_notified_at: number | null;
  notified_severity: AlertSeverity | null;
  version: number;
}

export interface AlertNotificationsTable {
  id: string;
  alert_id: string | null;
  kind: AlertNotificationRecord['kind'];
  status: AlertNotificationRecord['status'];
  severity: AlertSeverity | null;
  created_at: number;
}

/** Exactly one row (id 1), updated by every raise to hold the global notification cap's lock. */
export interface AlertThrottleTable {
  id: number;
  version: number;
}

export interface AlertDeliveriesTable {
  id: string;
  notification_id: string;
  alert_id: string | null;
  target: string;
  payload: string;
  status: AlertDeliveryStatus;
  attempts: number;
  created_at: number;
  available_at: number;
  lease_until: number | null;
  delivered_at: number | null;
  last_error: string | null;
}

/** Exactly one row (id 1): the detector runner's position in the audit log and its commit version. */
export interface MonitorCursorTable {
  id: number;
  version: number;
  cursor: number;
  updated_at: number;
}

/** One row per detector (and one for the runner's risk flags): its state as JSON text. */
export interface MonitorStateTable {
  name: string;
  state: string;
  updated_at: number;
}

/** One row per seal of a break-glass account (see BreakGlassRepository): custody facts, never the password or a share. */
export interface BreakGlassSealsTable {
  id: string;
  account_id: string;
  /** The account id while the seal is in force (sealed or opened), null once retired: unique, so one live seal per account. */
  live_account: string | null;
  username: string;
  /** JSON array of custodian names; share n belongs to the n-th. */
  custodians: string;
  threshold: number;
  status: 'sealed' | 'opened' | 'retired';
  /** HMAC of the sealed password. */
  password_mac: string;
  /** JSON array of the account's groups at seal time. */
  groups: string;
  directory_password_changed_at: number | null;
  sealed_at: number;
  sealed_by: string;
  replaces: string | null;
  opened_at: number | null;
  reseal_due_at: number | null;
  last_drill_at: number | null;
  /** SecretCipher output of shares a worker made and no custodian has collected yet; null otherwise. */
  pending_shares: string | null;
  /** Space-separated watch mismatch kinds last seen (so each is raised once per appearance). */
  watch_state: string;
  version: number;
}

/** One row per drill: the signed evidence record. */
export interface BreakGlassDrillsTable {
  id: string;
  seal_id: string;
  account_id: string;
  at: number;
  result: 'passed' | 'failed';
  /** The canonical JSON text the signature covers. */
  record: string;
  key_id: string;
  signature: string;
}

/** A console opening collecting shares one request at a time; the shares are encrypted and wiped when it ends. */
export interface BreakGlassOpeningsTable {
  id: string;
  seal_id: string;
  account_id: string;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  status: 'collecting' | 'completed' | 'expired';
  /** SecretCipher output of the JSON list of shares received; null once the opening ended. */
  shares_ciphertext: string | null;
  /** Space-separated `share-number:submitter` pairs, for refusing repeats without decrypting. */
  submitted: string;
  version: number;
}

export interface MonitorPendingFindingsTable {
  id: string;
  seq: number;
  /** The Finding as JSON text. */
  finding: string;
  created_at: number;
  lease_until: number | null;
}

export interface TemporaryAccessPassesTable {
  id: string;
  account_id: AccountId;
  /** The account id while the pass is live (not revoked, not used up), else null; unique. */
  live_account_id: AccountId | null;
  enrollment_id: EnrollmentId;
  key_hash: string;
  kind: AccessPassKind;
  valid_from: number;
  expires_at: number;
  max_uses: number;
  uses: number;
  issued_at: number;
  issued_by_kind: string;
  issued_by: string;
  revoked_at: number | null;
  revoke_reason: string | null;
  last_used_at: number | null;
  session_id: SessionId | null;
}

export interface HelpdeskVerificationsTable {
  id: string;
  account_id: AccountId;
  agent_kind: string;
  agent_id: string;
  method: HelpdeskVerificationMethod;
  enrollment_id: EnrollmentId | null;
  approval_token_hash: string | null;
  approver_hint: string | null;
  reason: string | null;
  ticket: string | null;
  status: HelpdeskVerificationStatus;
  created_at: number;
  expires_at: number;
  verified_at: number | null;
  used_at: number | null;
}
