import type { AccountId } from '../account/ids.ts';
import { groupsMatch } from '../policy/tier.ts';

/** The roles a directory account can hold in the admin console, mapped from directory groups by policy `adminRoles`. */
export const ADMIN_ROLES = ['security_admin', 'helpdesk', 'auditor'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/**
 * Every permission an admin route can ask for. API tokens carry a subset as their scopes; roles
 * grant a fixed subset (ROLE_PERMISSIONS). Names are `area:read` or `area:<action>`, and an
 * auditor holds exactly the `:read` ones, so a new read permission reaches auditors by its name alone.
 */
export const ADMIN_SCOPES = [
  'accounts:read',
  'accounts:write',
  'audit:read',
  'outbox:read',
  'alerts:read',
  'alerts:write',
  'reports:read',
  'policy:read',
  'policy:write',
  'tap:issue',
  'breakglass:operate',
  'privileged:confirm',
] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];
/** The same list under the name the admin console speaks of: a permission is what a scope grants. */
export type AdminPermission = AdminScope;

export const isAdminScope = (value: string): value is AdminScope => (ADMIN_SCOPES as readonly string[]).includes(value);

const READ_PERMISSIONS: readonly AdminScope[] = ADMIN_SCOPES.filter((scope) => scope.endsWith(':read'));

/**
 * What each role may do. SECURITY: helpdesk can unlock accounts, revoke methods and issue
 * temporary access passes, but never change policy, read the audit log or operate break-glass
 * accounts; an auditor reads everything and changes nothing (least privilege, PRIV-2/PRIV-3).
 */
export const ROLE_PERMISSIONS: Readonly<Record<AdminRole, readonly AdminScope[]>> = {
  security_admin: ADMIN_SCOPES,
  helpdesk: ['accounts:read', 'accounts:write', 'tap:issue', 'outbox:read', 'alerts:read'],
  auditor: READ_PERMISSIONS,
};

/**
 * Who is calling the admin API: a signed-in directory account (`admin_session`), an API token
 * (`admin_token`, no account behind it) or the local command line (`cli`). `id` is the session id,
 * token id or CLI user; it is what audit records name as the actor.
 */
export interface AdminPrincipal {
  readonly kind: 'admin_session' | 'admin_token' | 'cli';
  readonly id: string;
  readonly accountId: AccountId | null;
  readonly username: string | null;
  readonly roles: ReadonlySet<AdminRole>;
  readonly permissions: ReadonlySet<AdminScope>;
}

/** True when the principal holds the permission. The one question every admin route asks. */
export function can(principal: AdminPrincipal, permission: AdminScope): boolean {
  return principal.permissions.has(permission);
}

/** The union of the permissions the roles grant. */
export function permissionsFor(roles: Iterable<AdminRole>): ReadonlySet<AdminScope> {
  const permissions = new Set<AdminScope>();
  for (const role of roles) for (const permission of ROLE_PERMISSIONS[role]) permissions.add(permission);
  return permissions;
}

/** Which directory groups grant each role (policy `adminRoles`); a role with no groups is held by nobody. */
export type AdminRoleGroups = Readonly<Partial<Record<AdminRole, readonly string[]>>>;

/**
 * The roles an account holds, from its directory groups. Groups compare as tiers do
 * (`groupsMatch`: NFKC, case-insensitive, a distinguished name also by its common name).
 * SECURITY: a bare name in the mapping matches a group of that common name anywhere in the
 * directory; where people other than directory administrators can create groups, configure the
 * full distinguished name so only that one group grants the role.
 */
export function rolesFor(groups: readonly string[], roleGroups: AdminRoleGroups): ReadonlySet<AdminRole> {
  const roles = new Set<AdminRole>();
  for (const role of ADMIN_ROLES) {
    const configured = roleGroups[role] ?? [];
    if (configured.length > 0 && groupsMatch(configured, groups)) roles.add(role);
  }
  return roles;
}

/** A principal for a directory account signed in to the console, with the permissions its roles grant. */
export function sessionPrincipal(input: { sessionId: string; accountId: AccountId; username: string; roles: ReadonlySet<AdminRole> }): AdminPrincipal {
  return { kind: 'admin_session', id: input.sessionId, accountId: input.accountId, username: input.username, roles: input.roles, permissions: permissionsFor(input.roles) };
}

/** A principal for an API token: its scopes are its permissions; no account and no role stands behind it. */
export function tokenPrincipal(input: { tokenId: string; scopes: readonly AdminScope[] }): AdminPrincipal {
  return { kind: 'admin_token', id: input.tokenId, accountId: null, username: null, roles: new Set(), permissions: new Set(input.scopes) };
}

/** The local command line: whoever runs it on the server already holds the database and keys, so it may do everything. */
export function cliPrincipal(id: string): AdminPrincipal {
  return { kind: 'cli', id, accountId: null, username: null, roles: new Set(), permissions: new Set(ADMIN_SCOPES) };
}

/** Who an audit record names for this principal: the admin's account for a console session, else the token or CLI user. */
export function auditActor(principal: AdminPrincipal): { readonly kind: 'admin' | 'admin_token' | 'cli'; readonly id: string } {
  if (principal.kind === 'admin_session' && principal.accountId !== null) return { kind: 'admin', id: principal.accountId };
  return { kind: principal.kind === 'admin_session' ? 'admin' : principal.kind, id: principal.id };
}

/** What an admin action is about: the target account, its tier and the admin roles it holds itself. */
export interface ActionTarget {
  readonly accountId: AccountId;
  readonly tier: 'standard' | 'privileged' | 'break_glass';
  readonly roles: ReadonlySet<AdminRole>;
}

/**
 * Why the principal may not act on this account (unlock it, revoke its methods, issue it a pass),
 * or null when it may. SECURITY: no one acts on their own account through the console (an
 * attacker holding an admin session could otherwise strip the admin's own second factor or unlock
 * it), and only a security admin or the local command line acts on a privileged or break-glass
 * account or on another admin; helpdesk staff and API tokens serve standard accounts only (PRIV-3,
 * the Okta 2023 helpdesk social-engineering pattern).
 */
export function actionRefusal(principal: AdminPrincipal, target: ActionTarget): 'own_account' | 'target_privileged' | null {
  if (principal.accountId !== null && principal.accountId === target.accountId) return 'own_account';
  const mayServePrivileged = principal.kind === 'cli' || principal.roles.has('security_admin');
  if (!mayServePrivileged && (target.tier !== 'standard' || target.roles.size > 0)) return 'target_privileged';
  return null;
}
