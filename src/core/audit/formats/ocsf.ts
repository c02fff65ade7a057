import { AUDIT_EVENT_TYPES, type AuditEventType, type AuditRecord } from '../events.ts';
import { exportSeverity } from './severity.ts';

/*
 * Open Cybersecurity Schema Framework (OCSF 1.1.0) bodies. Account and password events are Account
 * Change (3001), sign-in, sign-out and challenge events Authentication (3002), in the Identity &
 * Access Management category (3); every other event is a Base Event (0) so that nothing is dropped.
 * `user` carries the account id only: no names or contact data beyond what the event already holds.
 * Whatever OCSF has no attribute for goes in `unmapped`.
 */

export const OCSF_SCHEMA_VERSION = '1.1.0';

interface OcsfClass {
  readonly classUid: 0 | 3001 | 3002;
  readonly className: string;
  readonly categoryUid: 0 | 3;
  readonly categoryName: string;
}

const BASE: OcsfClass = { classUid: 0, className: 'Base Event', categoryUid: 0, categoryName: 'Uncategorized' };
const ACCOUNT_CHANGE: OcsfClass = { classUid: 3001, className: 'Account Change', categoryUid: 3, categoryName: 'Identity & Access Management' };
const AUTHENTICATION: OcsfClass = { classUid: 3002, className: 'Authentication', categoryUid: 3, categoryName: 'Identity & Access Management' };

/** OCSF activity ids of the classes used, with their names. */
const ACTIVITIES = {
  create: [1, 'Create'],
  passwordReset: [4, 'Password Reset'],
  lock: [9, 'Lock'],
  mfaEnable: [10, 'MFA Factor Enable'],
  mfaDisable: [11, 'MFA Factor Disable'],
  unlock: [12, 'Unlock'],
  logon: [1, 'Logon'],
  logoff: [2, 'Logoff'],
  other: [99, 'Other'],
} as const satisfies Record<string, readonly [number, string]>;

const MAPPING: Partial<Record<AuditEventType, { readonly cls: OcsfClass; readonly activity: readonly [number, string] }>> = {
  'account.created': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.create },
  'password.reset': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.passwordReset },
  'password.rejected': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.passwordReset },
  'account.locked': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.lock },
  'account.unlocked': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.unlock },
  'enrollment.activated': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.mfaEnable },
  'enrollment.removed': { cls: ACCOUNT_CHANGE, activity: ACTIVITIES.mfaDisable },
  'sign_in.succeeded': { cls: AUTHENTICATION, activity: ACTIVITIES.logon },
  'sign_in.failed': { cls: AUTHENTICATION, activity: ACTIVITIES.logon },
  'session.ended': { cls: AUTHENTICATION, activity: ACTIVITIES.logoff },
  'challenge.issued': { cls: AUTHENTICATION, activity: ACTIVITIES.other },
  'challenge.passed': { cls: AUTHENTICATION, activity: ACTIVITIES.other },
  'challenge.failed': { cls: AUTHENTICATION, activity: ACTIVITIES.other },
  'challenge.exhausted': { cls: AUTHENTICATION, activity: ACTIVITIES.other },
};

const SEVERITY_NAMES = { 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High' } as const;

/** The OCSF class an event type maps to (Base Event when none does). */
export const ocsfClassOf = (type: AuditEventType): number => (MAPPING[type]?.cls ?? BASE).classUid;

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** Drops null members, so absent facts are absent rather than explicit nulls. */
function compact(object: Record<string, Json | undefined>): Record<string, Json> {
  return Object.fromEntries(Object.entries(object).filter((entry): entry is [string, Json] => entry[1] !== null && entry[1] !== undefined));
}

/** One audit record as an OCSF event object. */
export function toOcsf(record: AuditRecord, productVersion: string): Record<string, Json> {
  const mapped = MAPPING[record.type];
  const cls = mapped?.cls ?? BASE;
  const [activityId, activityName] = mapped?.activity ?? ACTIVITIES.other;
  const severityId = exportSeverity(record);
  const statusId = record.outcome === 'success' ? 1 : record.outcome === 'failure' ? 2 : 0;
  return compact({
    activity_id: activityId,
    activity_name: mapped ? activityName : record.type,
    category_uid: cls.categoryUid,
    category_name: cls.categoryName,
    class_uid: cls.classUid,
    class_name: cls.className,
    type_uid: cls.classUid * 100 + activityId,
    type_name: `${cls.className}: ${mapped ? activityName : 'Other'}`,
    severity_id: severityId,
    severity: SEVERITY_NAMES[severityId],
    status_id: statusId,
    status: statusId === 1 ? 'Success' : statusId === 2 ? 'Failure' : 'Unknown',
    status_detail: record.reason,
    time: record.at.getTime(),
    message: AUDIT_EVENT_TYPES[record.type],
    actor: record.actor.id === null ? null : { user: { uid: record.actor.id } },
    user: record.subject === null ? null : { uid: record.subject },
    src_endpoint: record.ip === null ? null : { ip: record.ip },
    http_request: record.userAgent === null ? null : { user_agent: record.userAgent },
    metadata: {
      version: OCSF_SCHEMA_VERSION,
      product: { name: 'Latchkey', vendor_name: 'Latchkey', version: productVersion },
      uid: record.id,
      sequence: record.seq,
      event_code: record.type,
      log_name: 'audit',
    },
    unmapped: compact({
      type: record.type,
      actor_kind: record.actor.kind,
      department: record.department,
      tier: record.tier,
      flow_id: record.flowId,
      data: Object.keys(record.data).length > 0 ? { ...record.data } : null,
      prev_hash: record.prevHash,
      hash: record.hash,
    }),
  });
}
