import type { EnrollmentId } from '../account/ids.ts';
import type { VerifyOutcome } from '../methods/method.ts';
import type { Repositories } from '../ports/store.ts';
import type { SecretCipher } from '../ports/system.ts';
import { enrollmentContext } from './secrets.ts';

/**
 * Writes a match's `secretUpdate` (a passkey's credential or new signature counter), compare-and-set
 * against the ciphertext the verification read. True when there is nothing to write or it was
 * written; false when another request changed the secret in between, and then the match must not
 * count.
 *
 * SECURITY: without the compare-and-set, two assertions verified against the same stored counter
 * could both pass, and a cloned authenticator would go unnoticed.
 */
export async function applySecretUpdate(tx: Repositories, cipher: SecretCipher, enrollmentId: EnrollmentId, readCiphertext: string, verdict: VerifyOutcome): Promise<boolean> {
  if (verdict.kind !== 'match' || verdict.secretUpdate === undefined) return true;
  return tx.enrollments.replaceSecret(enrollmentId, readCiphertext, cipher.encrypt(JSON.stringify(verdict.secretUpdate), enrollmentContext(enrollmentId)));
}
