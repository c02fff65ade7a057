import type { ZodType } from 'zod';
import { DomainError } from '../../errors.ts';
import type { EnrolledSecret } from '../method.ts';

/**
 * An `enrollment.invalid_input` error whose detail names the field, e.g.
 * `address: must be an email address like name@example.org`.
 */
export function invalidInput(field: string, problem: string): DomainError {
  return new DomainError('enrollment.invalid_input', `${field}: ${problem}`, { field });
}

/**
 * Parses enrollment input with a zod schema; on failure throws {@link invalidInput} naming the
 * first offending field (or `input` for the object itself). Never echoes the value.
 */
export function parseEnrollInput<T>(schema: ZodType<T>, input: unknown, describe: (field: string) => string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue === undefined || issue.path.length === 0 ? 'input' : issue.path.map(String).join('.');
  if (issue?.code === 'unrecognized_keys') return fail('input', `unexpected field(s): ${issue.keys.map((key) => key.slice(0, 32)).join(', ')}`);
  return fail(field, describe(field));
}

function fail(field: string, problem: string): never {
  throw invalidInput(field, problem);
}

/**
 * A string field of a decrypted enrollment secret. A missing field is a corrupt enrollment (an
 * internal error), not something the person did.
 */
export function secretString(enrollment: EnrolledSecret, field: string, methodId: string): string {
  const value = enrollment.secret[field];
  if (typeof value !== 'string' || value === '') throw new Error(`${methodId} enrollment ${enrollment.id} has no ${field} in its secret`);
  return value;
}
