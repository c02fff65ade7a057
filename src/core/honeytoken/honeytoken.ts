import { z } from 'zod';
import type { DirectoryAccount } from '../account/account.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import { groupsMatch } from '../policy/tier.ts';

/**
 * Honeytoken accounts: accounts (or bare usernames that need not exist) that no real person ever
 * recovers, signs in with or looks up. Any touch is a tripwire: it is audited as
 * `honeytoken.touched` with the source address, and the `honeytoken_touch` detector raises a
 * high-severity alert, while the caller gets exactly the reply any other account would get.
 */
export const honeytokenPolicySchema = z
  .object({
    usernames: z
      .array(z.string().min(1).max(256))
      .max(1000)
      .describe('Usernames or work e-mail addresses that are decoys; compared in canonical form, whether or not the account exists.'),
    groups: z.array(z.string().min(1)).max(100).describe('Directory groups whose members are decoys (compared as tier groups are).'),
  })
  .strict();
export type HoneytokenPolicy = z.infer<typeof honeytokenPolicySchema>;

/** How a honeytoken was touched; the `via` of the audit event. */
export type HoneytokenTouch = 'recovery_start' | 'sign_in' | 'admin_lookup';

/**
 * Whether an identifier (as typed) or the account it found is a honeytoken. Pure. The identifier
 * matters on its own so a decoy name needs no directory object; the account's username, work
 * e-mail and groups match too, so any spelling that reaches the account trips the wire.
 */
export function isHoneytoken(policy: HoneytokenPolicy, canonical: string | null, account: Pick<DirectoryAccount, 'username' | 'workEmail' | 'groups'> | null): boolean {
  if (policy.usernames.length === 0 && policy.groups.length === 0) return false;
  const names = new Set(policy.usernames.map((name) => canonicalIdentifier(name)).flatMap((result) => (result.ok ? [result.value] : [])));
  const candidates = [canonical, account?.username ?? null, account?.workEmail ?? null]
    .filter((value): value is string => value !== null)
    .map((value) => canonicalIdentifier(value))
    .flatMap((result) => (result.ok ? [result.value] : []));
  if (candidates.some((candidate) => names.has(candidate))) return true;
  return account !== null && policy.groups.length > 0 && groupsMatch(policy.groups, account.groups);
}
