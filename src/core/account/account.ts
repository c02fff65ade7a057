import type { AccountId, EnrollmentId } from './ids.ts';
import type { MethodId } from '../methods/method-ids.ts';

export const TIERS = ['standard', 'privileged', 'break_glass'] as const;
/** Which rule set governs an account's recovery; resolved from directory groups by policy. */
export type Tier = (typeof TIERS)[number];

/** An account as the directory reports it. Contact data here is the address of record. */
export interface DirectoryAccount {
  readonly id: AccountId;
  readonly username: string;
  readonly displayName: string;
  readonly workEmail: string | null;
  readonly department: string | null;
  /**
   * The phone number the directory holds for the person (LDAP/AD `telephoneNumber` unless
   * configured otherwise), in E.164; null when there is none or it does not parse as a phone number.
   * SECURITY: unverified directory data, shown masked to admins only. It is never a recovery
   * channel by itself: codes go only to phones a person enrolled and proved (sms_code).
   */
  readonly phone: string | null;
  readonly groups: readonly string[];
  readonly enabled: boolean;
  /**
   * True when the directory itself marks the account privileged (AD adminCount=1, or membership of
   * a group the connector is configured to treat as privileged), whatever the policy's group lists
   * say. It can only make the tier stricter (see resolveTier).
   */
  readonly directoryPrivileged: boolean;
}

export type LockState = { readonly locked: false } | { readonly locked: true; readonly since: Date };

export const ENROLLMENT_STATUSES = ['pending', 'active'] as const;
export type EnrollmentStatus = (typeof ENROLLMENT_STATUSES)[number];

/**
 * A recovery method a person registered. `secret` is the method's private data (an address, a
 * phone number, a TOTP seed, hashed answers) and is encrypted at rest by the store's caller;
 * `label` is what may be shown to the owner after sign-in (masked).
 */
export interface Enrollment {
  readonly id: EnrollmentId;
  readonly accountId: AccountId;
  readonly methodId: MethodId;
  readonly status: EnrollmentStatus;
  readonly label: string;
  readonly secret: Readonly<Record<string, unknown>>;
  readonly createdAt: Date;
  readonly verifiedAt: Date | null;
  readonly lastUsedAt: Date | null;
}
