/** Time, injected so that tests control expiry without sleeping. */
export interface Clock {
  now(): Date;
}

/** Cryptographically secure randomness. Every token, code and seed comes from here (TOK-1, TOK-2). */
export interface Random {
  bytes(length: number): Buffer;
  /** A uniformly distributed integer in [0, maxExclusive), without modulo bias. */
  int(maxExclusive: number): number;
  uuid(): string;
}

/**
 * Slow, salted password hashing (argon2id). Implementations cap how many hashes run at once, so a
 * burst of requests queues instead of exhausting memory.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/**
 * Authenticated encryption for secrets at rest (TOTP seeds, phone numbers, addresses, outbox
 * payloads). Ciphertexts carry the id of the key that made them so keys can rotate; `context` is
 * bound as additional data so a ciphertext cannot be moved to another row.
 */
export interface SecretCipher {
  encrypt(plaintext: string, context: string): string;
  decrypt(ciphertext: string, context: string): string;
}

/**
 * Keyed hashing for lookup secrets (codes, tokens, identifiers in audit data). A stolen database
 * without the key does not let an attacker test guesses offline.
 */
export interface SecretHasher {
  /** HMAC-SHA-256 under a key derived for `purpose`, hex encoded. */
  mac(purpose: string, value: string): string;
  /** Constant-time comparison of two hex digests (TOK-18). */
  equal(a: string, b: string): boolean;
}
