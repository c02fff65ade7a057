import type { AccountId, EnrollmentId } from '../account/ids.ts';
import type { Repositories } from '../ports/store.ts';

/**
 * How a phone activation changes the account's phones, for the audit trail (`phone` in the data of
 * `enrollment.activated`): `changed` when another phone was already active, so a number now
 * stands beside or in place of an earlier one; `added` for the account's first phone. Removing the
 * old number first and then adding a new one shows as `removed` followed by `added`; the
 * recent_method_change detector reads that pair as a change too.
 */
export async function phoneChangeOf(tx: Repositories, accountId: AccountId, activating: EnrollmentId): Promise<'added' | 'changed'> {
  const others = (await tx.enrollments.listForAccount(accountId)).filter((enrollment) => enrollment.methodId === 'sms_code' && enrollment.status === 'active' && enrollment.id !== activating);
  return others.length > 0 ? 'changed' : 'added';
}
