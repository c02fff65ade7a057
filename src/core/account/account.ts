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
  readonly groups: readonly string[];
  readonly enabled: boolean;
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
