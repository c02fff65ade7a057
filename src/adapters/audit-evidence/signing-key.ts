import { isErrno, readPrivateFile } from '../system/private-file.ts';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckpointSigner, CheckpointVerifier, SignatureVerdict } from '../../core/audit/checkpoint.ts';
import type { Random } from '../../core/ports/system.ts';

/*
 * The Ed25519 key that signs audit checkpoints. It comes from configuration (PEM text, or a file
 * the operator manages) or from `<dataDir>/audit-signing.key`, created on first start with mode
 * 0600 the same way the encryption key file is (src/adapters/system/keyring.ts). Only the public
 * key ever leaves the instance: `latchkey audit public-key` prints it for auditors.
 */

/** The name of the generated key file inside the data directory. */
export const SIGNING_KEY_FILE_NAME = 'audit-signing.key';

/** A key or key file that cannot be used. The message names the problem and the place, never the key. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

/**
 * A key's id: the first 16 hex digits of the SHA-256 of its public key (SPKI DER). Derived, not
 * chosen, so that a checkpoint names exactly the key that made it and a rotated key gets a new id
 * without anyone having to assign one.
 */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The signing side: a signer whose private key stays inside closures, and the public key to hand out. */
export interface CheckpointSigningKey {
  readonly signer: CheckpointSigner;
  readonly keyId: string;
  readonly publicKeyPem: string;
}

function signingKeyFrom(privateKey: KeyObject, where: string): CheckpointSigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${where}: the audit signing key must be an Ed25519 private key (found ${privateKey.asymmetricKeyType ?? 'an unknown type'})`);
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  return {
    keyId,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    signer: Object.freeze({
      keyId,
      sign: (bytes: string): string => sign(null, Buffer.from(bytes, 'utf8'), privateKey).toString('base64url'),
      toJSON: () => ({ keyId }),
    }),
  };
}

function parsePrivateKey(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // SECURITY: the message never quotes the text: it may be a real private key pasted in the wrong place.
    throw new SigningKeyError(`${where}: not a PEM private key (expected "-----BEGIN PRIVATE KEY-----", PKCS#8 Ed25519)`);
  }
}

/** Where the signing key came from. */
export type LoadedSigningKey = CheckpointSigningKey & ({ readonly source: 'config' } | { readonly source: 'file' | 'created'; readonly path: string });

/**
 * Finds the checkpoint signing key: `pem` when set, else the file `file` (which must exist), else
 * `<dataDir>/audit-signing.key`, created with a fresh key when missing. A key file readable or
 * writable by group or others is refused, like ssh does with private keys.
 *
 * SECURITY: creation writes a temporary file and hard-links it into place, which fails if the file
 * appeared meanwhile, so two instances starting together never replace each other's key (which
 * would orphan the checkpoints signed with the loser's key) and no reader sees half a file.
 */
export async function loadOrCreateSigningKey(options: { pem?: string | undefined; file?: string | undefined; dataDir: string; random: Random }): Promise<LoadedSigningKey> {
  if (options.pem !== undefined && options.pem.trim() !== '') {
    return { ...signingKeyFrom(parsePrivateKey(options.pem, 'audit.signingKey'), 'audit.signingKey'), source: 'config' };
  }
  if (options.file !== undefined) {
    const found = await readKeyFile(options.file);
    if (found === null) throw new SigningKeyError(`${options.file} (audit.signingKeyFile): no such file`);
    return { ...found, source: 'file', path: options.file };
  }
  const path = join(options.dataDir, SIGNING_KEY_FILE_NAME);
  const existing = await readKeyFile(path);
  if (existing !== null) return { ...existing, source: 'file', path };

  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const temp = join(options.dataDir, `.${SIGNING_KEY_FILE_NAME}.${options.random.bytes(6).toString('hex')}.tmp`);
  await writeFile(temp, pem, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temp, 0o600);
    try {
      await link(temp, path);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) {
        const raced = await readKeyFile(path);
        if (raced !== null) return { ...raced, source: 'file', path };
      }
      throw error;
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  return { ...signingKeyFrom(privateKey, path), source: 'created', path };
}

async function readKeyFile(path: string): Promise<CheckpointSigningKey | null> {
  // SECURITY: a signing key others can read lets them forge checkpoints; one they can replace lets them swap keys.
  const text = await readPrivateFile(path, (message) => new SigningKeyError(message));
  return text === null ? null : signingKeyFrom(parsePrivateKey(text, path), path);
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g;

/**
 * Reads every public key in PEM texts (a file may hold several: the current key and retired ones).
 * Errors name the source and the block number. A private key is refused: an auditor should never
 * hold one, and accepting it would hide that it was handed out.
 */
export function parsePublicKeys(sources: readonly { readonly name: string; readonly text: string }[]): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const source of sources) {
    const blocks = [...source.text.matchAll(PEM_BLOCK)];
    if (blocks.length === 0) throw new SigningKeyError(`${source.name}: no PEM public key found (expected "-----BEGIN PUBLIC KEY-----")`);
    blocks.forEach((block, index) => {
      const where = `${source.name}: key ${index + 1}`;
      if (block[1] !== 'PUBLIC KEY') throw new SigningKeyError(`${where} is a ${block[1]?.toLowerCase() ?? 'block'}, not a public key (give the output of \`latchkey audit public-key\`)`);
      let key: KeyObject;
      try {
        key = createPublicKey({ key: block[0], format: 'pem' });
      } catch {
        throw new SigningKeyError(`${where} is not a valid public key`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${where} is not an Ed25519 key`);
      keys.push(key);
    });
  }
  return keys;
}

/** Checks checkpoint signatures against any of `publicKeys`, chosen by key id. */
export function createCheckpointVerifier(publicKeys: readonly KeyObject[]): CheckpointVerifier & { readonly keyIds: readonly string[] } {
  const byId = new Map(publicKeys.map((key) => [keyIdOf(key), key]));
  return {
    keyIds: [...byId.keys()],
    verify(keyId: string, bytes: string, signature: string): SignatureVerdict {
      const key = byId.get(keyId);
      if (key === undefined) return 'unknown_key';
      const raw = Buffer.from(signature, 'base64url');
      // An Ed25519 signature is exactly 64 bytes; anything else is forged or truncated, not worth a verify call.
      if (raw.length !== 64) return 'invalid';
      return verify(null, Buffer.from(bytes, 'utf8'), key, raw) ? 'valid' : 'invalid';
    },
  };
}

/** Reads public-key files (PEM, one or several keys each) into a verifier; unreadable or wrong files are SigningKeyErrors naming the file. */
export async function readCheckpointVerifier(paths: readonly string[]): Promise<CheckpointVerifier & { readonly keyIds: readonly string[] }> {
  const sources = await Promise.all(
    paths.map(async (path) => {
      try {
        return { name: path, text: await readFile(path, 'utf8') };
      } catch (error) {
        throw new SigningKeyError(`cannot read the public key file ${path}: ${(error as Error).message}`);
      }
    }),
  );
  return createCheckpointVerifier(parsePublicKeys(sources));
}
