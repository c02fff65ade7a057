import type { DirectoryAccount } from '../account/account.ts';
import type { EnrollmentId } from '../account/ids.ts';
import type { MessageChannelKind } from '../ports/message-channel.ts';
import type { Repositories } from '../ports/store.ts';
import type { SecretCipher } from '../ports/system.ts';
import { enrollmentContext } from '../enrollment/secrets.ts';

/**
 * Every address of record a security notice goes to: the directory's work email and each active
 * alternate email or phone the person registered (SESS-4). Never an address from the request.
 */
export async function noticeRecipients(
  tx: Repositories,
  cipher: SecretCipher,
  account: DirectoryAccount,
  options: { readonly includeEnrollment?: EnrollmentId; readonly excludeEnrollment?: EnrollmentId } = {},
): Promise<Map<string, MessageChannelKind>> {
  const recipients = new Map<string, MessageChannelKind>();
  if (account.workEmail) recipients.set(account.workEmail, 'email');
  for (const enrollment of await tx.enrollments.listForAccount(account.id)) {
    if (enrollment.methodId !== 'email_code' && enrollment.methodId !== 'sms_code') continue;
    if (enrollment.id === options.excludeEnrollment) continue;
    if (enrollment.status !== 'active' && enrollment.id !== options.includeEnrollment) continue;
    const secret = JSON.parse(cipher.decrypt(enrollment.secretCiphertext, enrollmentContext(enrollment.id))) as Record<string, unknown>;
    const to = enrollment.methodId === 'email_code' ? secret['address'] : secret['phone'];
    if (typeof to === 'string') recipients.set(to, enrollment.methodId === 'email_code' ? 'email' : 'sms');
  }
  return recipients;
}
