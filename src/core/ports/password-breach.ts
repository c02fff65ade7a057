/**
 * Checks a password against a breached-password corpus. Implementations must never send the
 * password or its full hash anywhere (k-anonymity: only a 5-character SHA-1 prefix leaves).
 * Throws DomainError('dependency.unavailable') when the service cannot answer.
 */
export interface BreachedPasswordCheck {
  timesSeen(password: string): Promise<number>;
}
