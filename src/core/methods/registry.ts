import type { MethodId } from './method-ids.ts';
import type { RecoveryMethod } from './method.ts';
import { emailCodeMethod } from './email-code/email-code.ts';
import { smsCodeMethod } from './sms-code/sms-code.ts';
import { totpMethod } from './totp/totp.ts';
import { recoveryCodeMethod } from './recovery-code/recovery-code.ts';
import { securityQuestionsMethod } from './security-questions/security-questions.ts';
import { temporaryAccessPassMethod } from './temporary-access-pass/temporary-access-pass.ts';
import { webauthnMethod } from './webauthn/webauthn.ts';

/**
 * Every recovery method, by id. The flow engine finds methods only here.
 *
 * Why: a `Record<MethodId, …>` makes the compiler refuse a new method id without an
 * implementation, and keeps the engine free of per-method branches (STYLE §1.3).
 */
export const METHOD_REGISTRY: Readonly<Record<MethodId, RecoveryMethod>> = Object.freeze({
  email_code: emailCodeMethod,
  sms_code: smsCodeMethod,
  totp: totpMethod,
  recovery_code: recoveryCodeMethod,
  security_questions: securityQuestionsMethod,
  temporary_access_pass: temporaryAccessPassMethod,
  webauthn: webauthnMethod,
});

/** The method for `id`. */
export function getMethod(id: MethodId): RecoveryMethod {
  return METHOD_REGISTRY[id];
}
