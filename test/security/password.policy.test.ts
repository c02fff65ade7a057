import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parsePolicy } from '../../src/core/policy/load.ts';
import type { Policy } from '../../src/core/policy/schema.ts';
import { ENGINES, call, createPerson, enrolEmailAndTotp, json, startHarness, type Enrolled, type Harness, type Person } from '../support/harness.ts';
import { DEFAULT_POLICY_TEXT, accountRow, asAccount, freshGrant } from './support.ts';

/*
 * PWD-1 (minimum 15 by default, never below 8), PWD-2 (64+ characters accepted and verified in
 * full, no truncation or case folding), PWD-3 (no composition rules), PWD-4 (common, breached-looking
 * and context passwords refused), PWD-5 (Unicode set and verified the same in NFC and NFD), and
 * PWD-10 (empty or blank passwords refused before the directory) on the built-in directory.
 */

/** A passphrase of exactly `length` characters built from plain words. */
function passphrase(length: number, salt: string): string {
  const words = ['harbour', 'lantern', 'copper', 'meadow', 'quiet', 'falcon', 'violet', 'granite', 'orchard', 'ember', 'willow', 'tundra', 'saffron', 'cobalt'];
  let text = salt;
  for (let i = 0; text.length < length; i += 1) text += ` ${words[(i * 5 + salt.length) % words.length] ?? 'x'}`;
  return text.slice(0, length);
}

/** Flips the case of every letter. */
const swapCase = (text: string): string => [...text].map((char) => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase())).join('');

describe.each(ENGINES)('password rules at the final step on %s', (engine) => {
  let h: Harness;
  let pip: Person;
  let enrolled: Enrolled;

  beforeAll(async () => {
    h = await startHarness({ engine });
    pip = await createPerson(h, 'pip');
    enrolled = await enrolEmailAndTotp(h, pip);
  });
  afterAll(async () => {
    await h.close();
  });

  const set = (grant: string, password: string) => call(h, 'POST', '/api/recovery/flow/password', { password, confirmPassword: password }, { token: grant });
  const verify = (password: string) => h.latchkey.deps.directory.verifyPassword(asAccount(pip.accountId), password);
  const reasonsOf = (response: Awaited<ReturnType<typeof set>>): string[] => json<{ reasons: string[] }>(response).reasons;

  it('PWD-1 refuses 14 characters and accepts 15 under the default policy', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    const short = await set(grant, 'velvet moon ok');
    expect([...'velvet moon ok']).toHaveLength(14);
    expect(short.statusCode).toBe(422);
    expect(json(short)['code']).toBe('password.policy');
    expect(reasonsOf(short).join(' ')).toMatch(/at least 15/);
    expect(await verify('velvet moon ok')).toBe('invalid');
    expect(await verify(pip.password)).toBe('valid');
    expect((await set(grant, 'velvet moon oak')).statusCode).toBe(200);
    expect(await verify('velvet moon oak')).toBe('valid');
  });

  it('PWD-1 ships a minimum of 15 and the policy schema refuses a minimum below 8', () => {
    const parsed = parsePolicy(DEFAULT_POLICY_TEXT, 'default.yaml');
    expect(parsed.ok && parsed.policy.tiers.standard.password.minLength).toBe(15);
    expect(parsed.ok && parsed.policy.tiers.privileged.password.minLength).toBe(15);
    const policy = parse(DEFAULT_POLICY_TEXT) as Policy;
    policy.tiers.standard.password.minLength = 7;
    expect(parsePolicy(stringify(policy), 'policy.yaml').ok).toBe(false);
    policy.tiers.standard.password.minLength = 8;
    policy.tiers.standard.password.maxLength = 63;
    expect(parsePolicy(stringify(policy), 'policy.yaml').ok).toBe(false);
  });

  it('PWD-2 accepts a 64-character password and verifies it only in full and in its exact case', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    const password = passphrase(64, 'sixty four');
    expect(password).toHaveLength(64);
    expect((await set(grant, password)).statusCode).toBe(200);
    expect(await verify(password)).toBe('valid');
    expect(await verify(`${password.slice(0, 63)}${password.endsWith('z') ? 'y' : 'z'}`)).toBe('invalid');
    expect(await verify(password.slice(0, 63))).toBe('invalid');
    expect(await verify(password)).toBe('valid');
    expect(await verify(swapCase(password))).toBe('invalid');
    expect(await verify(`${password}x`)).toBe('invalid');
    expect(await verify(password)).toBe('valid');
  });

  it('PWD-2 accepts a 200-character password, with no truncation at 72 bytes, and refuses one over the 256 limit', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    const tooLong = passphrase(257, 'too long');
    const refused = await set(grant, tooLong);
    expect(refused.statusCode).toBe(422);
    expect(reasonsOf(refused).join(' ')).toMatch(/at most 256/);
    const password = passphrase(200, 'two hundred');
    expect((await set(grant, password)).statusCode).toBe(200);
    expect(await verify(password)).toBe('valid');
    // Same first 72 bytes, different tail: a bcrypt-style truncation would accept it.
    expect(await verify(`${password.slice(0, 72)}${passphrase(128, 'different tail')}`)).toBe('invalid');
    expect(await verify(`${password.slice(0, 199)}${password.endsWith('q') ? 'r' : 'q'}`)).toBe('invalid');
    expect(await verify(password)).toBe('valid');
    expect(await verify(swapCase(password))).toBe('invalid');
    expect(await verify(password)).toBe('valid');
  });

  it('PWD-4 refuses common, padded, username-based and organisation-based passwords; PWD-3 then accepts a plain lower-case passphrase', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    const refused: [string, RegExp][] = [
      ['Password1234567', /common/],
      ['P@ssw0rd!!!!!!!!', /common/],
      ['qwertyuiop123456', /common|repeat|run/],
      ['pippippippippippip', /pip|repeat/],
      ['Pip.Pip.2026!!!!!', /pip/],
      ['Latchkey2026!!!!!!', /latchkey/i],
      ['latchkeylatchkey', /latchkey|repeat/i],
      ['abcdefghijklmnopq', /run|repeat/],
    ];
    for (const [password, reason] of refused) {
      const response = await set(grant, password);
      expect(response.statusCode, password).toBe(422);
      expect(json(response)['code']).toBe('password.policy');
      expect(reasonsOf(response).join(' '), password).toMatch(reason);
    }
    // No composition rules: lower-case letters and spaces only.
    expect((await set(grant, 'correct horse battery staple long')).statusCode).toBe(200);
    expect(await verify('correct horse battery staple long')).toBe('valid');
  });

  it('PWD-5 sets a Unicode passphrase and signs in with it typed in NFC and in NFD', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    const typed = 'pässwörd ✓ ﬁ long enough';
    const nfc = typed.normalize('NFC');
    const nfd = typed.normalize('NFD');
    expect(nfd).not.toBe(nfc);
    expect((await set(grant, nfc)).statusCode).toBe(200);
    for (const form of [nfc, nfd]) {
      const signIn = await call(h, 'POST', '/api/me/sign-in', { username: 'pip', password: form });
      expect(signIn.statusCode).toBe(200);
      expect(json(signIn)['status']).toBe('gate_required');
    }
    expect(await verify(nfd)).toBe('valid');
    // Not silently mangled: dropping the tick, or the accents, is a different password.
    expect(await verify(nfc.replace('✓', '?'))).toBe('invalid');
    expect(await verify('passwort ✓ ﬁ long enough')).toBe('invalid');
    expect(await verify(nfc)).toBe('valid');
  });

  it('PWD-10 refuses empty and blank passwords at sign-in before the directory sees them', async () => {
    const before = await accountRow(h, pip.accountId);
    expect(before.failed_sign_ins).toBe(0);
    for (const password of ['', ' ', '   ', '\t\n', '\u00a0', '\u3000']) {
      const response = await call(h, 'POST', '/api/me/sign-in', { username: 'pip', password });
      expect(response.statusCode, JSON.stringify(password)).toBe(401);
      expect(json(response)['code']).toBe('auth.failed');
    }
    // The built-in directory counts every password it checks; none of these reached it.
    expect((await accountRow(h, pip.accountId)).failed_sign_ins).toBe(0);
    // A wrong non-blank password does reach it (positive control).
    expect((await call(h, 'POST', '/api/me/sign-in', { username: 'pip', password: 'not the password at all' })).statusCode).toBe(401);
    expect((await accountRow(h, pip.accountId)).failed_sign_ins).toBe(1);
  });

  it('PWD-10 refuses a blank or invisible new password at the final step', async () => {
    const { grant } = await freshGrant(h, pip, enrolled);
    for (const password of [' '.repeat(20), '\u200b'.repeat(20), '\t'.repeat(16), '\u0000'.repeat(16)]) {
      const response = await set(grant, password);
      expect(response.statusCode).toBe(422);
      expect(json(response)['code']).toBe('password.policy');
    }
  });
});
