import { expect } from 'vitest';
import { call, json, oathtoolCode, startFlow, type Enrolled, type FlowBody, type Harness } from '../support/harness.ts';
import { nextTotpStep } from '../security/support.ts';

/**
 * A privileged reset or unlock through the API: authenticator app, then a recovery code, then the
 * new password (or the unlock). Returns the flow id.
 */
export async function privilegedRecovery(h: Harness, username: string, enrolled: Enrolled, codeIndex: number, purpose: 'reset' | 'unlock' = 'reset'): Promise<string> {
  nextTotpStep(h.clock);
  const { token, body } = await startFlow(h, username, purpose);
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
  const first = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token }));
  const next = first.flowToken as string;
  await call(h, 'POST', '/api/recovery/flow/method', { method: 'recovery_code' }, { token: next });
  const granted = json<FlowBody>(await call(h, 'POST', '/api/recovery/flow/answer', { code: enrolled.recoveryCodes[codeIndex] }, { token: next }));
  expect(granted.flow.step).toBe(purpose === 'reset' ? 'awaiting_new_password' : 'awaiting_unlock_confirmation');
  const grant = granted.flowToken as string;
  const done =
    purpose === 'reset'
      ? await call(h, 'POST', '/api/recovery/flow/password', { password: `violet harbour drifts ${codeIndex} quiet miles`, confirmPassword: `violet harbour drifts ${codeIndex} quiet miles` }, { token: grant })
      : await call(h, 'POST', '/api/recovery/flow/unlock', {}, { token: grant });
  expect(done.statusCode, done.body).toBe(200);
  expect(json<FlowBody>(done).flow.step).toBe('completed');
  return body.flow.flowId;
}
