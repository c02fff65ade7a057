import { randomBytes } from 'node:crypto';
import type { LockState } from '../../../core/account/account.ts';
import type { DirectoryProfile, LdapChange, LdapEntry, LdapRefusal, PasswordWrite } from './profile.ts';
import {
  UAC_ACCOUNT_DISABLE,
  UAC_LOCKOUT,
  bindSubCode,
  dateFromFileTime,
  escapeFilterBytes,
  flagsOf,
  guidFromBytes,
  guidToBytes,
  unicodePwdValue,
  win32ErrorOf,
} from './active-directory-attributes.ts';

/** LDAP_MATCHING_RULE_IN_CHAIN: AD walks nested group membership on the server. */
export const MATCHING_RULE_IN_CHAIN = '1.2.840.113556.1.4.1941';

/**
 * Groups that administer a domain (or can make themselves its administrators). An account in any of
 * them, directly or through nested groups, is privileged whatever the policy's group lists say.
 */
export const DEFAULT_AD_PRIVILEGED_GROUPS = [
  'Domain Admins',
  'Enterprise Admins',
  'Schema Admins',
  'Administrators',
  'Account Operators',
  'Backup Operators',
  'Server Operators',
  'Print Operators',
] as const;

const LDAP_CONSTRAINT_VIOLATION = 19;
const LDAP_UNWILLING_TO_PERFORM = 53;

/** ERROR_PASSWORD_RESTRICTION: the domain's length, complexity, history or age rules refused it. */
const WIN32_PASSWORD_RESTRICTION = '52d';
/** ERROR_ACCOUNT_LOCKED_OUT, as AD reports a password change on a locked account. */
const WIN32_ACCOUNT_LOCKED_OUT = '775';

/**
 * What the person reads for each of the domain's password rules. SECURITY: AD's diagnostic text
 * (with source paths, DNs and Win32 codes) never reaches a response (ENUM-7); it is only matched.
 */
const RESTRICTION_REASONS: readonly (readonly [RegExp, string])[] = [
  [/history|already used/i, 'The directory does not allow reusing a recent password. Choose one you have not used before.'],
  [/too short|longer than/i, 'The directory requires a longer password.'],
  [/complexity/i, 'The directory requires a password with characters from at least three of: capital letters, small letters, digits and symbols, and without your account name.'],
  [/too young|minimum password age/i, 'The directory does not allow changing this password again so soon. Try again later.'],
];
const GENERIC_REASON = 'The directory’s password policy refused this password. Choose another.';
/** Only seen when the account locks between the two steps of a history-enforcing reset. */
const LOCKED_REASON = 'The directory locked this account while the password was being set. Try again.';

/**
 * AD bind sub-codes (the `data NNN` of an invalidCredentials refusal) and what they say about the
 * account. 532 (password expired) and 773 (must change at next sign-in) refuse the sign-in just as
 * Windows would: the person resets instead. 701 is an expired account, as good as disabled.
 */
const BIND_VERDICTS: Readonly<Record<string, 'invalid' | 'locked' | 'disabled'>> = {
  '52e': 'invalid',
  '525': 'invalid',
  '530': 'invalid',
  '531': 'invalid',
  '532': 'invalid',
  '773': 'invalid',
  '775': 'locked',
  '533': 'disabled',
  '701': 'disabled',
};

export interface ActiveDirectoryProfileOptions {
  /**
   * An administrative replace of unicodePwd skips the domain's password history. When true, a
   * reset first sets a random temporary password and then changes it to the person's choice as a
   * password change, which the domain checks against its history like any change. It needs the
   * domain's minimum password age at 0 (else the change is "too young"); it clears a lockout with the
   * temporary password, since AD refuses a change on a locked account. A refused password leaves the
   * account on the temporary password: the old one no longer works, and the person chooses another
   * within the same grant.
   */
  readonly enforceHistoryOnReset: boolean;
}

/** A temporary password no person sees: 32 random bytes, with all four character classes AD counts. */
function temporaryPassword(): string {
  return `Tmp-${randomBytes(32).toString('base64url')}-a9Z`;
}

function isDisabled(entry: LdapEntry): boolean {
  return (flagsOf(entry.text('userAccountControl')[0]) & UAC_ACCOUNT_DISABLE) !== 0;
}

function keyFilterValue(key: string): string | null {
  const bytes = guidToBytes(key);
  // SECURITY: only a GUID can be a key and every byte is escaped, so a crafted id cannot widen the filter.
  return bytes === null ? null : escapeFilterBytes(bytes);
}

/**
 * Active Directory (and Samba AD): keyed by objectGUID; passwords written as unicodePwd, which AD
 * accepts only over an encrypted connection (the connector's configuration requires LDAPS or
 * StartTLS for this profile); lock state from msDS-User-Account-Control-Computed, which the DC
 * computes from lockoutTime and the domain's lockout duration, so an expired lockout reads as
 * unlocked without Latchkey knowing the duration.
 */
export function createActiveDirectoryProfile(options: ActiveDirectoryProfileOptions): DirectoryProfile {
  return {
    name: 'active_directory',
    defaults: {
      // objectCategory keeps computer accounts (objectClass user too) out.
      findFilter: '(&(objectCategory=person)(objectClass=user)(|(sAMAccountName={identifier})(userPrincipalName={identifier})(mail={identifier})))',
      accountFilter: '(&(objectCategory=person)(objectClass=user))',
      attributes: { username: 'sAMAccountName', displayName: 'displayName', email: 'mail', department: 'department', phone: 'telephoneNumber', memberOf: 'memberOf' },
      groupFilter: '(&(objectClass=group)(member={dn}))',
    },
    keyAttribute: 'objectGUID',
    binaryAttributes: ['objectGUID'],
    accountAttributes: ['objectGUID', 'userAccountControl', 'msDS-User-Account-Control-Computed', 'lockoutTime', 'badPwdCount', 'adminCount', 'pwdLastSet'],
    passwordWriteModes: ['modify'],
    nestedGroupFilter: `(member:${MATCHING_RULE_IN_CHAIN}:={dn})`,

    keyOf(entry: LdapEntry) {
      const bytes = entry.binary('objectGUID')[0];
      return bytes === undefined ? null : guidFromBytes(bytes);
    },

    keyFilterValue,

    passwordWrite(_dn: string, password: string): PasswordWrite {
      const replace = (value: string): LdapChange => ({ operation: 'replace', attribute: 'unicodePwd', values: [unicodePwdValue(value)] });
      if (!options.enforceHistoryOnReset) return { kind: 'modify', changes: [replace(password)] };
      const temporary = temporaryPassword();
      return {
        kind: 'modify_sequence',
        steps: [
          // AD refuses a password change on a locked account; Latchkey unlocks after every reset anyway.
          [replace(temporary), { operation: 'replace', attribute: 'lockoutTime', values: ['0'] }],
          [
            { operation: 'delete', attribute: 'unicodePwd', values: [unicodePwdValue(temporary)] },
            { operation: 'add', attribute: 'unicodePwd', values: [unicodePwdValue(password)] },
          ],
        ],
      };
    },

    mustChangeChanges(): readonly LdapChange[] {
      return [{ operation: 'replace', attribute: 'pwdLastSet', values: ['0'] }];
    },

    passwordRefusalReason(refusal: LdapRefusal): string | null {
      const win32 = win32ErrorOf(refusal.message);
      if (refusal.code === LDAP_CONSTRAINT_VIOLATION && win32 === WIN32_PASSWORD_RESTRICTION) {
        return RESTRICTION_REASONS.find(([pattern]) => pattern.test(refusal.message))?.[1] ?? GENERIC_REASON;
      }
      if (win32 === WIN32_ACCOUNT_LOCKED_OUT) return LOCKED_REASON;
      // Windows DCs answer a policy refusal as unwillingToPerform with the same 0000052D.
      if (refusal.code === LDAP_UNWILLING_TO_PERFORM && win32 === WIN32_PASSWORD_RESTRICTION) return GENERIC_REASON;
      return null;
    },

    passwordChangedAt(entry: LdapEntry): Date | null {
      // pwdLastSet 0 means "must change at next sign-in", not a time: dateFromFileTime gives null for it.
      return dateFromFileTime(entry.text('pwdLastSet')[0]);
    },

    lockState(entry: LdapEntry): LockState {
      const computed = flagsOf(entry.text('msDS-User-Account-Control-Computed')[0]);
      if ((computed & UAC_LOCKOUT) === 0) return { locked: false };
      return { locked: true, since: dateFromFileTime(entry.text('lockoutTime')[0]) ?? new Date(0) };
    },

    unlockChanges(entry: LdapEntry) {
      // SECURITY: a disabled account is left exactly as the domain's administrators left it, whatever
      // the caller checked, so a recovery flow can never be a way to touch it.
      if (isDisabled(entry)) return { changes: [], controlOids: [] };
      const lockedAt = dateFromFileTime(entry.text('lockoutTime')[0]);
      const badPasswords = flagsOf(entry.text('badPwdCount')[0]);
      // Writing lockoutTime=0 is AD's unlock, and it clears badPwdCount too.
      const changes: readonly LdapChange[] = lockedAt === null && badPasswords === 0 ? [] : [{ operation: 'replace', attribute: 'lockoutTime', values: ['0'] }];
      return { changes, controlOids: [] };
    },

    isDisabled,

    bindRefusalVerdict(refusal: LdapRefusal) {
      const subCode = bindSubCode(refusal.message);
      return subCode === null ? null : (BIND_VERDICTS[subCode] ?? null);
    },

    privilegedByEntry(entry: LdapEntry) {
      return entry.text('adminCount')[0]?.trim() === '1';
    },
  };
}
