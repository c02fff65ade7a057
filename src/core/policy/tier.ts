import type { Tier } from '../account/account.ts';
import type { Policy } from './schema.ts';

/**
 * Folds a group name for comparison: NFKC, trimmed, lower case. Directory group names are
 * case-insensitive in Active Directory and in most LDAP schemas, so policy compares them the same way.
 */
function foldGroupName(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

/**
 * The names a directory group may be known by: the name as given and, when it is a distinguished
 * name (`CN=Domain Admins,OU=Groups,DC=corp,DC=example`), its common name. SECURITY: matching the
 * common name too can only move an account to a stricter tier, never a weaker one, so a directory
 * that reports DNs does not silently turn administrators into standard accounts.
 */
function groupNames(group: string): string[] {
  const names = [foldGroupName(group)];
  const cn = /^\s*cn\s*=\s*((?:\\[0-9a-fA-F]{2}|\\.|[^,+\\])+)/i.exec(group)?.[1];
  if (cn !== undefined) {
    const unescaped = cn
      .replace(/\\([0-9a-fA-F]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
      .replace(/\\(.)/g, '$1');
    names.push(foldGroupName(unescaped));
  }
  return names;
}

/**
 * Resolves the tier that governs an account from its directory groups: break-glass wins over
 * privileged, which wins over standard, so membership in a stricter group can never be diluted by
 * another membership. Group names compare case-insensitively (after NFKC), and a distinguished
 * name also matches by its common name. `directoryPrivileged` (the directory itself marks the
 * account privileged, e.g. AD adminCount=1) raises the floor to privileged: SECURITY: a policy whose
 * group lists miss a directory's admin groups must not leave its administrators on standard rules.
 */
export function resolveTier(policy: Policy, groups: readonly string[], directoryPrivileged = false): Tier {
  if (groupsMatch(policy.tierGroups.break_glass, groups)) return 'break_glass';
  if (directoryPrivileged || groupsMatch(policy.tierGroups.privileged, groups)) return 'privileged';
  return 'standard';
}

/**
 * True when any of an account's groups is one of the configured ones, compared the way tiers are
 * (NFKC, case-insensitive, a distinguished name also by its common name). Directory connectors use
 * it for their own privileged-group lists, so both lists match a group the same way.
 */
export function groupsMatch(configured: readonly string[], groups: readonly string[]): boolean {
  const memberOf = new Set(groups.flatMap(groupNames));
  return configured.some((group) => memberOf.has(foldGroupName(group)));
}
