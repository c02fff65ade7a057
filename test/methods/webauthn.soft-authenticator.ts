import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A software WebAuthn authenticator (ES256, attestation `none`) for tests: it builds the same
 * CBOR, authenticator data and signatures a real device does, so `@simplewebauthn/server` verifies
 * its responses for real. Every field a test may want to falsify (origin, RP id, counter, flags) is
 * a parameter.
 */
export class SoftAuthenticator {
  readonly credentialId = randomBytes(32);
  private readonly privateKey: KeyObject;
  private readonly publicJwk: { x: string; y: string };
  counter = 0;

  constructor() {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    const jwk = pair.publicKey.export({ format: 'jwk' });
    this.publicJwk = { x: jwk.x ?? '', y: jwk.y ?? '' };
  }

  get id(): string {
    return this.credentialId.toString('base64url');
  }

  /** A registration response to creation options (their JSON form). */
  register(options: { challenge: string }, origin: string, rpId: string, flags: { userVerified?: boolean } = {}): Record<string, unknown> {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin, crossOrigin: false }));
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(this.publicJwk.x, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(this.publicJwk.y, 'base64url'))],
    ]);
    const publicKey = Buffer.from(isoCBOR.encode(cose));
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const authData = Buffer.concat([this.header(rpId, 0x40 | this.flagBits(flags), this.counter), Buffer.alloc(16), idLength, this.credentialId, publicKey]);
    const attestationObject = Buffer.from(isoCBOR.encode(new Map<string, string | Map<string, string> | Uint8Array>([['fmt', 'none'], ['attStmt', new Map<string, string>()], ['authData', new Uint8Array(authData)]])));
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: clientDataJSON.toString('base64url'), attestationObject: attestationObject.toString('base64url'), transports: ['internal'] },
    };
  }

  /** An assertion for request options; the counter goes up by one unless `counter` says otherwise. */
  authenticate(options: { challenge: string }, origin: string, rpId: string, overrides: { counter?: number; userVerified?: boolean } = {}): Record<string, unknown> {
    this.counter = overrides.counter ?? this.counter + 1;
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin, crossOrigin: false }));
    const authData = this.header(rpId, this.flagBits(overrides), this.counter);
    const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), this.privateKey);
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authData.toString('base64url'), signature: signature.toString('base64url') },
    };
  }

  private flagBits(flags: { userVerified?: boolean }): number {
    return 0x01 | (flags.userVerified === false ? 0 : 0x04);
  }

  private header(rpId: string, flags: number, counter: number): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([flags]), count]);
  }
}

/** Policy edit for tests: passkeys allowed (first, as the strongest) in the standard and privileged tiers, whatever the shipped lists say. */
export const allowPasskeys = (policy: { tiers: { standard: { allowedMethods: string[] }; privileged: { allowedMethods: string[] } }; governance: { approvedMethods: string[] } }): void => {
  for (const list of [policy.tiers.standard.allowedMethods, policy.tiers.privileged.allowedMethods, policy.governance.approvedMethods]) {
    if (!list.includes('webauthn')) list.unshift('webauthn');
  }
};
