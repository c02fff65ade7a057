import type { DirectoryAccount } from '../account/account.ts';
import type { Directory } from '../ports/directory.ts';
import { ADMIN_ROLES, rolesFor, type AdminRole, type AdminRoleGroups } from './principal.ts';

export interface RoleHolders {
  readonly role: AdminRole;
  readonly groups: readonly string[];
  readonly accounts: readonly DirectoryAccount[];
}

/**
 * Who holds each admin role now: every account of the directory (Directory.listAccounts, in pages)
 * whose groups map to the role, disabled ones included and flagged by the caller, so an operator
 * reviewing access sees exactly what the next sign-in would grant.
 */
export async function adminRoleHolders(directory: Directory, roleGroups: AdminRoleGroups): Promise<RoleHolders[]> {
  const holders = new Map<AdminRole, DirectoryAccount[]>(ADMIN_ROLES.map((role) => [role, []]));
  const anyGroups = ADMIN_ROLES.some((role) => (roleGroups[role] ?? []).length > 0);
  if (anyGroups) {
    for await (const account of directory.listAccounts()) {
      for (const role of rolesFor(account.groups, roleGroups)) holders.get(role)?.push(account);
    }
  }
  return ADMIN_ROLES.map((role) => ({ role, groups: roleGroups[role] ?? [], accounts: (holders.get(role) ?? []).sort((a, b) => a.username.localeCompare(b.username)) }));
}
