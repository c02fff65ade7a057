import { Attribute, Change, Control, EqualityFilter, Filter, InvalidCredentialsError, NoSuchObjectError, type Client, type Entry } from 'ldapts';
import type { DirectoryAccount, LockState } from '../../../core/account/account.ts';
import { asAccountId, type AccountId } from '../../../core/account/ids.ts';
import { DomainError } from '../../../core/errors.ts';
import { groupsMatch } from '../../../core/policy/tier.ts';
import { normalisePhoneNumber } from '../../../core/phone/e164.ts';
import { clampSearchLimit, type Directory, type DirectoryCapability, type DirectoryLookup, type PasswordVerification, type PasswordWriteResult } from '../../../core/ports/directory.ts';
import { closeQuietly, isRefusal, LdapConnectionPool, openClient, type LdapConnectionSettings } from './connection-pool.ts';
import type { DirectoryProfile, GroupMode, LdapChange, LdapEntry, PasswordWriteMode, ProfileDefaults } from './profile.ts';

export interface LdapDirectoryOptions extends LdapConnectionSettings {
  readonly bindDn: string;
  readonly bindPassword: string;
  readonly baseDn: string;
  /** Overrides of the profile's defaults (filters, attribute names, group filter). */
  readonly findFilter?: string;
  readonly accountFilter?: string;
  readonly attributes?: { readonly [K in keyof ProfileDefaults['attributes']]?: string | undefined };
  readonly groups: { readonly mode: GroupMode; readonly baseDn?: string; readonly filter?: string };
  /** Unset means the profile's first mode. */
  readonly passwordWrite?: PasswordWriteMode;
  readonly mustChangeAtNextSignIn: boolean;
  /** Groups (DN or common name) whose members the directory marks privileged. */
  readonly privilegedGroups: readonly string[];
  readonly poolSize: number;
  /** Page size of the paged search (RFC 2696) that lists accounts. */
  readonly pageSize?: number;
  /** Region for phone numbers the directory holds in national format (server `phone.defaultRegion`); unset means international form only. */
  readonly phoneRegion?: string | null;
}

const CAPABILITIES: ReadonlySet<DirectoryCapability> = new Set(['find_account', 'reset_password', 'unlock_account', 'read_groups', 'read_lock_state', 'verify_password', 'list_accounts', 'search_accounts']);
const DEFAULT_PAGE_SIZE = 200;
/**
 * searchAccounts asks the server for at most this many matches and orders them by username itself
 * (server-side sorting, RFC 2891, is not universal); groups are then read only for the page returned.
 */
const SEARCH_SCAN_MAX = 1_000;

/** The sort key of a username: case-insensitive, as LDAP compares uid and sAMAccountName. */
const usernameKey = (username: string): string => username.toLowerCase();

/**
 * The bytes an RFC 4515 escaped value stands for. ldapts' filter-string parser turns `\85` into
 * the character U+0085 and sends it as UTF-8 (c2 85), which breaks binary keys such as AD's
 * objectGUID; a filter object carrying these bytes goes out as they are.
 */
function filterValueBytes(escaped: string): Buffer {
  const bytes: Buffer[] = [];
  for (const [, hex, text] of escaped.matchAll(/\\([0-9a-fA-F]{2})|([^\\]+)/g)) bytes.push(hex !== undefined ? Buffer.from(hex, 'hex') : Buffer.from(text ?? '', 'utf8'));
  return Buffer.concat(bytes);
}

/** Replaces `{name}` in a filter template. A function replacer, so `$&` in a value stays literal. */
function fillTemplate(template: string, name: string, escapedValue: string): string {
  return template.replaceAll(`{${name}}`, () => escapedValue);
}

/** Wraps an ldapts entry; attribute names compare case-insensitively, empty values read as absent. */
function toLdapEntry(entry: Entry): LdapEntry {
  const values = new Map<string, (string | Buffer)[]>();
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn') continue;
    const list = (Array.isArray(value) ? value : [value]) as (string | Buffer)[];
    if (list.length > 0) values.set(key.toLowerCase(), list);
  }
  const read = (attribute: string): (string | Buffer)[] => values.get(attribute.toLowerCase()) ?? [];
  return {
    dn: entry.dn,
    text: (attribute) => read(attribute).map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : value)),
    binary: (attribute) => read(attribute).map((value) => (Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'))),
  };
}

const toChange = (change: LdapChange): Change =>
  new Change({
    operation: change.operation,
    modification: new Attribute({
      type: change.attribute,
      values: change.values.every((value) => Buffer.isBuffer(value)) ? (change.values as Buffer[]) : change.values.map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : value)),
    }),
  });

const unavailable = (): DomainError => new DomainError('directory.unavailable');

/**
 * A Directory over LDAP: OpenLDAP, 389 DS or Active Directory, with the dialect answered by a
 * DirectoryProfile. Searches and writes run on a small pool of clients bound as the service
 * account; a person's password is checked by a bind on a separate short-lived connection.
 * Failure semantics: a connection failure or timeout (connect, StartTLS, bind or operation) is
 * DomainError('directory.unavailable'); a password the directory's policy refuses is
 * `{ ok: false, reason }` with a reason from the profile, never the server's diagnostic.
 */
export function createLdapDirectory(options: LdapDirectoryOptions, profile: DirectoryProfile): Directory & { close(): Promise<void> } {
  const defaults = profile.defaults;
  const attributes = { ...defaults.attributes };
  for (const [key, value] of Object.entries(options.attributes ?? {})) if (value !== undefined) attributes[key as keyof typeof attributes] = value;
  const findFilter = options.findFilter ?? defaults.findFilter;
  const accountFilter = options.accountFilter ?? defaults.accountFilter;
  const groupFilter = options.groups.mode === 'nested' ? profile.nestedGroupFilter : (options.groups.filter ?? defaults.groupFilter);
  if (groupFilter === null) throw new Error(`the ${profile.name} directory cannot read nested groups`);
  const writeMode = options.passwordWrite ?? profile.passwordWriteModes[0];
  if (writeMode === undefined || !profile.passwordWriteModes.includes(writeMode)) throw new Error(`the ${profile.name} directory does not accept password write mode '${String(writeMode)}'`);
  const idPrefix = `${profile.name}:`;
  const requested = [
    ...new Set([attributes.username, attributes.displayName, attributes.email, attributes.department, attributes.phone, ...(options.groups.mode === 'member_of' ? [attributes.memberOf] : []), profile.keyAttribute, ...profile.accountAttributes]),
  ];
  const pool = new LdapConnectionPool(options, { dn: options.bindDn, password: options.bindPassword }, options.poolSize);

  /** Runs on a pooled client; anything but a DomainError the action raised becomes directory.unavailable. */
  const run = async <T>(action: (client: Client) => Promise<T>): Promise<T> => {
    try {
      return await pool.use(action);
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw unavailable();
    }
  };

  const searchAccounts = async (client: Client, filter: string | Filter, sizeLimit: number): Promise<LdapEntry[]> => {
    const { searchEntries } = await client.search(options.baseDn, { scope: 'sub', filter, attributes: requested, explicitBufferAttributes: [...profile.binaryAttributes], sizeLimit });
    return searchEntries.map(toLdapEntry);
  };

  const groupsOf = async (client: Client, entry: LdapEntry): Promise<string[]> => {
    if (options.groups.mode === 'member_of') return [...entry.text(attributes.memberOf)];
    const { searchEntries } = await client.search(options.groups.baseDn ?? options.baseDn, { scope: 'sub', filter: fillTemplate(groupFilter, 'dn', Filter.escape(entry.dn)), attributes: ['1.1'] });
    return searchEntries.map((group) => group.dn);
  };

  /**
   * The first value of the phone attribute that parses, in E.164; null when none does. A directory
   * value is whatever an administrator typed (extensions, letters, a second number): it is dropped
   * rather than refused, so a badly kept phone field never stops a person's flow, and nothing is
   * logged (the value is personal data).
   */
  const phoneOf = (entry: LdapEntry): string | null => {
    for (const value of entry.text(attributes.phone)) {
      const verdict = normalisePhoneNumber(value, options.phoneRegion ?? null);
      if (verdict.ok) return verdict.e164;
    }
    return null;
  };

  const toAccount = async (client: Client, entry: LdapEntry): Promise<DirectoryAccount | null> => {
    const key = profile.keyOf(entry);
    const username = entry.text(attributes.username)[0];
    if (key === null || username === undefined) return null;
    const groups = await groupsOf(client, entry);
    return {
      id: asAccountId(`${idPrefix}${key}`),
      username,
      displayName: entry.text(attributes.displayName)[0] ?? username,
      workEmail: entry.text(attributes.email)[0]?.toLowerCase() ?? null,
      department: entry.text(attributes.department)[0] ?? null,
      phone: phoneOf(entry),
      groups,
      enabled: !profile.isDisabled(entry),
      directoryPrivileged: profile.privilegedByEntry(entry) || groupsMatch(options.privilegedGroups, groups),
    };
  };

  /** The entry of an account id, or null when the id is not this directory's or names nothing. */
  const entryOf = async (client: Client, id: AccountId): Promise<LdapEntry | null> => {
    if (!id.startsWith(idPrefix)) return null;
    const value = profile.keyFilterValue(id.slice(idPrefix.length));
    if (value === null) return null;
    const entries = await searchAccounts(client, new EqualityFilter({ attribute: profile.keyAttribute, value: filterValueBytes(value) }), 2);
    return entries.length === 1 ? (entries[0] ?? null) : null;
  };

  return {
    name: profile.name,
    capabilities: CAPABILITIES,

    async findByIdentifier(canonicalIdentifier: string): Promise<DirectoryLookup> {
      // SECURITY: the identifier is escaped (RFC 4515) before it meets the filter, so `*)(uid=*`
      // is a literal value that matches nothing instead of a wildcard that matches everyone.
      const filter = fillTemplate(findFilter, 'identifier', Filter.escape(canonicalIdentifier));
      return run(async (client) => {
        const entries = await searchAccounts(client, filter, 2);
        // SECURITY: two hits resolve to none, so mail can never go to the wrong person (INP-9).
        if (entries.length > 1) return { kind: 'ambiguous' };
        const account = entries[0] ? await toAccount(client, entries[0]) : null;
        return account ? { kind: 'one', account } : { kind: 'none' };
      });
    },

    async getAccount(id: AccountId): Promise<DirectoryAccount | null> {
      return run(async (client) => {
        const entry = await entryOf(client, id);
        return entry ? toAccount(client, entry) : null;
      });
    },

    async *listAccounts(): AsyncIterable<DirectoryAccount> {
      // A dedicated connection: the paging cookie belongs to it, and group searches for each page
      // still need pooled clients, so holding a pooled one here could starve a pool of one.
      let client: Client | null = null;
      try {
        client = await openClient(options);
        await client.bind(options.bindDn, options.bindPassword);
        const pages = client.searchPaginated(options.baseDn, { scope: 'sub', filter: accountFilter, attributes: requested, explicitBufferAttributes: [...profile.binaryAttributes], paged: { pageSize: options.pageSize ?? DEFAULT_PAGE_SIZE } });
        for await (const page of pages) {
          const accounts = await run(async (pooled) => {
            const mapped: DirectoryAccount[] = [];
            for (const entry of page.searchEntries) {
              const account = await toAccount(pooled, toLdapEntry(entry));
              if (account) mapped.push(account);
            }
            return mapped;
          });
          yield* accounts;
        }
      } catch (error) {
        if (error instanceof DomainError) throw error;
        throw unavailable();
      } finally {
        if (client) await closeQuietly(client);
      }
    },

    async searchAccounts(query: string, limit: number, searchOptions: { readonly afterUsername?: string } = {}): Promise<DirectoryAccount[]> {
      // SECURITY: the query is escaped (RFC 4515) before it meets the filter, so `*` or `*)(uid=*`
      // is literal text inside a substring match, never a wildcard or a second filter clause.
      const escaped = Filter.escape(query);
      const filter =
        query === '' ? accountFilter : `(&${accountFilter}(|(${attributes.username}=*${escaped}*)(${attributes.displayName}=*${escaped}*)(${attributes.email}=*${escaped}*)))`;
      const after = searchOptions.afterUsername === undefined ? null : usernameKey(searchOptions.afterUsername);
      return run(async (client) => {
        const entries = await searchAccounts(client, filter, SEARCH_SCAN_MAX);
        const page = entries
          .map((entry) => ({ entry, key: usernameKey(entry.text(attributes.username)[0] ?? '') }))
          .filter(({ key }) => key !== '' && (after === null || key > after))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
          .slice(0, clampSearchLimit(limit));
        const accounts: DirectoryAccount[] = [];
        for (const { entry } of page) {
          const account = await toAccount(client, entry);
          if (account) accounts.push(account);
        }
        return accounts;
      });
    },

    async verifyPassword(id: AccountId, password: string): Promise<PasswordVerification> {
      // SECURITY: an empty password is an unauthenticated bind (RFC 4513 §5.1.2), which succeeds
      // without checking anything; it must never count as valid.
      if (password.length === 0) return 'invalid';
      const entry = await run((client) => entryOf(client, id));
      if (!entry) return 'invalid';
      // The person's bind runs on its own connection: a pooled one would change identity.
      let client: Client | null = null;
      try {
        client = await openClient(options);
        await client.bind(entry.dn, password);
        return profile.isDisabled(entry) ? 'disabled' : 'valid';
      } catch (error) {
        if (!(error instanceof InvalidCredentialsError)) throw unavailable();
        const told = profile.bindRefusalVerdict({ code: error.code, message: error.message });
        if (told) return told;
        // The refusal does not say why (slapd answers 49 for a locked entry too): read the entry.
        const after = await run((pooled) => entryOf(pooled, id));
        if (after && profile.isDisabled(after)) return 'disabled';
        return after && profile.lockState(after).locked ? 'locked' : 'invalid';
      } finally {
        if (client) await closeQuietly(client);
      }
    },

    async setPassword(id: AccountId, password: string): Promise<PasswordWriteResult> {
      return run(async (client) => {
        const entry = await entryOf(client, id);
        if (!entry) return { ok: false, reason: 'The account no longer exists.' };
        // SECURITY: a disabled account is never given a new password, whatever the caller checked.
        if (profile.isDisabled(entry)) return { ok: false, reason: 'This account is disabled; contact the helpdesk.' };
        const write = profile.passwordWrite(entry.dn, password, writeMode);
        try {
          if (write.kind === 'extended') await client.exop(write.oid, write.value);
          else if (write.kind === 'modify') await client.modify(entry.dn, write.changes.map(toChange));
          else for (const step of write.steps) await client.modify(entry.dn, step.map(toChange));
        } catch (error) {
          const reason = isRefusal(error) ? profile.passwordRefusalReason({ code: error.code, message: error.message }) : null;
          if (reason !== null) return { ok: false, reason };
          // Not about the password (access rights, a broken connection): raised as directory.unavailable,
          // so the grant survives and the write is never reported as done.
          if (error instanceof NoSuchObjectError) return { ok: false, reason: 'The account no longer exists.' };
          throw error;
        }
        if (options.mustChangeAtNextSignIn) await client.modify(entry.dn, profile.mustChangeChanges().map(toChange));
        return { ok: true };
      });
    },

    async readPasswordChangedAt(id: AccountId): Promise<Date | null> {
      return run(async (client) => {
        const entry = await entryOf(client, id);
        return entry ? (profile.passwordChangedAt?.(entry) ?? null) : null;
      });
    },

    async readLockState(id: AccountId): Promise<LockState> {
      return run(async (client) => {
        const entry = await entryOf(client, id);
        return entry ? profile.lockState(entry) : { locked: false };
      });
    },

    async unlock(id: AccountId): Promise<void> {
      await run(async (client) => {
        const entry = await entryOf(client, id);
        if (!entry) return;
        const { changes, controlOids } = profile.unlockChanges(entry);
        if (changes.length === 0) return;
        await client.modify(
          entry.dn,
          changes.map(toChange),
          controlOids.map((oid) => new Control(oid, { critical: true })),
        );
      });
    },

    async ping(): Promise<void> {
      await run(async (client) => {
        await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] });
      });
    },

    async close(): Promise<void> {
      await pool.close();
    },
  };
}
