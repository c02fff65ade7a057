import type { AccountId, SessionId } from '../account/ids.ts';
import type { Policy } from '../policy/schema.ts';
import type { Repositories } from '../ports/store.ts';
import type { Random, SecretHasher } from '../ports/system.ts';

export const sessionTokenHash = (secrets: SecretHasher, token: string): string => secrets.mac('session_token', token);

/**
 * Opens a session for managing recovery methods and returns its token (shown once; only its keyed
 * hash is stored). A session never grants a password change: it is not a recovery grant (FAC-8).
 */
export async function openSession(tx: Repositories, deps: { readonly random: Random; readonly secrets: SecretHasher }, accountId: AccountId, now: Date, policy: Policy): Promise<string> {
  const token = deps.random.bytes(32).toString('base64url');
  await tx.sessions.insert({
    id: deps.random.uuid() as SessionId,
    accountId,
    tokenHash: sessionTokenHash(deps.secrets, token),
    createdAt: now,
    expiresAt: new Date(now.getTime() + policy.signIn.sessionTtlSeconds * 1000),
    authenticatedAt: now,
  });
  return token;
}
