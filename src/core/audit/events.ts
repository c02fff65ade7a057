import type { AccountId, FlowId } from '../account/ids.ts';
import type { Tier } from '../account/account.ts';

/**
 * The audit event catalog: every security-relevant fact Latchkey records. Names are
 * `aggregate.past_tense` and never change. docs/audit-events.md documents each one; a test keeps
 * the two in sync.
 */
export const AUDIT_EVENT_TYPES = {
  'recovery.started': 'A reset or unlock flow began for an identifier (known or not).',
  'recovery.method_chosen': 'The person chose a method for the next gate.',
  'recovery.refused': 'The account’s tier allows no self-service; the flow continued as a decoy.',
  'recovery.gates_satisfied': 'Every gate the tier requires was passed; a short-lived grant was issued.',
  'grant.claimed': 'A request claimed the grant to write the new password or clear the lock; the directory write follows.',
  'recovery.completed': 'The flow reached its goal (password reset or account unlocked).',
  'recovery.interrupted': 'A flow was found stuck after claiming its grant (the process stopped mid-write); it was closed and must be verified.',
  'recovery.expired': 'A flow was used after its time limit.',
  'recovery.superseded': 'An open flow was closed because another flow of the account completed.',
  'recovery.rate_limited': 'A request was refused by a rate limit (per IP, account or flow).',
  'challenge.issued': 'A challenge was started for a method (a code sent, or a code asked for).',
  'challenge.passed': 'A challenge was answered correctly and counted as a gate.',
  'challenge.failed': 'A challenge answer was wrong, expired or already used.',
  'challenge.exhausted': 'A challenge reached its attempt cap and can no longer be answered.',
  'password.rejected': 'A new password was refused by the password policy or the directory.',
  'password.reset': 'A new password was written to the directory.',
  'account.unlocked': 'An account’s lock was cleared.',
  'account.locked': 'An account was locked after repeated failed sign-ins.',
  'account.created': 'An account was created in the built-in directory.',
  'sign_in.succeeded': 'A person signed in to manage their recovery methods.',
  'sign_in.failed': 'A sign-in to manage recovery methods failed.',
  'enrollment.started': 'A person began registering a recovery method.',
  'enrollment.activated': 'A registered method was verified and now counts.',
  'enrollment.removed': 'A registered method was removed.',
  'enrollment.verification_failed': 'A wrong verification code was entered while registering a method.',
  'message.queued': 'A message (code or notification) was put in the outbox.',
  'message.delivered': 'The outbox worker delivered a message.',
  'message.failed': 'The outbox worker gave up delivering a message, or an attempt failed.',
  'admin_token.created': 'An admin API token was created.',
  'admin_token.revoked': 'An admin API token was revoked.',
  'admin.audit_queried': 'An admin read the audit log through the API.',
  'admin.accounts_queried': 'An admin read accounts or enrollments through the API.',
  'admin.outbox_queried': 'An admin read the dev outbox.',
  'audit.exported': 'The audit log was exported.',
  'session.ended': 'A self-service session ended: the person signed out, or a recovery of the account closed it.',
} as const;

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;
export type AuditOutcome = 'success' | 'failure' | 'info';
export type ActorKind = 'person' | 'anonymous' | 'admin_token' | 'cli' | 'system';

/** Scalar-only details: no nested objects, so nothing secret hides in a blob. */
export type AuditData = Readonly<Record<string, string | number | boolean | null>>;

export interface AuditEventInput {
  readonly type: AuditEventType;
  readonly at: Date;
  readonly actor: { readonly kind: ActorKind; readonly id: string | null };
  /** The account the event is about; null for a decoy subject or a system event. */
  readonly subject: AccountId | null;
  readonly outcome: AuditOutcome;
  readonly reason: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly department: string | null;
  readonly tier: Tier | null;
  readonly flowId: FlowId | null;
  readonly data: AuditData;
}

/** An event as stored: position in the hash chain included. */
export interface AuditRecord extends AuditEventInput {
  readonly seq: number;
  readonly id: string;
  readonly prevHash: string;
  readonly hash: string;
}
