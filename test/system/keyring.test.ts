import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSecretCipher,
  createSecretHasher,
  generateKeySpec,
  KeyringError,
  loadOrCreateKeyring,
  parseKeyring,
} from '../../src/adapters/system/keyring.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';

const random = createSystemRandom();
const key = (fill: number): string => Buffer.alloc(32, fill).toString('base64');

/** Flips one bit of the decoded byte at `index` of base64url part `part` of a ciphertext. */
function flip(ciphertext: string, part: number, index = 0): string {
  const parts = ciphertext.split('.');
  const bytes = Buffer.from(parts[part] ?? '', 'base64url');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('parseKeyring', () => {
  it('reads kid:base64key entries, primary first', () => {
    const ring = parseKeyring(` new:${key(2)} , old:${key(1)}`);
    expect(ring.primaryKid).toBe('new');
    expect(ring.kids).toEqual(['new', 'old']);
    expect(ring.key('old')).toEqual(Buffer.alloc(32, 1));
    expect(ring.key('missing')).toBeUndefined();
    expect(parseKeyring(`u:${Buffer.alloc(32, 0xfb).toString('base64url')}`).key('u')).toEqual(Buffer.alloc(32, 0xfb));
  });

  it('never shows key material when logged or serialised', () => {
    const material = key(7);
    const ring = parseKeyring(`k1:${material}`);
    expect(JSON.stringify(ring)).toBe('{"primaryKid":"k1","kids":["k1"]}');
    expect(inspect(ring)).not.toContain(material.slice(0, 10));
    expect(String(ring.key('k1')?.toString('base64'))).toBe(material);
  });

  it('refuses bad specs with clear errors that do not contain key material', () => {
    const secretish = Buffer.alloc(16, 0xab).toString('base64');
    const cases: [string, RegExp][] = [
      ['', /empty/],
      [`k1${key(1)}`, /no "kid:" prefix/],
      [`k1:${secretish}`, /must be 32 bytes, got 16/],
      [`k1:${key(1)},k1:${key(2)}`, /appears twice/],
      [`k1:${key(1)},`, /entry 2 is empty/],
      [`k.1:${key(1)}`, /key id must be/],
      [`k1:${key(1).slice(0, 20)}!!${key(1).slice(22)}`, /not valid base64/],
      [`k1:${Buffer.alloc(48, 1).toString('base64')}`, /must be 32 bytes, got 48/],
    ];
    for (const [spec, message] of cases) {
      let error: unknown;
      try {
        parseKeyring(spec);
      } catch (caught) {
        error = caught;
      }
      expect(error, spec).toBeInstanceOf(KeyringError);
      const text = (error as Error).message;
      expect(text).toMatch(message);
      expect(text).not.toContain(secretish.slice(0, 8));
      expect(text).not.toContain(key(1).slice(0, 8));
    }
  });

  it('generates specs that parse, with a fresh key each time', () => {
    const a = generateKeySpec(random);
    const b = generateKeySpec(random);
    expect(a).toMatch(/^k[0-9a-f]{8}:[A-Za-z0-9+/]{43}=$/);
    expect(parseKeyring(a).kids).toHaveLength(1);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
    expect(generateKeySpec(random, 'k2026')).toMatch(/^k2026:/);
  });
});

describe('createSecretCipher (AES-256-GCM)', () => {
  const ring = parseKeyring(generateKeySpec(random, 'k1'));
  const cipher = createSecretCipher(ring);

  it('round-trips, including empty and non-ASCII text, in the v1 format', () => {
    for (const plain of ['+447700900123', '', 'Zoë 🔑 ﬁ', 'x'.repeat(10_000)]) {
      const sealed = cipher.encrypt(plain, 'enrollment:e1');
      expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/);
      expect(cipher.decrypt(sealed, 'enrollment:e1')).toBe(plain);
    }
  });

  it('uses a fresh IV each time: the same plaintext never gives the same ciphertext', () => {
    const seen = new Set(Array.from({ length: 50 }, () => cipher.encrypt('same', 'ctx')));
    expect(seen.size).toBe(50);
  });

  it('detects tampering in any part', () => {
    const sealed = cipher.encrypt('a secret phone number', 'ctx');
    for (const part of [2, 3, 4]) expect(() => cipher.decrypt(flip(sealed, part), 'ctx'), `part ${part}`).toThrow(/tampered/);
    expect(() => cipher.decrypt(flip(sealed, 3, 20), 'ctx')).toThrow(/tampered/);
    expect(() => cipher.decrypt(sealed.replace(/^v1/, 'v2'), 'ctx')).toThrow(/version/);
    expect(() => cipher.decrypt(sealed.split('.').slice(0, 4).join('.'), 'ctx')).toThrow(/not a Latchkey ciphertext/);
    expect(() => cipher.decrypt('garbage', 'ctx')).toThrow(Error);
  });

  it('refuses a ciphertext moved to another context (AAD)', () => {
    const sealed = cipher.encrypt('+447700900123', 'enrollment:e1');
    expect(() => cipher.decrypt(sealed, 'enrollment:e2')).toThrow(/tampered|another context/);
  });

  it('rotates: old ciphertexts decrypt after a new primary is added; new ones use the new kid', () => {
    const oldSpec = generateKeySpec(random, 'old');
    const oldCipher = createSecretCipher(parseKeyring(oldSpec));
    const sealedOld = oldCipher.encrypt('seed', 'ctx');
    const rotated = createSecretCipher(parseKeyring(`${generateKeySpec(random, 'new')},${oldSpec}`));
    expect(rotated.decrypt(sealedOld, 'ctx')).toBe('seed');
    const sealedNew = rotated.encrypt('seed', 'ctx');
    expect(sealedNew.split('.')[1]).toBe('new');
    expect(() => oldCipher.decrypt(sealedNew, 'ctx')).toThrow(/key id "new" is not in the key ring/);
  });

  it('refuses a ciphertext whose kid names a key the ring has, but which another key made', () => {
    const a = createSecretCipher(parseKeyring(generateKeySpec(random, 'same')));
    const b = createSecretCipher(parseKeyring(generateKeySpec(random, 'same')));
    expect(() => b.decrypt(a.encrypt('x', 'ctx'), 'ctx')).toThrow(/tampered/);
  });
});

describe('createSecretHasher (HMAC-SHA-256 via HKDF)', () => {
  const ring = parseKeyring(generateKeySpec(random, 'k1'));
  const hasher = createSecretHasher(ring);

  it('is deterministic hex, separated by purpose and by key', () => {
    const mac = hasher.mac('challenge', '123456');
    expect(mac).toMatch(/^[0-9a-f]{64}$/);
    expect(hasher.mac('challenge', '123456')).toBe(mac);
    expect(hasher.mac('recovery_code', '123456')).not.toBe(mac);
    expect(hasher.mac('challenge', '123457')).not.toBe(mac);
    expect(createSecretHasher(parseKeyring(generateKeySpec(random))).mac('challenge', '123456')).not.toBe(mac);
  });

  it('derives from the primary by default, or from a pinned kid so MACs survive a rotation', () => {
    const oldSpec = generateKeySpec(random, 'old');
    const before = createSecretHasher(parseKeyring(oldSpec)).mac('recovery_code', 'ABC');
    const rotated = parseKeyring(`${generateKeySpec(random, 'new')},${oldSpec}`);
    expect(createSecretHasher(rotated).mac('recovery_code', 'ABC')).not.toBe(before);
    expect(createSecretHasher(rotated, { kid: 'old' }).mac('recovery_code', 'ABC')).toBe(before);
    expect(() => createSecretHasher(rotated, { kid: 'nope' })).toThrow(KeyringError);
  });

  it('compares in constant time with a length check', () => {
    const mac = hasher.mac('x', 'y');
    expect(hasher.equal(mac, hasher.mac('x', 'y'))).toBe(true);
    expect(hasher.equal(mac, hasher.mac('x', 'z'))).toBe(false);
    expect(hasher.equal(mac, mac.slice(0, 63))).toBe(false);
    expect(hasher.equal(mac, '')).toBe(false);
  });
});

describe('loadOrCreateKeyring', () => {
  let dir = '';
  afterEach(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
    dir = '';
  });

  it('prefers the environment spec', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
    const loaded = await loadOrCreateKeyring({ envSpec: `env:${key(3)}`, dataDir: dir, random });
    expect(loaded.source).toBe('env');
    expect(loaded.keyring.primaryKid).toBe('env');
  });

  it('creates <dataDir>/encryption.key with mode 0600 and reuses it on the next call', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
    const dataDir = join(dir, 'data');
    const first = await loadOrCreateKeyring({ envSpec: '  ', dataDir, random });
    expect(first.source).toBe('created');
    const path = join(dataDir, 'encryption.key');
    expect(first.source !== 'env' && first.path).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const second = await loadOrCreateKeyring({ dataDir, random });
    expect(second.source).toBe('file');
    expect(second.keyring.primaryKid).toBe(first.keyring.primaryKid);
    expect(second.keyring.key(second.keyring.primaryKid)).toEqual(first.keyring.key(first.keyring.primaryKid));
    // What one process encrypted, the next start decrypts.
    const sealed = createSecretCipher(first.keyring).encrypt('seed', 'ctx');
    expect(createSecretCipher(second.keyring).decrypt(sealed, 'ctx')).toBe('seed');
    expect((await readFile(path, 'utf8')).split('\n').filter((line) => line !== '' && !line.startsWith('#'))).toHaveLength(1);
  });

  it('gives every concurrent first start the same key', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
    const loaded = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyring({ dataDir: dir, random })));
    const keys = new Set(loaded.map((item) => item.keyring.key(item.keyring.primaryKid)?.toString('hex')));
    expect(keys.size).toBe(1);
  });

  it('reads older keys on further lines, and refuses a key file others can read', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
    const path = join(dir, 'encryption.key');
    await writeFile(path, `# comment\nnew:${key(5)}\nold:${key(4)}\n`, { mode: 0o600 });
    const loaded = await loadOrCreateKeyring({ dataDir: dir, random });
    expect(loaded.keyring.kids).toEqual(['new', 'old']);
    await chmod(path, 0o644);
    const error: unknown = await loadOrCreateKeyring({ dataDir: dir, random }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KeyringError);
    expect((error as Error).message).toMatch(/chmod 600/);
    expect((error as Error).message).not.toContain(key(5).slice(0, 8));
  });

  it('names the file and the problem for a corrupt key file, without the key text', async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-keys-'));
    const path = join(dir, 'encryption.key');
    const short = Buffer.alloc(20, 0xcd).toString('base64');
    await writeFile(path, `k1:${short}\n`, { mode: 0o600 });
    const error: unknown = await loadOrCreateKeyring({ dataDir: dir, random }).catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(/32 bytes, got 20/);
    expect((error as Error).message).not.toContain(short.slice(0, 8));
  });
});
