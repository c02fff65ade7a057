import type { EnrollmentId } from '../account/ids.ts';

/** The AAD that binds an enrollment's secret ciphertext to its row, so it cannot be moved to another. */
export const enrollmentContext = (id: EnrollmentId | string): string => `enrollment:${id}`;
