import { isErrno, readPrivateFile } from './private-file.ts';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Random, SecretCipher, SecretHasher } from '../../core/ports/system.ts';

/*
 * The encryption key ring: AES-256-GCM for secrets at rest, HMAC-SHA-256 for lookup hashes. Keys
 * come from LATCHKEY_ENCRYPTION_KEY (or whatever the caller passes as `envSpec`) or from
 * `<dataDir>/encryption.key`, created on first start with mode 0600.
 */

/** A key id: short, printable, and free of the separators the spec and the ciphertext format use. */
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CIPHERTEXT_VERSION = 'v1';
const B64URL_PATTERN = /^[A-Za-z0-9_-]*$/;
const B64_PATTERN = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/;
/** The name of the key file inside the data directory. */
export const KEY_FILE_NAME = 'encryption.key';

/**
 * A parsed set of 32-byte keys, newest (primary) first. The key bytes stay inside closures: the
 * object serialises and inspects as ids only.
 *
 * SECURITY: a key ring that is logged, JSON-encoded into an error report or printed in a REPL
 * shows `{ primaryKid, kids }`, never key material.
 */
export interface Keyring {
  /** The key new ciphertexts use. */
  readonly primaryKid: string;
  /** Every key id, primary first. */
  readonly kids: readonly string[];
  /** A copy of the key bytes for `kid`, or undefined when the ring lacks it. */
  key(kid: string): Buffer | undefined;
  toJSON(): { primaryKid: string; kids: readonly string[] };
}

/** A spec or key file the key ring cannot use. The message names the problem, never the key. */
export class KeyringError extends Error {
  override readonly name = 'KeyringError';
}

/**
 * Parses `kid:base64key[,kid:base64key…]`. The first entry is the primary (new ciphertexts); the
 * others only decrypt, so a key can rotate without re-encrypting at once. Keys are 32 bytes in
 * standard or URL-safe base64. Whitespace around entries is ignored.
 *
 * Why: one string fits an environment variable or a secrets-manager entry; ids let old
 * ciphertexts find their key after rotation.
 */
export function parseKeyring(spec: string): Keyring {
  if (typeof spec !== 'string' || spec.trim() === '') throw new KeyringError('encryption key spec is empty; expected kid:base64key[,kid:base64key…]');
  const keys = new Map<string, Buffer>();
  const entries = spec.split(',').map((entry) => entry.trim());
  entries.forEach((entry, index) => {
    const where = `encryption key entry ${index + 1}`;
    if (entry === '') throw new KeyringError(`${where} is empty (stray comma?)`);
    const colon = entry.indexOf(':');
    if (colon < 0) throw new KeyringError(`${where} has no "kid:" prefix; expected kid:base64key`);
    const kid = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1).trim();
    // SECURITY: error messages quote the kid (an identifier) but never the key text, so a bad
    // spec pasted into logs or a support ticket does not leak the key.
    if (!KID_PATTERN.test(kid)) throw new KeyringError(`${where}: key id must be 1-32 characters of A-Z a-z 0-9 _ -`);
    if (keys.has(kid)) throw new KeyringError(`${where}: key id "${kid}" appears twice`);
    if (!B64_PATTERN.test(encoded)) throw new KeyringError(`${where} (kid "${kid}"): key is not valid base64`);
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (key.length !== KEY_BYTES) throw new KeyringError(`${where} (kid "${kid}"): key must be ${KEY_BYTES} bytes, got ${key.length}`);
    keys.set(kid, key);
  });
  const kids = Object.freeze([...keys.keys()]);
  const primaryKid = kids[0];
  if (primaryKid === undefined) throw new KeyringError('encryption key spec has no keys');
  const summary = (): { primaryKid: string; kids: readonly string[] } => ({ primaryKid, kids });
  return Object.freeze({
    primaryKid,
    kids,
    key(kid: string): Buffer | undefined {
      const key = keys.get(kid);
      return key === undefined ? undefined : Buffer.from(key);
    },
    toJSON: summary,
    [Symbol.for('nodejs.util.inspect.custom')]: () => `Keyring ${JSON.stringify(summary())}`,
  });
}

/**
 * Makes a spec with one fresh random 32-byte key: `k<8 hex>:<base64>`. To rotate, put its output in
 * front of the current spec (`new,old`).
 */
export function generateKeySpec(random: Random, kid?: string): string {
  const id = kid ?? `k${random.bytes(4).toString('hex')}`;
  if (!KID_PATTERN.test(id)) throw new KeyringError('key id must be 1-32 characters of A-Z a-z 0-9 _ -');
  return `${id}:${random.bytes(KEY_BYTES).toString('base64')}`;
}

/**
 * AES-256-GCM with a fresh 12-byte random IV per message and `context` as additional
 * authenticated data. Output: `v1.<kid>.<b64url iv>.<b64url ciphertext>.<b64url tag>`. Decrypt
 * picks the key by kid, so ciphertexts made before a rotation still open.
 *
 * Why: secrets at rest (TOTP seeds, addresses, outbox payloads) must be useless in a stolen
 * database; SECURITY: the AAD binds each ciphertext to its row (`context`), so an attacker with
 * write access cannot swap an encrypted phone number from one enrollment into another.
 */
export function createSecretCipher(keyring: Keyring): SecretCipher {
  const keys = new Map<string, Buffer>();
  for (const kid of keyring.kids) {
    const key = keyring.key(kid);
    if (key !== undefined) keys.set(kid, key);
  }
  const primaryKid = keyring.primaryKid;
  const primary = keys.get(primaryKid);
  if (primary === undefined) throw new KeyringError('key ring has no primary key');

  return Object.freeze({
    encrypt(plaintext: string, context: string): string {
      // SECURITY: a GCM nonce repeated under one key reveals the XOR of plaintexts and lets an
      // attacker forge tags; 96 random bits per message keep the collision odds negligible for
      // far more messages than one key will ever protect.
      const nonce = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', primary, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [CIPHERTEXT_VERSION, primaryKid, nonce.toString('base64url'), body.toString('base64url'), tag.toString('base64url')].join('.');
    },

    decrypt(ciphertext: string, context: string): string {
      const parts = typeof ciphertext === 'string' ? ciphertext.split('.') : [];
      const [version, kid, ivText, bodyText, tagText] = parts;
      if (parts.length !== 5 || version === undefined || kid === undefined || ivText === undefined || bodyText === undefined || tagText === undefined) {
        throw new Error('secret decryption failed: not a Latchkey ciphertext');
      }
      if (version !== CIPHERTEXT_VERSION) throw new Error(`secret decryption failed: unsupported ciphertext version "${version.slice(0, 8)}"`);
      const key = keys.get(kid);
      if (key === undefined) {
        // SECURITY: the kid comes from stored data; quote it only if it is a well-formed id, so a
        // planted ciphertext cannot inject text (line breaks) into logs through this message.
        const shown = KID_PATTERN.test(kid) ? `"${kid}"` : '(malformed)';
        throw new Error(`secret decryption failed: key id ${shown} is not in the key ring (was a retired key removed from the spec?)`);
      }
      if (!B64URL_PATTERN.test(ivText) || !B64URL_PATTERN.test(bodyText) || !B64URL_PATTERN.test(tagText)) {
        throw new Error('secret decryption failed: malformed ciphertext');
      }
      const nonce = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      if (nonce.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('secret decryption failed: malformed ciphertext');
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(tag);
      try {
        const plain = Buffer.concat([decipher.update(Buffer.from(bodyText, 'base64url')), decipher.final()]);
        return plain.toString('utf8');
      } catch {
        // SECURITY: one message for every authentication failure; the caller learns nothing
        // about which byte or which part (context, tag, body) was wrong.
        throw new Error('secret decryption failed: ciphertext was tampered with, or belongs to another context');
      }
    },
  });
}

/** Options for {@link createSecretHasher}. */
export interface SecretHasherOptions {
  /**
   * The key the MAC keys derive from. Default: the primary. Pin it to a kid that stays in the
   * spec to keep stored hashes (recovery codes, fingerprints, session hashes) valid across a
   * rotation of the primary: a MAC cannot be re-computed without its input.
   */
  readonly kid?: string;
}

/**
 * HMAC-SHA-256, hex, under a key per purpose derived by HKDF-SHA-256 from one key-ring key
 * (info `latchkey:<purpose>`). `equal` compares in constant time after a length check.
 *
 * Why: codes, tokens and identifiers are stored as keyed hashes, so a stolen database without
 * the key cannot test guesses offline (a 6-digit code space is tiny). SECURITY: per-purpose keys
 * mean a hash made for one purpose (a challenge code) never equals one made for another (a
 * recovery code) on the same input, so values cannot be replayed across tables.
 */
export function createSecretHasher(keyring: Keyring, options: SecretHasherOptions = {}): SecretHasher {
  const kid = options.kid ?? keyring.primaryKid;
  const root = keyring.key(kid);
  if (root === undefined) throw new KeyringError(`key id "${kid}" is not in the key ring`);
  const derived = new Map<string, Buffer>();
  const keyFor = (purpose: string): Buffer => {
    let key = derived.get(purpose);
    if (key === undefined) {
      key = Buffer.from(hkdfSync('sha256', root, Buffer.from('latchkey-secret-hasher-v1', 'utf8'), Buffer.from(`latchkey:${purpose}`, 'utf8'), 32));
      derived.set(purpose, key);
    }
    return key;
  };
  return Object.freeze({
    mac(purpose: string, value: string): string {
      if (purpose === '') throw new Error('secret hasher: purpose must not be empty');
      return createHmac('sha256', keyFor(purpose)).update(value, 'utf8').digest('hex');
    },
    equal(a: string, b: string): boolean {
      if (typeof a !== 'string' || typeof b !== 'string') return false;
      const left = Buffer.from(a, 'utf8');
      const right = Buffer.from(b, 'utf8');
      // SECURITY: timingSafeEqual needs equal lengths; lengths of hex digests are public, so the
      // early return leaks nothing, while the byte comparison itself stays constant-time (TOK-18).
      if (left.length !== right.length) return false;
      return timingSafeEqual(left, right);
    },
  });
}

/** The outcome of {@link loadOrCreateKeyring}: where the keys came from. */
export type LoadedKeyring =
  | { readonly keyring: Keyring; readonly source: 'env' }
  | { readonly keyring: Keyring; readonly source: 'file' | 'created'; readonly path: string };

/**
 * Finds the key ring: `envSpec` when set (non-blank), else `<dataDir>/encryption.key`, which is
 * created with one fresh key (mode 0600, directory 0700) when missing. A key file readable or
 * writable by group or others is refused.
 *
 * The file holds the spec; lines starting with `#` are comments and further lines are more keys
 * (older ones), so `new,old` can also be written one per line.
 *
 * Why: a first start needs no setup, yet the key never lands somewhere others can read.
 * SECURITY: creation writes a temporary file and hard-links it into place, which fails if the
 * file appeared meanwhile: two processes starting together never overwrite each other's key
 * (which would make the loser's ciphertexts undecryptable), and no reader ever sees a half-written
 * file.
 */
export async function loadOrCreateKeyring(options: { envSpec?: string | undefined; dataDir: string; random: Random }): Promise<LoadedKeyring> {
  if (options.envSpec !== undefined && options.envSpec.trim() !== '') {
    return { keyring: parseKeyring(options.envSpec), source: 'env' };
  }
  const path = join(options.dataDir, KEY_FILE_NAME);
  const existing = await readKeyFile(path);
  if (existing !== null) return { keyring: existing, source: 'file', path };

  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const spec = generateKeySpec(options.random);
  const temp = join(options.dataDir, `.${KEY_FILE_NAME}.${options.random.bytes(6).toString('hex')}.tmp`);
  const content =
    '# Latchkey encryption key ring: kid:base64key, primary (newest) first; older keys follow on later lines.\n' +
    '# Back this file up with the database: without it, stored secrets cannot be decrypted.\n' +
    `${spec}\n`;
  await writeFile(temp, content, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temp, 0o600); // the umask may have narrowed nothing, but be explicit.
    try {
      await link(temp, path);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) {
        const raced = await readKeyFile(path);
        if (raced !== null) return { keyring: raced, source: 'file', path };
      }
      throw error;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return { keyring: parseKeyring(spec), source: 'created', path };
}

async function readKeyFile(path: string): Promise<Keyring | null> {
  const text = await readPrivateFile(path, (message) => new KeyringError(message));
  if (text === null) return null;
  const spec = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join(',');
  try {
    return parseKeyring(spec);
  } catch (error) {
    throw new KeyringError(`${path}: ${error instanceof Error ? error.message : 'unreadable key file'}`);
  }
}
