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
  'recovery.risk_refused': 'A start came from a deny-listed address or one a detector flags; the flow continued as a decoy.',
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
  'audit.checkpointed': 'The chain head was signed with the instance’s Ed25519 key (a checkpoint an auditor can verify).',
  'audit.purged': 'Events older than the retention period, already delivered to every export sink, were deleted up to a signed checkpoint.',
  'audit_export.stalled': 'An audit export sink stopped acknowledging events; it is retried with backoff.',
  'audit_export.resumed': 'A stalled audit export sink acknowledged events again.',
  'audit_export.failed': 'An audit export sink refused a batch as malformed; the sink is stopped until an operator resets it.',
  'session.ended': 'A self-service session ended: the person signed out, or a recovery of the account closed it.',
  'directory.unavailable': 'A request needed the directory (LDAP or Active Directory) and could not reach it in time; the person was asked to try again shortly.',
  'alert.raised': 'A detector finding opened a new alert (or a recurrence of a resolved one).',
  'alert.escalated': 'A repeat of an active alert raised its severity.',
  'alert.acknowledged': 'An admin acknowledged an alert, with a reason.',
  'alert.resolved': 'An admin resolved an alert, with a reason.',
  'alert.suppressed': 'An alert notification was held back by the global cap; a summary follows.',
  'alert.delivered': 'An alert notification reached a webhook or syslog target.',
  'alert.delivery_failed': 'Delivering an alert notification to a target failed (retried or abandoned).',
  'admin.alerts_queried': 'An admin read alerts through the API.',
  'admin.report_queried': 'An admin read a usage report through the API.',
  'admin.signed_in': 'A directory account signed in to the admin console with password and second factor.',
  'admin.sign_in_failed': 'A sign-in to the admin console failed (password, role or second factor).',
  'admin.signed_out': 'An admin-console session ended: the admin signed out, or it expired or lost its roles.',
  'admin.access_denied': 'An admin request was refused because the session or token lacks the permission it needs.',
  'report.generated': 'A usage report was generated from the command line.',
  'sim_swap.detected': 'The mobile operator reported a recent SIM swap for a registered phone; no code was sent to it and it did not count as a gate.',
  'sim_swap.check_unavailable': 'A SIM swap check could not be answered; the policy decided whether the phone was used.',
  'travel.declared': 'A person declared a trip: the countries recovery is expected from, and the dates.',
  'travel.cancelled': 'A person cancelled a declared trip.',
  'recovery.stepped_up': 'A recovery started from outside the countries of a declared trip; it needs one more gate.',
  'breakglass.sealed': 'A break-glass account got a new random password, split into custodians’ shares; Latchkey kept no copy.',
  'breakglass.opened': 'Custodians’ shares rebuilt a break-glass password for an emergency; it was shown once.',
  'breakglass.open_refused': 'An emergency opening or drill of a break-glass account was refused (too few, mistyped or foreign shares).',
  'breakglass.share_received': 'A custodian’s share arrived for a console opening of a break-glass account.',
  'breakglass.resealed': 'A break-glass account was sealed again after an emergency or a drill (new password, new shares).',
  'breakglass.shares_released': 'Shares a worker made when it re-sealed were handed out to the custodians, once.',
  'breakglass.drilled': 'A drill rebuilt a break-glass password from shares without showing it and proved it against the directory; signed evidence was recorded.',
  'breakglass.watch_mismatch': 'A break-glass account in the directory no longer matches its seal (password changed outside Latchkey, disabled, groups changed, gone).',
  'admin.policy_queried': 'An admin read account-level policy results through the API: findings about registered methods, or a what-if simulation.',
  'policy.published': 'A new policy version was validated, simulated and stored; every instance applies it within seconds (version 1 is seeded from the policy file).',
  'recovery.enrollment_skipped': 'A registered method did not serve as a gate (cooling-off after a change, re-confirmation lapsed, …); the flow went on as if it had none.',
  'method_change.disputed': 'Someone followed the “this wasn’t me” link of a method change: it and every later change of the account were reverted.',
  'enrollment.restored': 'A removed method was put back because its removal was disputed.',
  'enrollment.reconfirmed': 'A person re-confirmed a registered method with a fresh code (or failed to).',
  'account.self_service_frozen': 'Self-service (recovery and sign-in) was frozen for an account after a disputed method change.',
  'account.self_service_unfrozen': 'An admin lifted the self-service freeze of an account.',
  'helpdesk.account_viewed': 'A helpdesk agent looked up a person: methods, recent self-service attempts and any live pass (never secrets).',
  'helpdesk.verification_started': 'A helpdesk agent began verifying a person (a code to a registered method, a manager approval link, or a recorded out-of-band check).',
  'helpdesk.verified': 'A helpdesk verification succeeded: the code was right, the manager approved, or the agent recorded an out-of-band check.',
  'helpdesk.verification_failed': 'A helpdesk verification step failed (wrong code, expired or used link).',
  'helpdesk.issue_refused': 'A pass issuance was refused: privileged account without a security admin, the agent’s own account, break-glass, or no valid verification.',
  'tap.issued': 'A Temporary Access Pass was issued (by the helpdesk or in bulk for a new hire).',
  'tap.used': 'A Temporary Access Pass was used: to sign in to the portal or as a recovery gate.',
  'tap.revoked': 'A Temporary Access Pass was revoked (a new pass replaced it, or an operator revoked it).',
  'tap.expired': 'A live Temporary Access Pass reached the end of its lifetime unused (or not used up).',
  'dayone.batch_issued': 'A day-one batch of passes for new hires was issued (the CSV file or the console).',
  'registration.required': 'A person signed in with a pass tried something other than registering methods before registering the policy minimum.',
  'privileged.recovery_held': 'A privileged reset or unlock completed and the account is held (no further self-service) until a second admin confirms it.',
  'privileged.recovery_confirmed': 'A second admin confirmed a held privileged recovery; the hold ended.',
  'privileged.recovery_unconfirmed': 'Nobody confirmed a held privileged recovery before its deadline; the account stays held and the alert is escalated.',
  'honeytoken.touched': 'A recovery start, sign-in or admin lookup named a honeytoken (decoy) account; the caller got the same reply as for any account.',
} as const;

/**
 * Events about alerts themselves. Detectors skip them, so an alert (or its delivery failing) can
 * never feed the detectors that raised it and loop.
 */
export const isAlertEvent = (type: AuditEventType): boolean => type.startsWith('alert.') || type === 'admin.alerts_queried';

export type AuditEventType = keyof typeof AUDIT_EVENT_TYPES;
export type AuditOutcome = 'success' | 'failure' | 'info';
/** `admin`: a directory account signed in to the admin console (id: the account id). */
export type ActorKind = 'person' | 'anonymous' | 'admin' | 'admin_token' | 'cli' | 'system';

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
