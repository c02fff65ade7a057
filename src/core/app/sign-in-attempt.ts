import type { DirectoryAccount } from '../account/account.ts';
import { canonicalIdentifier } from '../account/identifier.ts';
import { DomainError } from '../errors.ts';
import type { Policy } from '../policy/schema.ts';
import type { RateDecision } from '../ports/rate-limiter.ts';
import type { AppDeps, RequestContext } from './deps.ts';

/** Who a sign-in names, and whether that name still has sign-in attempts left. */
export interface SignInAttempt {
  /** The enabled account the username names; null for an unknown, ambiguous or disabled one. */
  readonly account: DirectoryAccount | null;
  /** The per-identifier decision: a refused one is audited by the caller and answered with `rate.limited`. */
  readonly decision: RateDecision;
}

/**
 * The first steps every password-style sign-in takes (self-service, admin console, Temporary Access
 * Pass): the per-address limit, then the account lookup, then one attempt from the identifier's budget.
 * Throws `rate.limited` when the address is over its limit.
 *
 * SECURITY: an unknown name spends from a budget keyed by its MAC, exactly as a known account spends
 * from its own, so the limit does not tell which usernames exist; and all sign-in doors share the
 * one `sign_in` bucket per account, so a password guesser gets one allowance, whichever door it knocks on.
 */
export async function beginSignIn(deps: AppDeps, policy: Policy, username: string, request: RequestContext): Promise<SignInAttempt> {
  const ipDecision = await deps.rateLimiter.consume('ip', request.ip, policy.rateLimits.perIp);
  if (!ipDecision.allowed) throw new DomainError('rate.limited', 'Too many requests from this address. Wait before trying again.', { retryAfterSeconds: ipDecision.retryAfterSeconds });
  const canonical = canonicalIdentifier(username);
  const lookup = canonical.ok ? await deps.directory.findByIdentifier(canonical.value) : ({ kind: 'none' } as const);
  const account = lookup.kind === 'one' && lookup.account.enabled ? lookup.account : null;
  const limitKey = account ? account.id : `unknown:${deps.secrets.mac('identifier', canonical.ok ? canonical.value : username)}`;
  const decision = await deps.rateLimiter.consume('sign_in', limitKey, policy.rateLimits.perIdentifier);
  return { account, decision };
}
