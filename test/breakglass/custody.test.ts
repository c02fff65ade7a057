import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkCustody, combineShares, generateBreakGlassPassword, splitPassword } from '../../src/core/breakglass/custody.ts';
import { decodeShare, encodeShare } from '../../src/core/breakglass/share-code.ts';
import { compareWithSeal, nextDrillDue } from '../../src/core/breakglass/watch.ts';
import { signDrillEvidence, verifyDrillEvidence, type DrillEvidence } from '../../src/core/breakglass/evidence.ts';
import { createCheckpointVerifier, keyIdOf } from '../../src/adapters/audit-evidence/signing-key.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';
import { sign } from 'node:crypto';

/* The pure parts of break-glass custody: share codes, the Shamir split, custody rules, the watch comparison and drill evidence. */

const SEAL = '0b6f2a3c-5d4e-4f60-8a71-9b8c7d6e5f40';
const OTHER_SEAL = '1c7f3b4d-6e5f-4a71-9b82-0c9d8e7f6a51';
const random = createSystemRandom();

describe('share codes', () => {
  it('round-trips a share in dash-separated Crockford base32 groups, carrying the seal id and number', () => {
    const share = { sealId: SEAL, number: 3, share: Uint8Array.from([1, 2, 3, 250, 251, 252, 7]) };
    const code = encodeShare(share);
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{1,5}(-[0-9A-HJKMNP-TV-Z]{1,5})+$/);
    expect(decodeShare(code)).toEqual({ ok: true, share });
    // Typed loosely: lower case, spaces instead of dashes, O for 0 and I/L for 1 still read the same.
    const loose = code.toLowerCase().replaceAll('-', ' ').replaceAll('0', 'o').replaceAll('1', 'l');
    expect(decodeShare(loose)).toEqual({ ok: true, share });
  });

  it('catches every single mistyped character and a missing group before combining', () => {
    const code = encodeShare({ sealId: SEAL, number: 1, share: random.bytes(41) });
    const compact = code.replaceAll('-', '');
    for (let at = 0; at < compact.length; at += 1) {
      const wrong = compact[at] === 'Z' ? 'Y' : 'Z';
      const typo = compact.slice(0, at) + wrong + compact.slice(at + 1);
      expect(decodeShare(typo).ok, `typo at ${at}`).toBe(false);
    }
    const groups = code.split('-');
    const missing = decodeShare([...groups.slice(0, 3), ...groups.slice(4)].join('-'));
    expect(missing).toMatchObject({ ok: false });
    expect(decodeShare('U-not-a-share')).toEqual({ ok: false, problem: expect.stringContaining('not part of a share') });
  });
});

describe('splitting and combining a sealed password', () => {
  it('any M of N shares rebuild the password; M−1 shares are refused before combining', async () => {
    const password = generateBreakGlassPassword(random, 40);
    const shares = await splitPassword(password, SEAL, ['alice', 'bob', 'carol'], 2);
    expect(shares.map((share) => [share.custodian, share.number])).toEqual([
      ['alice', 1],
      ['bob', 2],
      ['carol', 3],
    ]);
    const codes = shares.map((share) => share.code);
    for (const pair of [
      [codes[0], codes[1]],
      [codes[1], codes[2]],
      [codes[2], codes[0]],
    ]) {
      expect(await combineShares(pair as string[], SEAL, 2)).toMatchObject({ ok: true, password });
    }
    expect(await combineShares([codes[0] ?? ''], SEAL, 2)).toEqual({ ok: false, problem: '1 of the 2 shares this seal needs were given' });
    expect(await combineShares([codes[1] ?? '', codes[1] ?? ''], SEAL, 2)).toMatchObject({ ok: false, problem: expect.stringContaining('repeats share number 2') });
    expect(await combineShares([codes[0] ?? '', codes[1] ?? ''], OTHER_SEAL, 2)).toMatchObject({ ok: false, problem: expect.stringContaining('belongs to another seal') });
  });

  it('generates long passwords with every character class', () => {
    for (let i = 0; i < 50; i += 1) {
      const password = generateBreakGlassPassword(random, 40);
      expect(password).toHaveLength(40);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[0-9]/);
      expect(password).toMatch(/[-_.+=!@%]/);
    }
  });

  it.each([
    [['alice'], 1, 'name at least two custodians'],
    [['alice', 'bob'], 1, 'the threshold must be a whole number from 2 to 2 (the number of custodians)'],
    [['alice', 'bob'], 3, 'the threshold must be a whole number from 2 to 2 (the number of custodians)'],
    [['alice', 'Alice'], 2, 'each custodian may be named only once'],
    [['alice', 'bob smith'], 2, "custodian name 'bob smith' is not valid: use letters, digits, '.', '_', '@' or '-'"],
  ])('refuses custody %j with threshold %i', (custodians, threshold, problem) => {
    expect(checkCustody(custodians, threshold)).toEqual({ ok: false, problem });
  });
});

describe('the watch comparison', () => {
  const sealedAt = new Date('2026-01-01T10:00:00Z');
  const seal = { groups: ['cn=break-glass,ou=groups,dc=x'], directoryPasswordChangedAt: sealedAt };
  const same = { exists: true, enabled: true, groups: ['CN=Break-Glass,ou=groups,dc=x'], passwordChangedAt: sealedAt };

  it('finds nothing when the directory matches the seal, and each kind of difference when it does not', () => {
    expect(compareWithSeal(seal, same)).toEqual([]);
    expect(compareWithSeal(seal, { ...same, passwordChangedAt: new Date('2026-01-01T10:00:01Z') }).map((m) => m.kind)).toEqual(['password_changed']);
    expect(compareWithSeal(seal, { ...same, enabled: false }).map((m) => m.kind)).toEqual(['account_disabled']);
    expect(compareWithSeal(seal, { ...same, groups: [...same.groups, 'tier0'] })).toEqual([{ kind: 'groups_changed', detail: 'added to tier0' }]);
    expect(compareWithSeal(seal, { exists: false, enabled: false, groups: [], passwordChangedAt: null }).map((m) => m.kind)).toEqual(['account_missing']);
    // A directory that does not report the time leaves the password check out.
    expect(compareWithSeal({ ...seal, directoryPasswordChangedAt: null }, { ...same, passwordChangedAt: new Date() })).toEqual([]);
  });

  it('puts the next drill one interval after the last one, or after the seal when never drilled', () => {
    expect(nextDrillDue({ sealedAt, lastDrillAt: null }, 90).toISOString()).toBe('2026-04-01T10:00:00.000Z');
    expect(nextDrillDue({ sealedAt, lastDrillAt: new Date('2026-02-01T00:00:00Z') }, 10).toISOString()).toBe('2026-02-11T00:00:00.000Z');
  });
});

describe('drill evidence', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyId = keyIdOf(publicKey);
  const signer = { keyId, sign: (bytes: string) => sign(null, Buffer.from(bytes, 'utf8'), privateKey).toString('base64url') };
  const record: Omit<DrillEvidence, 'keyId'> = {
    kind: 'latchkey.breakglass.drill',
    version: 1,
    drillId: 'd1',
    at: '2026-01-01T00:00:00.000Z',
    instance: 'test',
    account: { id: 'builtin:bg1', username: 'bg1' },
    directory: 'builtin',
    sealId: SEAL,
    threshold: 2,
    custodians: ['alice', 'bob', 'carol'],
    sharesFrom: ['alice', 'carol'],
    bind: 'valid',
    result: 'passed',
    newSealId: OTHER_SEAL,
  };

  it('verifies with the public key and fails when any field or the key id is changed', () => {
    const signed = signDrillEvidence(record, signer);
    const verifier = createCheckpointVerifier([publicKey]);
    expect(verifyDrillEvidence(signed, verifier)).toBe('valid');
    expect(verifyDrillEvidence({ ...signed, record: { ...signed.record, result: 'failed' } }, verifier)).toBe('invalid');
    expect(verifyDrillEvidence({ ...signed, record: { ...signed.record, sharesFrom: ['alice', 'bob'] } }, verifier)).toBe('invalid');
    expect(verifyDrillEvidence({ ...signed, keyId: 'ffffffffffffffff' }, verifier)).toBe('invalid');
    expect(verifyDrillEvidence(signed, createCheckpointVerifier([generateKeyPairSync('ed25519').publicKey]))).toBe('unknown_key');
  });
});
