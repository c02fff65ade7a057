import type { AppDeps } from '../core/app/deps.ts';
import type { AdminScope, AdminTokenRecord } from '../core/ports/store.ts';
import { tokenPrincipal, type AdminPrincipal } from '../core/admin/principal.ts';

const TOKEN_PATTERN = /^lk_admin_[A-Za-z0-9_-]{43}$/;

/**
 * Admin API tokens: random 256-bit values shown once at creation, stored as keyed hashes, scoped,
 * optionally expiring, revocable. Every creation and revocation is audited.
 */
export class AdminTokenService {
  constructor(private readonly deps: AppDeps) {}

  async create(input: { name: string; scopes: readonly AdminScope[]; ttlDays?: number }, actor: { kind: 'cli'; id: string | null }): Promise<{ token: string; record: AdminTokenRecord }> {
    const { deps } = this;
    const now = deps.clock.now();
    const token = `lk_admin_${deps.random.bytes(32).toString('base64url')}`;
    const record: AdminTokenRecord = {
      id: deps.random.uuid(),
      name: input.name,
      tokenHash: deps.secrets.mac('admin_token', token),
      scopes: [...new Set(input.scopes)],
      createdAt: now,
      expiresAt: input.ttlDays ? new Date(now.getTime() + input.ttlDays * 86_400_000) : null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await deps.store.transaction(async (tx) => {
      await tx.adminTokens.insert(record);
      await tx.audit.append([{ type: 'admin_token.created', at: now, actor, subject: null, outcome: 'success', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { token_id: record.id, name: record.name, scopes: record.scopes.join(' ') } }]);
    });
    return { token, record };
  }

  async revoke(id: string, actor: { kind: 'cli'; id: string | null }): Promise<boolean> {
    const { deps } = this;
    const now = deps.clock.now();
    return deps.store.transaction(async (tx) => {
      const revoked = await tx.adminTokens.revoke(id, now);
      if (revoked) {
        await tx.audit.append([{ type: 'admin_token.revoked', at: now, actor, subject: null, outcome: 'success', reason: null, ip: null, userAgent: null, department: null, tier: null, flowId: null, data: { token_id: id } }]);
      }
      return revoked;
    });
  }

  /** The principal of a live API token (its scopes as permissions, no account), or null; marks the token used. */
  async principal(token: string): Promise<AdminPrincipal | null> {
    const { deps } = this;
    if (!TOKEN_PATTERN.test(token)) return null;
    const record = await deps.store.adminTokens.findByHash(deps.secrets.mac('admin_token', token));
    const now = deps.clock.now();
    if (!record || record.revokedAt || (record.expiresAt && record.expiresAt.getTime() <= now.getTime())) return null;
    await deps.store.adminTokens.touch(record.id, now);
    return tokenPrincipal({ tokenId: record.id, scopes: record.scopes });
  }
}

// One definition, with the permission catalog; re-exported for the CLI's existing import.
export { isAdminScope } from '../core/admin/principal.ts';
