import type { Directory } from '../ports/directory.ts';
import type { Store } from '../ports/store.ts';
import type { Clock, PasswordHasher, Random, SecretCipher, SecretHasher } from '../ports/system.ts';
import type { RateLimiter } from '../ports/rate-limiter.ts';
import type { BreachedPasswordCheck } from '../ports/password-breach.ts';
import type { Policy } from '../policy/schema.ts';
import type { RelyingParty } from '../methods/method.ts';

/**
 * The ports an application service needs. Built once by the composition root (server/compose.ts);
 * the policy is read through a function so a reloaded policy applies to the next request.
 */
export interface AppDeps {
  readonly store: Store;
  readonly directory: Directory;
  readonly clock: Clock;
  readonly random: Random;
  readonly secrets: SecretHasher;
  readonly cipher: SecretCipher;
  readonly passwords: PasswordHasher;
  readonly rateLimiter: RateLimiter;
  readonly breach: BreachedPasswordCheck | null;
  readonly policy: () => Policy;
  /** The WebAuthn relying party (server `webauthn`); passkeys need it. */
  readonly relyingParty?: RelyingParty;
}

/** Where a request came from, resolved by the HTTP shell (trusted proxies only: RATE-3). */
export interface RequestContext {
  readonly ip: string;
  readonly userAgent: string | null;
}
