import type { AuditEventInput } from '../../../core/audit/events.ts';
import { isDomainError } from '../../../core/errors.ts';
import type { Directory } from '../../../core/ports/directory.ts';
import type { Store } from '../../../core/ports/store.ts';
import type { Clock } from '../../../core/ports/system.ts';

/**
 * Wraps a directory so that each call that fails with `directory.unavailable` leaves a
 * `directory.unavailable` audit event (the operation and the directory's name, no account data:
 * the person learns nothing from it they were not told by the 503). ping() is left out: /readyz
 * reports the outage already, and probes every few seconds would flood the log.
 * The error still reaches the caller unchanged; an audit write that fails too (the database is
 * down as well) does not hide it.
 */
export function withUnavailabilityAudit(directory: Directory, deps: { store: Pick<Store, 'audit'>; clock: Clock }): Directory {
  const record = async (operation: string, error: unknown): Promise<never> => {
    if (isDomainError(error) && error.code === 'directory.unavailable') {
      const event: AuditEventInput = {
        type: 'directory.unavailable',
        at: deps.clock.now(),
        actor: { kind: 'system', id: `directory:${directory.name}` },
        subject: null,
        outcome: 'failure',
        reason: 'directory.unavailable',
        ip: null,
        userAgent: null,
        department: null,
        tier: null,
        flowId: null,
        data: { directory: directory.name, operation },
      };
      await deps.store.audit.append([event]).catch(() => undefined);
    }
    throw error;
  };
  const guard = <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) => (...args: A): Promise<R> => call(...args).catch((error: unknown) => record(operation, error));
  return {
    name: directory.name,
    capabilities: directory.capabilities,
    findByIdentifier: guard('find_account', (identifier: string) => directory.findByIdentifier(identifier)),
    getAccount: guard('get_account', (id) => directory.getAccount(id)),
    async *listAccounts() {
      try {
        yield* directory.listAccounts();
      } catch (error) {
        await record('list_accounts', error);
      }
    },
    searchAccounts: guard('search_accounts', (query: string, limit: number, options?: { readonly afterUsername?: string }) => directory.searchAccounts(query, limit, options)),
    verifyPassword: guard('verify_password', (id, password) => directory.verifyPassword(id, password)),
    setPassword: guard('set_password', (id, password) => directory.setPassword(id, password)),
    readLockState: guard('read_lock_state', (id) => directory.readLockState(id)),
    ...(directory.readPasswordChangedAt ? { readPasswordChangedAt: guard('read_password_changed_at', (id) => directory.readPasswordChangedAt?.(id) ?? Promise.resolve(null)) } : {}),
    unlock: guard('unlock', (id) => directory.unlock(id)),
    ping: () => directory.ping(),
  };
}
