import { readFile } from 'node:fs/promises';
import type { Directory } from '../../../core/ports/directory.ts';
import type { Store } from '../../../core/ports/store.ts';
import type { Clock } from '../../../core/ports/system.ts';
import { createActiveDirectoryProfile, DEFAULT_AD_PRIVILEGED_GROUPS } from './active-directory-profile.ts';
import type { DirectoryConfig } from './config.ts';
import { createLdapDirectory } from './ldap-directory.ts';
import { openLdapProfile } from './openldap-profile.ts';
import { withUnavailabilityAudit } from './unavailability-audit.ts';

export class DirectoryConfigError extends Error {
  override readonly name = 'DirectoryConfigError';
}

/**
 * Builds the LDAP or Active Directory connector a validated `directory` section describes, with
 * outages audited. Reads caFile once, at start: a missing or unreadable file is a start-up error
 * naming the key, never a silent fall-back to the system CA store.
 */
export async function createDirectoryFromConfig(config: DirectoryConfig & { kind: 'ldap' | 'active_directory' }, deps: { store: Pick<Store, 'audit'>; clock: Clock; phoneRegion?: string | null }): Promise<{ directory: Directory; close(): Promise<void> }> {
  const { url, bindDn, bindPassword, baseDn } = config;
  if (url === undefined || bindDn === undefined || bindPassword === undefined || baseDn === undefined) {
    throw new DirectoryConfigError('directory: url, bindDn, bindPassword and baseDn are required');
  }
  let ca: Buffer[] = [];
  if (config.caFile !== undefined) {
    try {
      ca = [await readFile(config.caFile)];
    } catch (error) {
      throw new DirectoryConfigError(`directory.caFile: cannot read ${config.caFile} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const activeDirectory = config.kind === 'active_directory';
  const profile = activeDirectory ? createActiveDirectoryProfile({ enforceHistoryOnReset: config.enforceHistoryOnReset }) : openLdapProfile;
  const ldap = createLdapDirectory(
    {
      url,
      startTls: config.startTls,
      ca,
      connectTimeoutMs: config.connectTimeoutMs,
      operationTimeoutMs: config.operationTimeoutMs,
      bindDn,
      bindPassword,
      baseDn,
      ...(config.findFilter !== undefined ? { findFilter: config.findFilter } : {}),
      ...(config.accountFilter !== undefined ? { accountFilter: config.accountFilter } : {}),
      attributes: config.attributes,
      groups: {
        mode: config.groups.mode ?? (activeDirectory ? 'nested' : 'member_of'),
        ...(config.groups.baseDn !== undefined ? { baseDn: config.groups.baseDn } : {}),
        ...(config.groups.filter !== undefined ? { filter: config.groups.filter } : {}),
      },
      ...(config.passwordWrite !== undefined ? { passwordWrite: config.passwordWrite } : {}),
      mustChangeAtNextSignIn: config.mustChangeAtNextSignIn,
      privilegedGroups: config.privilegedGroups ?? (activeDirectory ? [...DEFAULT_AD_PRIVILEGED_GROUPS] : []),
      poolSize: config.poolSize,
      phoneRegion: deps.phoneRegion ?? null,
    },
    profile,
  );
  return { directory: withUnavailabilityAudit(ldap, deps), close: () => ldap.close() };
}
