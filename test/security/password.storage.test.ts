import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policySchema } from '../../src/core/policy/schema.ts';
import { ENGINES, allMessages, auditEvents, call, createPerson, enrolEmailAndTotp, json, latestCode, oathtoolCode, startHarness, type Harness } from '../support/harness.ts';
import { accountRow, defaultPolicy, dumpStore, nextTotpStep } from './support.ts';

/*
 * PWD-7: neither the old nor the new password ever appears in a response, a message, the audit
 * trail or the store. PWD-8: the built-in store keeps argon2id hashes with the documented
 * parameters and a unique salt per hash. PWD-9: Latchkey imposes no expiry, rotation or history of
 * its own: no policy key, optional ones included, is one (the SIM-swap `maxAgeHours` is about SIM
 * cards and is named as such).
 */

const ARGON2ID_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
const SHARED_PASSWORD = 'identical twins share one passphrase';
const NEW_PASSWORD = 'brass compass under juniper shade';

/** `$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` → its salt. */
const saltOf = (hash: string): string => hash.split('$')[4] ?? '';

/** Words of a password ageing rule: expiry, rotation, history, a maximum age, a forced change, no reuse. */
const AGEING_WORDS = /expir|rotat|histor|max_?age|must_?change|change_?required|force|reuse|previous|remember/i;
/** Under anything named password, every time-like setting is an ageing rule. */
const TIME_WORDS = /age|days|hours|minutes|seconds|interval|lifetime|ttl|period|window/i;
/** Keys that match the words above but are no password rule, each with what it is. */
const NOT_PASSWORD_AGEING: Readonly<Record<string, string>> = {
  'simSwap.maxAgeHours': 'how recent a SIM card change makes a phone no sms_code gate (docs/sim-swap-and-travel.md)',
};
const passwordAgeing = (key: string): boolean => !(key in NOT_PASSWORD_AGEING) && (AGEING_WORDS.test(key) || (/password/i.test(key) && TIME_WORDS.test(key)));

/** Every key the policy schema knows, optional ones included (records as `*`). */
function schemaKeys(schema: unknown, path: string, keys: Set<string> = new Set()): Set<string> {
  const def = (schema as { _zod?: { def: Record<string, unknown> & { type: string } } } | undefined)?._zod?.def;
  if (!def) return keys;
  const walk = (child: unknown, at = path): void => void schemaKeys(child, at, keys);
  switch (def.type) {
    case 'object':
      for (const [key, child] of Object.entries(def['shape'] as Record<string, unknown>)) {
        keys.add(`${path}${key}`);
        walk(child, `${path}${key}.`);
      }
      break;
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      walk(def['innerType']);
      break;
    case 'pipe':
      walk(def['in']);
      walk(def['out']);
      break;
    case 'record':
      walk(def['valueType'], `${path}*.`);
      break;
    case 'array':
      walk(def['element']);
      break;
    case 'union':
      for (const option of def['options'] as unknown[]) walk(option);
      break;
    case 'intersection':
      walk(def['left']);
      walk(def['right']);
      break;
    default:
      break;
  }
  return keys;
}

/** Every key of a parsed policy document. */
function documentKeys(value: unknown, path: string, keys: string[] = []): string[] {
  if (value === null || typeof value !== 'object') return keys;
  for (const [key, child] of Object.entries(value)) {
    keys.push(`${path}${key}`);
    documentKeys(child, `${path}${key}.`, keys);
  }
  return keys;
}

describe.each(ENGINES)('password storage and disclosure on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ engine });
  });
  afterAll(async () => {
    await h.close();
  });

  it('PWD-8 stores argon2id hashes with m=19456, t=2, p=1 and a distinct salt, even for identical passwords', async () => {
    const one = await createPerson(h, 'twinone', { password: SHARED_PASSWORD });
    const two = await createPerson(h, 'twintwo', { password: SHARED_PASSWORD });
    const [a, b] = [(await accountRow(h, one.accountId)).password_hash, (await accountRow(h, two.accountId)).password_hash];
    for (const hash of [a, b]) {
      expect(hash.startsWith(ARGON2ID_PREFIX)).toBe(true);
      // A salt of at least 16 bytes (22 base64 characters without padding).
      expect(saltOf(hash).length).toBeGreaterThanOrEqual(22);
      expect(hash).not.toContain(SHARED_PASSWORD);
    }
    expect(a).not.toBe(b);
    expect(saltOf(a)).not.toBe(saltOf(b));
  });

  it('PWD-7 PWD-8 PWD-9 a reset through the API discloses neither password anywhere, stores a fresh argon2id hash, and sets no expiry', async () => {
    const ola = await createPerson(h, 'ola');
    const enrolled = await enrolEmailAndTotp(h, ola);
    const before = await accountRow(h, ola.accountId);
    const responses: LightMyRequestResponse[] = [];
    const record = async (response: Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> => {
      const settled = await response;
      responses.push(settled);
      return settled;
    };

    nextTotpStep(h.clock);
    const started = await record(call(h, 'POST', '/api/recovery/flows', { identifier: 'ola' }));
    let token = json<{ flowToken: string }>(started).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'email_code' }, { token }));
    token = json<{ flowToken: string }>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code: await latestCode(h, enrolled.altEmail) }, { token }))).flowToken;
    await record(call(h, 'POST', '/api/recovery/flow/method', { method: 'totp' }, { token }));
    token = json<{ flowToken: string }>(await record(call(h, 'POST', '/api/recovery/flow/answer', { code: oathtoolCode(enrolled.totpSeed, h.clock) }, { token }))).flowToken;
    // A refused attempt first (it must not echo the password in its reasons), then the real one.
    const weak = `${ola.username}${ola.username}${ola.username}2026!!!!`;
    expect((await record(call(h, 'POST', '/api/recovery/flow/password', { password: weak, confirmPassword: weak }, { token }))).statusCode).toBe(422);
    const mismatch = await record(call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: `${NEW_PASSWORD}!` }, { token }));
    expect(mismatch.statusCode).toBe(422);
    expect((await record(call(h, 'POST', '/api/recovery/flow/password', { password: NEW_PASSWORD, confirmPassword: NEW_PASSWORD }, { token }))).statusCode).toBe(200);
    const signIn = await record(call(h, 'POST', '/api/me/sign-in', { username: 'ola', password: NEW_PASSWORD }));
    await record(call(h, 'POST', '/api/me/sign-in', { username: 'ola', password: ola.password }));

    // PWD-7: no response (body or header), message, audit event or stored value carries either password.
    const secrets = [NEW_PASSWORD, ola.password, weak];
    for (const response of responses) {
      const text = `${JSON.stringify(response.headers)}\n${response.body}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    const messages = await allMessages(h);
    expect(messages.some((message) => message.purpose === 'recovery_notice')).toBe(true);
    for (const message of messages) for (const secret of secrets) expect(`${message.subject}\n${message.text}`).not.toContain(secret);
    const audit = JSON.stringify(await auditEvents(h));
    for (const secret of secrets) expect(audit).not.toContain(secret);
    const stored = JSON.stringify(await dumpStore(h), (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    for (const secret of secrets) expect(stored).not.toContain(secret);

    // PWD-8: the new hash has the same parameters and a fresh salt.
    const after = await accountRow(h, ola.accountId);
    expect(after.password_hash.startsWith(ARGON2ID_PREFIX)).toBe(true);
    expect(saltOf(after.password_hash)).not.toBe(saltOf(before.password_hash));

    // PWD-9: signing in with the new password is a normal sign-in (gate next), not a forced change.
    expect(json(signIn)['status']).toBe('gate_required');
    expect(Object.keys(after).filter((column) => /expir|must|rotat|change_required|max_age/i.test(column))).toEqual([]);
  });

  it('PWD-9 the policy has no password expiry, rotation or history setting', () => {
    const keys = new Set([...schemaKeys(policySchema, ''), ...documentKeys(policySchema.parse(defaultPolicy()), '')]);
    expect(keys).toContain('tiers.standard.password.minLength');
    expect(keys.size).toBeGreaterThan(100);
    // Each exception names a key that exists and says what it is, so the list cannot go stale.
    for (const key of Object.keys(NOT_PASSWORD_AGEING)) expect(keys, key).toContain(key);
    expect([...keys].filter(passwordAgeing)).toEqual([]);
  });

  it('PWD-9 the check above would catch a password expiry, rotation or history setting wherever it were added', () => {
    const planted = [
      'tiers.standard.password.maxAgeDays',
      'tiers.standard.password.expiryDays',
      'tiers.privileged.password.historySize',
      'tiers.standard.password.rememberPrevious',
      'tiers.standard.password.minimumAgeHours',
      'tiers.standard.password.mustChangeAtFirstSignIn',
      'passwordRotationDays',
      'signIn.passwordExpiresAfterDays',
      'signIn.forcePasswordChangeAfterDays',
      'simSwap.passwordMaxAgeHours',
      'lifecycle.reconfirmation.passwordHistory',
    ];
    expect(planted.filter((key) => !passwordAgeing(key))).toEqual([]);
  });
});
