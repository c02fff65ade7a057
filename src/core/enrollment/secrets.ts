import type { EnrollmentId } from '../account/ids.ts';
import type { SecretCipher } from '../ports/system.ts';

/** The AAD that binds an enrollment's secret ciphertext to its row, so it cannot be moved to another. */
export const enrollmentContext = (id: EnrollmentId | string): string => `enrollment:${id}`;

/**
 * An enrollment's secret, decrypted under its row's context (enrollmentContext) and parsed: the
 * method's own JSON, handed to its beginChallenge and verify. Throws if the ciphertext was moved or altered.
 */
export function openEnrollmentSecret(cipher: SecretCipher, enrollment: { readonly id: EnrollmentId | string; readonly secretCiphertext: string }): Record<string, unknown> {
  return JSON.parse(cipher.decrypt(enrollment.secretCiphertext, enrollmentContext(enrollment.id))) as Record<string, unknown>;
}
