import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from '../../src/cli/main.ts';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { TOTP_CHALLENGE_TTL_SECONDS } from '../../src/core/methods/totp/totp.ts';
import { RECOVERY_CODE_CHALLENGE_TTL_SECONDS } from '../../src/core/methods/recovery-code/recovery-code.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, startFlow, startHarness, type Enrolled, type FlowBody, type Harness, type Person } from '../support/harness.ts';
import { DEFAULT_POLICY_TEXT, accountRow, alignToMidStep, enrolPhone, freshGrant, nextTotpStep } from './support.ts';

/*
 * TOK-3: codes, flows and grants expire on the server clock (the client never controls time), the
 * policy schema refuses lifetimes above the hard caps (SMS 10 minutes, email 24 hours), and the
 * shipped defaults are at most 10 minutes.
 */

const NEW_PASSWORD = 'slow tide under copper bridges';

/** The default policy with one edit, as YAML text. */
function editedPolicy(edit: (policy: Policy) => void): string {
  const policy = parse(DEFAULT_POLICY_TEXT) as Policy;
  edit(policy);
  return stringify(policy);
}

describe('TOK-3 lifetime caps in the policy schema', () => {
  it('TOK-3 refuses an SMS code lifetime of 900 s and accepts 600 s', () => {
    const refused = parsePolicy(editedPolicy((policy) => void (policy.methods.sms_code.codeTtlSeconds = 900)), 'policy.yaml');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.errors.map((error) => error.path)).toContain('methods.sms_code.codeTtlSeconds');
    expect(parsePolicy(editedPolicy((policy) => void (policy.methods.sms_code.codeTtlSeconds = 600)), 'policy.yaml').ok).toBe(true);
  });

  it('TOK-3 refuses an email code lifetime of 90,000 s (25 h) and accepts 86,400 s (24 h)', () => {
    const refused = parsePolicy(editedPolicy((policy) => void (policy.methods.email_code.codeTtlSeconds = 90_000)), 'policy.yaml');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.errors.map((error) => error.path)).toContain('methods.email_code.codeTtlSeconds');
    expect(parsePolicy(editedPolicy((policy) => void (policy.methods.email_code.codeTtlSeconds = 86_400)), 'policy.yaml').ok).toBe(true);
  });

  it('TOK-3 refuses unlimited or absent lifetimes (no value means no policy, never "no expiry")', () => {
    for (const edit of [
      (policy: Policy): void => void delete (policy.methods.email_code as Partial<Policy['methods']['email_code']>).codeTtlSeconds,
      (policy: Policy): void => void ((policy.methods.sms_code as { codeTtlSeconds: unknown }).codeTtlSeconds = null),
      (policy: Policy): void => void (policy.methods.email_code.codeTtlSeconds = 0),
      (policy: Policy): void => void (policy.tiers.standard.flowTtlSeconds = 86_400),
    ]) {
      expect(parsePolicy(editedPolicy(edit), 'policy.yaml').ok).toBe(false);
    }
  });

  it('TOK-3 `latchkey policy check` refuses a policy with an SMS code lifetime over 10 minutes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-tok3-'));
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const bad = join(dir, 'sms-900.yaml');
      await writeFile(bad, editedPolicy((policy) => void (policy.methods.sms_code.codeTtlSeconds = 900)));
      expect(await runCli(['policy', 'check', bad])).toBe(1);
      expect(written.join('')).toMatch(/methods\.sms_code\.codeTtlSeconds: SMS codes live at most 10 minutes/);
      process.exitCode = undefined;
      written.length = 0;
      const good = join(dir, 'default.yaml');
      await writeFile(good, DEFAULT_POLICY_TEXT);
      expect(await runCli(['policy', 'check', good])).toBe(0);
      expect(written.join('')).toContain('valid');
    } finally {
      spy.mockRestore();
      process.exitCode = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('TOK-3 ships lifetimes of at most 10 minutes for every code, challenge and grant', () => {
    const parsed = parsePolicy(DEFAULT_POLICY_TEXT, 'default.yaml');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const { policy } = parsed;
    expect(policy.methods.email_code.codeTtlSeconds).toBeLessThanOrEqual(600);
    expect(policy.methods.sms_code.codeTtlSeconds).toBeLessThanOrEqual(600);
    expect(TOTP_CHALLENGE_TTL_SECONDS).toBeLessThanOrEqual(600);
    expect(RECOVERY_CODE_CHALLENGE_TTL_SECONDS).toBeLessThanOrEqual(600);
    for (const tier of [policy.tiers.standard, policy.tiers.privileged]) {
      expect(tier.grantTtlSeconds).toBeLessThanOrEqual(600);
      // The whole flow (several codes in a row) is bounded too: 15 minutes at most.
      expect(tier.flowTtlSeconds).toBeLessThanOrEqual(900);
    }
  });
});

describe.each(ENGINES)('TOK-3 expiry on the server clock on %s', (engine) => {
  let h: Harness;
  let eve: Person;
  let enrolled: Enrolled;
  const phone = '+447700900456';

  beforeAll(async () => {
    h = await startHarness({ engine });
    eve = await createPerson(h, 'eve');
    enrolled = await enrolEmailAndTotp(h, eve);
    await enrolPhone(h, enrolled.session, phone);
  });
  afterAll(async () => {
    await h.close();
  });

  const ttl = (method: 'email_code' | 'sms_code'): number => h.latchkey.deps.policy().methods[method].codeTtlSeconds;

  async function codeAfter(method: 'email_code' | 'sms_code', to: string, seconds: number): Promise<number> {
    const { token } = await startFlow(h, 'eve');
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method }, { token })).statusCode).toBe(200);
    const code = await latestCode(h, to);
    h.clock.advance(seconds);
    const answered = await call(h, 'POST', '/api/recovery/flow/answer', { code }, { token });
    if (answered.statusCode !== 200) expect(json(answered)['code']).toBe('challenge.invalid');
    return answered.statusCode;
  }

  it('TOK-3 accepts an email code one second before its lifetime ends and refuses it one second after', async () => {
    expect(await codeAfter('email_code', enrolled.altEmail, ttl('email_code') - 1)).toBe(200);
    expect(await codeAfter('email_code', enrolled.altEmail, ttl('email_code') + 1)).toBe(422);
  });

  it('TOK-3 accepts an SMS code one second before its lifetime ends and refuses it one second after', async () => {
    expect(await codeAfter('sms_code', phone, ttl('sms_code') - 1)).toBe(200);
    expect(await codeAfter('sms_code', phone, ttl('sms_code') + 1)).toBe(422);
  });

  it('TOK-3 closes an authenticator-app challenge after its lifetime, even for a currently valid code', async () => {
    nextTotpStep(h.clock);
    const { token } = await startFlow(h, 'eve');
    await call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token });
    h.clock.advance(TOTP_CHALLENGE_TTL_SECONDS + 1);
    alignToMidStep(h.clock);
    const late = await call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token });
    expect(late.statusCode).toBe(422);
  });

  it('TOK-3 ends the whole flow after the flow lifetime: its token then opens nothing', async () => {
    const { token } = await startFlow(h, 'eve');
    h.clock.advance(h.latchkey.deps.policy().tiers.standard.flowTtlSeconds + 1);
    const expired = await call(h, 'GET', '/api/recovery/flow', undefined, { token });
    expect(expired.statusCode).toBe(410);
    expect(json(expired)['code']).toBe('flow.expired');
    expect((await call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token })).statusCode).toBe(404);
  });

  it('TOK-3 lets a grant lapse after its lifetime: no password is set with it', async () => {
    const before = await accountRow(h, eve.accountId);
    const { grant } = await freshGrant(h, eve, enrolled);
    h.clock.advance(h.latchkey.deps.policy().tiers.standard.grantTtlSeconds + 1);
    const late = await call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token: grant });
    expect(late.statusCode).toBe(410);
    expect((await accountRow(h, eve.accountId)).password_hash).toBe(before.password_hash);
    expect((await call(h, 'GET', '/api/recovery/flow', undefined, { token: grant })).statusCode).toBe(404);
    expect(json<FlowBody>(await call(h, 'POST', '/api/recovery/flows', { identifier: 'eve' })).flow.step).toBe('awaiting_method_choice');
  });
});
