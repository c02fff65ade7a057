import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpointVerifier, loadOrCreateSigningKey, parsePublicKeys, SIGNING_KEY_FILE_NAME, SigningKeyError } from '../../src/adapters/audit-evidence/signing-key.ts';
import { createSystemRandom } from '../../src/adapters/system/random.ts';
import { ConfigError, loadConfig } from '../../src/server/config/config.ts';

const random = createSystemRandom();

describe('the audit signing key', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-signing-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is created on first start in the data dir with mode 0600, then reused with the same key id', async () => {
    const dataDir = join(dir, 'data');
    const created = await loadOrCreateSigningKey({ dataDir, random });
    expect(created.source).toBe('created');
    const path = join(dataDir, SIGNING_KEY_FILE_NAME);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const again = await loadOrCreateSigningKey({ dataDir, random });
    expect(again).toMatchObject({ source: 'file', keyId: created.keyId, publicKeyPem: created.publicKeyPem });
    expect(created.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  it('gives one key to instances that start together on an empty data dir', async () => {
    const dataDir = join(dir, 'race');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateSigningKey({ dataDir, random })));
    expect(new Set(keys.map((key) => key.keyId)).size).toBe(1);
  });

  it('refuses a key file other users can read, naming the file and the fix', async () => {
    const dataDir = join(dir, 'loose');
    await loadOrCreateSigningKey({ dataDir, random });
    const path = join(dataDir, SIGNING_KEY_FILE_NAME);
    await chmod(path, 0o644);
    await expect(loadOrCreateSigningKey({ dataDir, random })).rejects.toThrow(`${path} is accessible to other users (mode 644); run: chmod 600 ${path}`);
  });

  it('takes the key from configuration, and refuses text that is not an Ed25519 private key without quoting it', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fromConfig = await loadOrCreateSigningKey({ pem, dataDir: join(dir, 'unused'), random });
    expect(fromConfig.source).toBe('config');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(loadOrCreateSigningKey({ pem: rsa, dataDir: dir, random })).rejects.toThrow('audit.signingKey: the audit signing key must be an Ed25519 private key (found rsa)');
    const error = await loadOrCreateSigningKey({ pem: 'not-a-key-SECRETMARKER', dataDir: dir, random }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect(String(error)).not.toContain('SECRETMARKER');
  });

  it('reads a named key file that must exist', async () => {
    const path = join(dir, 'operator.key');
    await expect(loadOrCreateSigningKey({ file: path, dataDir: dir, random })).rejects.toThrow(`${path} (audit.signingKeyFile): no such file`);
    await writeFile(path, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    expect((await loadOrCreateSigningKey({ file: path, dataDir: dir, random })).source).toBe('file');
  });

  it('verifies with several public keys from one file and refuses a private key handed to an auditor', async () => {
    const a = await loadOrCreateSigningKey({ dataDir: join(dir, 'a'), random });
    const b = await loadOrCreateSigningKey({ dataDir: join(dir, 'b'), random });
    const verifier = createCheckpointVerifier(parsePublicKeys([{ name: 'keys.pem', text: `${a.publicKeyPem}\n${b.publicKeyPem}` }]));
    expect([...verifier.keyIds].sort()).toEqual([a.keyId, b.keyId].sort());
    expect(verifier.verify(b.keyId, 'message', b.signer.sign('message'))).toBe('valid');
    expect(verifier.verify(a.keyId, 'message', b.signer.sign('message'))).toBe('invalid');
    expect(verifier.verify('0000000000000000', 'message', a.signer.sign('message'))).toBe('unknown_key');
    const privatePem = await readFile(join(dir, 'a', SIGNING_KEY_FILE_NAME), 'utf8');
    expect(() => parsePublicKeys([{ name: 'given.pem', text: privatePem }])).toThrow('given.pem: key 1 is a private key, not a public key');
    expect(() => parsePublicKeys([{ name: 'empty.pem', text: 'hello' }])).toThrow('empty.pem: no PEM public key found');
  });

  it('is configured under audit, and a malformed setting is a startup error naming the key', () => {
    const config = loadConfig('audit:\n  checkpoint: { everyEvents: 50, everyHours: 0.5 }\n  retention: { days: 90 }\n', 'latchkey.yaml', {});
    expect(config.audit).toMatchObject({ checkpoint: { everyEvents: 50, everyHours: 0.5 }, retention: { days: 90, intervalMinutes: 60 } });
    expect(loadConfig(null, 'latchkey.yaml', { LATCHKEY_AUDIT__CHECKPOINT__EVERY_HOURS: '0.25', LATCHKEY_AUDIT__RETENTION__DAYS: '30' }).audit).toMatchObject({ checkpoint: { everyHours: 0.25 }, retention: { days: 30 } });
    const problems = (yaml: string, env: Record<string, string> = {}): readonly string[] => {
      try {
        loadConfig(yaml, 'latchkey.yaml', env);
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      throw new Error('accepted');
    };
    expect(problems('audit:\n  retention: { days: 0 }\n').join('\n')).toMatch(/^audit\.retention\.days \(latchkey\.yaml\): /);
    expect(problems('', { LATCHKEY_AUDIT__CHECKPOINT__EVERY_EVENTS: 'often' }).join('\n')).toMatch(/^audit\.checkpoint\.everyEvents \(LATCHKEY_AUDIT__CHECKPOINT__EVERY_EVENTS\): /);
    expect(problems('audit:\n  retention: {}\n').join('\n')).toMatch(/^audit\.retention\.days \(.*\): is required/);
    expect(problems('audit:\n  signingKey: x\n  signingKeyFile: y\n').join('\n')).toContain('audit.signingKeyFile (latchkey.yaml): set signingKey or signingKeyFile, not both');
    expect(problems('audit:\n  checkpoint: { everyEvent: 5 }\n').join('\n')).toContain('audit.checkpoint.everyEvent (latchkey.yaml): unknown key');
  });
});
