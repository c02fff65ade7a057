import { isIP } from 'node:net';
import { FilterParser } from 'ldapts';
import { z } from 'zod';
import { GROUP_MODES, PASSWORD_WRITE_MODES } from './profile.ts';

export const DIRECTORY_KINDS = ['builtin', 'ldap', 'active_directory'] as const;

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$|^\d+(\.\d+)+$/, 'must be an LDAP attribute name');

/** True when parentheses enclose the whole filter and balance (ldapts' parser forgives a missing one). */
function balanced(filter: string): boolean {
  let depth = 0;
  for (let index = 0; index < filter.length; index += 1) {
    const char = filter[index];
    if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    if (depth < 0 || (depth === 0 && index < filter.length - 1)) return false;
  }
  return depth === 0 && filter.startsWith('(');
}

/** An RFC 4515 filter template that must contain `placeholder` and parse once it is filled in. */
const filterTemplate = (placeholder: string) =>
  z
    .string()
    .min(3)
    .refine((template) => placeholder === '' || template.includes(placeholder), { message: `must contain ${placeholder}` })
    .refine(
      (template) => {
        try {
          const filled = placeholder === '' ? template : template.replaceAll(placeholder, 'x');
          FilterParser.parseString(filled);
          return balanced(filled);
        } catch {
          return false;
        }
      },
      { message: 'is not a valid LDAP filter (RFC 4515), e.g. (&(objectClass=inetOrgPerson)(uid={identifier}))' },
    );

const isLoopback = (host: string): boolean => host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '[::1]' || host === '::1';

/**
 * `directory`: which directory Latchkey fronts. `builtin` needs nothing else; `ldap` and
 * `active_directory` need url, bindDn, bindPassword and baseDn, and an encrypted connection
 * (ldaps:// or startTls) unless the server is on loopback.
 */
export const directoryConfigSchema = z
  .object({
    kind: z.enum(DIRECTORY_KINDS).default('builtin').describe('builtin (Latchkey’s own accounts), ldap (OpenLDAP, 389 DS) or active_directory.'),
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/, 'must be ldap://host[:port] or ldaps://host[:port]')
      .optional()
      .describe('Directory server URL.'),
    startTls: z.boolean().default(false).describe('Upgrade an ldap:// connection with StartTLS before binding.'),
    caFile: z.string().min(1).optional().describe('PEM file of the CA that signed the server certificate; unset means the system CA store.'),
    bindDn: z.string().min(1).optional().describe('Service account DN (for AD also user@domain).'),
    bindPassword: z.string().min(1).optional().describe('Service account password; prefer LATCHKEY_DIRECTORY__BIND_PASSWORD.'),
    baseDn: z.string().min(1).optional().describe('Where accounts are searched.'),
    findFilter: filterTemplate('{identifier}').optional().describe('Filter template finding an account by username or email; {identifier} is escaped (RFC 4515).'),
    accountFilter: filterTemplate('').optional().describe('Filter matching every account, for listing.'),
    attributes: z
      .object({ username: attributeName, displayName: attributeName, email: attributeName, department: attributeName, phone: attributeName, memberOf: attributeName })
      .partial()
      .strict()
      .default({})
      .describe('Attribute names for the account fields; unset ones take the profile’s defaults.'),
    groups: z
      .object({
        // SECURITY: unset is nested for Active Directory: memberOf lists direct groups only, so a
        // member of a group inside Domain Admins would otherwise escape the privileged tier.
        mode: z.enum(GROUP_MODES).optional().describe('Unset: nested for active_directory, member_of otherwise.'),
        baseDn: z.string().min(1).optional(),
        filter: filterTemplate('{dn}').optional(),
      })
      .strict()
      .default({})
      .describe('How group membership is read: member_of, group_search (filter with {dn}) or nested (AD).'),
    passwordWrite: z.enum(PASSWORD_WRITE_MODES).optional().describe('extended (RFC 3062 Password Modify) or modify; unset means the profile’s default.'),
    mustChangeAtNextSignIn: z.boolean().default(false).describe('After a reset, make the person change the password at next sign-in (pwdReset / pwdLastSet=0).'),
    enforceHistoryOnReset: z.boolean().default(false).describe('Active Directory: have the domain check its password history on a reset.'),
    privilegedGroups: z
      .union([z.array(z.string().min(1)), z.string().transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))])
      .optional()
      .describe('Groups whose members are privileged whatever the policy says; AD defaults to Domain Admins and the other built-in admin groups.'),
    poolSize: z.int().min(1).max(32).default(4).describe('Connections bound as the service account.'),
    connectTimeoutMs: z.int().min(100).max(60_000).default(5_000).describe('Connecting (TCP and TLS) may take this long.'),
    operationTimeoutMs: z.int().min(100).max(120_000).default(10_000).describe('One LDAP operation may take this long.'),
  })
  .strict()
  .superRefine((directory, context) => {
    if (directory.kind === 'builtin') return;
    for (const key of ['url', 'bindDn', 'bindPassword', 'baseDn'] as const) {
      if (directory[key] === undefined) context.addIssue({ code: 'custom', path: [key], message: `is required when kind is ${directory.kind}` });
    }
    if (directory.url === undefined) return;
    const url = new URL(directory.url);
    if (url.protocol === 'ldaps:' && directory.startTls) context.addIssue({ code: 'custom', path: ['startTls'], message: 'is for ldap:// URLs; an ldaps:// URL is already encrypted' });
    // SECURITY: a plain ldap:// bind sends the service password and every person's password in the
    // clear; it is allowed only to a server on this machine.
    if (url.protocol === 'ldap:' && !directory.startTls && !isLoopback(url.hostname)) {
      context.addIssue({ code: 'custom', path: ['startTls'], message: 'must be true for an ldap:// URL to another host (or use ldaps://): passwords would cross the network in the clear' });
    }
    if (directory.kind === 'active_directory' && url.protocol === 'ldap:' && !directory.startTls) {
      context.addIssue({ code: 'custom', path: ['startTls'], message: 'must be true for Active Directory over ldap:// (or use ldaps://): AD accepts unicodePwd writes only over an encrypted connection' });
    }
    if (directory.groups.mode === 'nested' && directory.kind !== 'active_directory') {
      context.addIssue({ code: 'custom', path: ['groups', 'mode'], message: 'nested is only available with kind active_directory' });
    }
  });

export type DirectoryConfig = z.infer<typeof directoryConfigSchema>;
