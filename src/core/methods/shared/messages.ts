import type { MessagePurpose } from '../../ports/message-channel.ts';
import type { MethodContext } from '../method.ts';

/**
 * Text from the policy made safe for a message: control and format characters become spaces,
 * runs of whitespace collapse, and the result is cut to `max` characters.
 *
 * SECURITY: organisationName ends up in a mail subject; a CR/LF in it must never become a header
 * break (header injection), even though the policy is operator-written.
 */
export function plainText(value: string, max: number): string {
  const flat = value.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ').replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/** `10 minutes`, `1 minute`, `24 hours`: a code lifetime as people read it (rounded up). */
export function lifetimeText(ttlSeconds: number): string {
  const minutes = Math.max(1, Math.ceil(ttlSeconds / 60));
  if (minutes >= 120 && minutes % 60 === 0) return `${minutes / 60} hours`;
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/** What the person (or someone else) asked for, as one clause: "reset the password of". */
export function purposeClause(purpose: MethodContext['purpose']): string {
  switch (purpose) {
    case 'reset':
      return 'reset the password of your';
    case 'unlock':
      return 'unlock your';
    case 'enrollment':
      return 'add this as a recovery method to your';
    case 'sign_in':
      return 'sign in to manage the recovery methods of your';
  }
}

/** A short noun for the code's purpose: "password reset code". */
export function purposeNoun(purpose: MethodContext['purpose']): string {
  switch (purpose) {
    case 'reset':
      return 'password reset code';
    case 'unlock':
      return 'account unlock code';
    case 'enrollment':
      return 'verification code';
    case 'sign_in':
      return 'sign-in code';
  }
}

/** The outbox purpose of a code message. */
export function messagePurpose(purpose: MethodContext['purpose']): MessagePurpose {
  return purpose === 'enrollment' ? 'enrollment_code' : 'challenge_code';
}
