import { BerWriter, Filter } from 'ldapts';
import type { LockState } from '../../../core/account/account.ts';
import type { DirectoryProfile, LdapChange, LdapRefusal, PasswordWrite, PasswordWriteMode } from './profile.ts';

/** RFC 3062 LDAP Password Modify extended operation. */
export const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';

/** Relax Rules control (draft-zeilenga-ldap-relax): lets a `manage` ACL delete pwdFailureTime. */
export const RELAX_RULES_OID = '1.3.6.1.4.1.4203.666.5.12';

const LDAP_CONSTRAINT_VIOLATION = 19;

/**
 * ppolicy's diagnostic messages (OpenLDAP 2.4–2.6, servers/slapd/overlays/ppolicy.c) and what the
 * person reads instead. SECURITY: the raw diagnostic never reaches a response (ENUM-7); anything
 * unrecognised falls back to a generic reason.
 */
const PPOLICY_REASONS: readonly (readonly [RegExp, string])[] = [
  [/in history/i, 'The directory does not allow reusing a recent password. Choose one you have not used before.'],
  [/too short/i, 'The directory requires a longer password.'],
  [/quality/i, 'The directory’s password rules refused this password (it may be too short or too simple). Choose a longer one.'],
  [/too young/i, 'The directory does not allow changing this password again so soon. Try again later.'],
  [/not being changed|same as/i, 'The new password must differ from the current one.'],
];
const GENERIC_REASON = 'The directory’s password policy refused this password. Choose another.';

/** `YYYYMMDDHHMMSS[.fff]Z` (RFC 4517 GeneralizedTime, as slapd writes it) → Date; null if unparseable. */
export function parseGeneralizedTime(value: string): Date | null {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?Z$/.exec(value.trim());
  if (!match) return null;
  const [, year, month, day, hour, minute, second, fraction] = match;
  const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), ms));
  return Number.isNaN(date.getTime()) ? null : date;
}

function passwordModifyValue(dn: string, password: string): Buffer {
  const writer = new BerWriter();
  writer.startSequence();
  writer.writeString(dn, 0x80); // [0] userIdentity
  writer.writeString(password, 0x82); // [2] newPasswd
  writer.endSequence();
  return writer.buffer;
}

/**
 * OpenLDAP with the ppolicy overlay (also fits 389 DS and FreeIPA-style schemas that expose
 * entryUUID and pwdAccountLockedTime). Keyed by entryUUID, which slapd assigns once and keeps
 * across renames and moves.
 */
export const openLdapProfile: DirectoryProfile = {
  name: 'openldap',
  defaults: {
    findFilter: '(&(objectClass=inetOrgPerson)(|(uid={identifier})(mail={identifier})))',
    accountFilter: '(objectClass=inetOrgPerson)',
    attributes: { username: 'uid', displayName: 'cn', email: 'mail', department: 'departmentNumber', phone: 'telephoneNumber', memberOf: 'memberOf' },
    groupFilter: '(&(objectClass=groupOfNames)(member={dn}))',
  },
  keyAttribute: 'entryUUID',
  binaryAttributes: [],
  // Operational attributes are only returned when asked for by name.
  accountAttributes: ['entryUUID', 'pwdAccountLockedTime', 'pwdFailureTime', 'pwdChangedTime'],
  passwordWriteModes: ['extended', 'modify'],
  nestedGroupFilter: null,

  keyOf(entry) {
    return entry.text('entryUUID')[0]?.toLowerCase() ?? null;
  },

  keyFilterValue(key) {
    // SECURITY: only a UUID can be a key, so nothing a caller passes can widen the filter.
    return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(key) ? Filter.escape(key.toLowerCase()) : null;
  },

  passwordWrite(dn: string, password: string, mode: PasswordWriteMode): PasswordWrite {
    if (mode === 'extended') return { kind: 'extended', oid: PASSWORD_MODIFY_OID, value: passwordModifyValue(dn, password) };
    return { kind: 'modify', changes: [{ operation: 'replace', attribute: 'userPassword', values: [password] }] };
  },

  mustChangeChanges(): readonly LdapChange[] {
    return [{ operation: 'replace', attribute: 'pwdReset', values: ['TRUE'] }];
  },

  passwordRefusalReason(refusal: LdapRefusal): string | null {
    if (refusal.code !== LDAP_CONSTRAINT_VIOLATION) return null;
    return PPOLICY_REASONS.find(([pattern]) => pattern.test(refusal.message))?.[1] ?? GENERIC_REASON;
  },

  passwordChangedAt(entry) {
    // ppolicy sets pwdChangedTime on every password write, admin or self (whole seconds).
    const changed = entry.text('pwdChangedTime')[0];
    return changed === undefined ? null : parseGeneralizedTime(changed);
  },

  lockState(entry): LockState {
    const lockedAt = entry.text('pwdAccountLockedTime')[0];
    if (lockedAt === undefined) return { locked: false };
    // `000001010000Z` is ppolicy's "locked by an administrator, without expiry".
    return { locked: true, since: parseGeneralizedTime(lockedAt) ?? new Date(0) };
  },

  unlockChanges(entry) {
    const changes: LdapChange[] = [];
    if (entry.text('pwdAccountLockedTime').length > 0) changes.push({ operation: 'delete', attribute: 'pwdAccountLockedTime', values: [] });
    // The failure times must go too: with them left, the next single wrong password locks again.
    if (entry.text('pwdFailureTime').length > 0) changes.push({ operation: 'delete', attribute: 'pwdFailureTime', values: [] });
    return { changes, controlOids: changes.some((change) => change.attribute === 'pwdFailureTime') ? [RELAX_RULES_OID] : [] };
  },

  isDisabled() {
    return false;
  },

  bindRefusalVerdict() {
    // slapd answers 49 for a locked account and a wrong password alike; the entry tells them apart.
    return null;
  },

  privilegedByEntry() {
    return false;
  },
};
