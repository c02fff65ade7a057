import type { LockState } from '../../../core/account/account.ts';
import type { PasswordVerification } from '../../../core/ports/directory.ts';

/*
 * The dialect seam of the LDAP connector. ldap-directory.ts speaks plain LDAP (search, bind,
 * modify, extended operations, paging, pooling, timeouts); everything that differs between
 * OpenLDAP with ppolicy, 389 DS and Active Directory is answered by a DirectoryProfile. A profile
 * is pure: it reads entries and builds requests, it never opens a connection.
 */

/** One directory entry as the connector read it. Attribute names compare case-insensitively. */
export interface LdapEntry {
  readonly dn: string;
  /** The attribute's values as UTF-8 text; empty when the entry has none. */
  text(attribute: string): readonly string[];
  /** The attribute's raw values, for binary attributes the profile lists in `binaryAttributes`. */
  binary(attribute: string): readonly Buffer[];
}

/** One change of an LDAP modify request. */
export interface LdapChange {
  readonly operation: 'add' | 'delete' | 'replace';
  readonly attribute: string;
  /** Empty with `delete` removes every value; with `replace` it clears the attribute. */
  readonly values: readonly (string | Buffer)[];
}

/** How an administrative password reset reaches the directory. */
export type PasswordWrite =
  | { readonly kind: 'extended'; readonly oid: string; readonly value: Buffer }
  | { readonly kind: 'modify'; readonly changes: readonly LdapChange[] }
  /**
   * Modify requests sent in order; a refusal stops the rest and is read by passwordRefusalReason.
   * The AD profile resets to a temporary password and then changes it, because only a change is
   * checked against the domain's password history.
   */
  | { readonly kind: 'modify_sequence'; readonly steps: readonly (readonly LdapChange[])[] };

/**
 * `extended` is the RFC 3062 Password Modify operation (the server hashes the password itself);
 * `modify` replaces the password attribute (userPassword, or unicodePwd on Active Directory).
 */
export const PASSWORD_WRITE_MODES = ['extended', 'modify'] as const;
export type PasswordWriteMode = (typeof PASSWORD_WRITE_MODES)[number];

/**
 * How group membership is read: `member_of` from the account's memberOf attribute; `group_search`
 * by searching groups whose member attribute names the account; `nested` like group_search but
 * transitively, through the profile's `nestedGroupFilter` (AD's LDAP_MATCHING_RULE_IN_CHAIN).
 */
export const GROUP_MODES = ['member_of', 'group_search', 'nested'] as const;
export type GroupMode = (typeof GROUP_MODES)[number];

/** What a directory said when it refused an operation, as ldapts reports it. */
export interface LdapRefusal {
  /** The LDAP result code (19 constraintViolation, 49 invalidCredentials, 53 unwillingToPerform…). */
  readonly code: number;
  /** The server's diagnostic message. Never shown to a person as is (ENUM-7). */
  readonly message: string;
}

/** Where to find accounts and what to read from them, unless configuration says otherwise. */
export interface ProfileDefaults {
  /** RFC 4515 filter template; `{identifier}` becomes the escaped canonical identifier. */
  readonly findFilter: string;
  /** Matches every account entry (used to list accounts). */
  readonly accountFilter: string;
  readonly attributes: {
    readonly username: string;
    readonly displayName: string;
    readonly email: string;
    readonly department: string;
    /** The phone of record (normalised to E.164 with the server's phone.defaultRegion, or null). */
    readonly phone: string;
    readonly memberOf: string;
  };
  /** Group search template for `group_search`; `{dn}` becomes the escaped account DN. */
  readonly groupFilter: string;
}

export interface DirectoryProfile {
  /** The prefix of account ids (`openldap:<entryUUID>`) and the name in logs: `openldap`, `active_directory`. */
  readonly name: string;
  readonly defaults: ProfileDefaults;
  /** The attribute whose value keys an account for life (survives renames and moves). */
  readonly keyAttribute: string;
  /** Attributes to read as raw bytes (AD's objectGUID); the rest are read as UTF-8 text. */
  readonly binaryAttributes: readonly string[];
  /** Operational or dialect attributes every account read must request by name. */
  readonly accountAttributes: readonly string[];
  /** Password write modes this directory accepts; the first is the default. */
  readonly passwordWriteModes: readonly PasswordWriteMode[];
  /**
   * A filter template that matches every group the account at `{dn}` belongs to, transitively;
   * null when the directory has no such matching rule (then `nested` is refused at start-up).
   */
  readonly nestedGroupFilter: string | null;

  /** The key of an entry in text form (the part of the AccountId after `ldap:`); null if absent. */
  keyOf(entry: LdapEntry): string | null;
  /**
   * The value to put after `keyAttribute=` in an equality filter for a key in text form, already
   * escaped (RFC 4515); null when the text cannot be a key (then no entry has it).
   */
  keyFilterValue(key: string): string | null;

  /** The request that sets `password` on the entry at `dn` as an administrative reset. */
  passwordWrite(dn: string, password: string, mode: PasswordWriteMode): PasswordWrite;
  /** Extra changes that make the person change the password at their next sign-in. */
  mustChangeChanges(): readonly LdapChange[];
  /**
   * A refused password write in words a person can act on, or null when the refusal is not about
   * the password (access rights, a vanished entry): the connector then raises it as a failure.
   */
  passwordRefusalReason(refusal: LdapRefusal): string | null;

  lockState(entry: LdapEntry): LockState;
  /**
   * The modify that clears the lock and the failed sign-in count (changes empty when nothing is to
   * clear), with the OIDs of the critical controls it needs (OpenLDAP's Relax Rules control, to
   * delete the NO-USER-MODIFICATION pwdFailureTime).
   */
  unlockChanges(entry: LdapEntry): { readonly changes: readonly LdapChange[]; readonly controlOids: readonly string[] };
  /** True when the directory itself disables the entry (AD userAccountControl). */
  isDisabled(entry: LdapEntry): boolean;
  /**
   * Reads a refused bind as the person: `locked` or `disabled` when the server says so in the
   * refusal (AD `data 775` / `data 533`); null when the refusal does not tell, and the connector
   * then reads the lock state from the entry.
   */
  bindRefusalVerdict(refusal: LdapRefusal): Exclude<PasswordVerification, 'valid'> | null;
  /** True when the entry itself marks the account privileged (AD adminCount=1). */
  privilegedByEntry(entry: LdapEntry): boolean;
  /** When the entry's password last changed (its attribute must be among `accountAttributes`); null when the entry does not say. */
  passwordChangedAt?(entry: LdapEntry): Date | null;
}
