import type { CheckpointSigner, CheckpointVerifier, SignatureVerdict } from '../audit/checkpoint.ts';
import type { DrillResult } from './records.ts';

/**
 * What a drill proves, as signed: which account and seal, which custodians' shares rebuilt the
 * password, what the directory said to a bind with it, and which seal replaced it. It names people
 * and times only; the password and the shares never appear.
 */
export interface DrillEvidence {
  readonly kind: 'latchkey.breakglass.drill';
  readonly version: 1;
  readonly drillId: string;
  readonly at: string;
  readonly instance: string;
  readonly account: { readonly id: string; readonly username: string };
  readonly directory: string;
  readonly sealId: string;
  readonly threshold: number;
  readonly custodians: readonly string[];
  /** The custodians whose shares rebuilt the password. */
  readonly sharesFrom: readonly string[];
  /** `valid` when the directory accepted the rebuilt password in a bind. */
  readonly bind: string;
  readonly result: DrillResult;
  /** The seal that replaced the drilled one (new password, new shares); null when the drill failed. */
  readonly newSealId: string | null;
  readonly keyId: string;
}

/** Canonical JSON: keys sorted at every level, no spaces, so the same record always signs the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The exact text a drill signature covers: a domain tag, then the canonical record. The tag keeps a
 * drill signature from passing as a checkpoint signature (same key) and the other way round.
 */
export function drillSigningBytes(record: DrillEvidence): string {
  return `latchkey.breakglass-drill.v1\n${canonicalJson(record)}`;
}

/** A signed drill record as `latchkey breakglass evidence` prints it. */
export interface SignedDrillEvidence {
  readonly record: DrillEvidence;
  readonly keyId: string;
  /** Ed25519 over drillSigningBytes(record), base64url. */
  readonly signature: string;
}

export function signDrillEvidence(record: Omit<DrillEvidence, 'keyId'>, signer: CheckpointSigner): SignedDrillEvidence {
  const full: DrillEvidence = { ...record, keyId: signer.keyId };
  return { record: full, keyId: signer.keyId, signature: signer.sign(drillSigningBytes(full)) };
}

/** Checks a signed drill record with the instance's public key(s); the key id inside the record must match the one outside. */
export function verifyDrillEvidence(evidence: SignedDrillEvidence, verifier: CheckpointVerifier): SignatureVerdict {
  if (evidence.record.keyId !== evidence.keyId) return 'invalid';
  return verifier.verify(evidence.keyId, drillSigningBytes(evidence.record), evidence.signature);
}
