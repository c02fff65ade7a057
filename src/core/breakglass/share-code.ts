import { createHash } from 'node:crypto';

/*
 * How a custodian's share is written down: Crockford base32 (no I, L, O or U; those read as 1 and
 * 0 when typed), in dash-separated groups of five, ending in a checksum, so a share can be typed from
 * paper or pasted, and a typo is caught before any combining. The code carries the seal id and the
 * share number, so a share of another seal (or of the same custodian's previous seal) is refused by
 * name instead of silently rebuilding a wrong password.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const FORMAT_VERSION = 1;
const CHECKSUM_BYTES = 4;
const GROUP = 5;

/** One decoded share: which seal it belongs to, its number (1-based, the custodian's position), and the Shamir share bytes. */
export interface DecodedShare {
  readonly sealId: string;
  readonly number: number;
  readonly share: Uint8Array;
}

export type ShareDecodeResult = { readonly ok: true; readonly share: DecodedShare } | { readonly ok: false; readonly problem: string };

function toBase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let text = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += ALPHABET[(value << (5 - bits)) & 31];
  return text;
}

function fromBase32(text: string): Uint8Array | null {
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const raw of text) {
    const char = raw === 'I' || raw === 'L' ? '1' : raw === 'O' ? '0' : raw;
    const digit = ALPHABET.indexOf(char);
    if (digit < 0) return null;
    value = ((value << 5) | digit) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(bytes);
}

const uuidBytes = (uuid: string): Buffer => Buffer.from(uuid.replaceAll('-', ''), 'hex');
const uuidText = (bytes: Uint8Array): string => {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
const checksumOf = (payload: Uint8Array): Buffer => createHash('sha256').update(payload).digest().subarray(0, CHECKSUM_BYTES);

/** Encodes a share for a custodian: `XXXXX-XXXXX-…`. */
export function encodeShare(share: DecodedShare): string {
  const payload = Buffer.concat([Buffer.from([FORMAT_VERSION]), uuidBytes(share.sealId), Buffer.from([share.number]), Buffer.from(share.share)]);
  const text = toBase32(Buffer.concat([payload, checksumOf(payload)]));
  const groups: string[] = [];
  for (let at = 0; at < text.length; at += GROUP) groups.push(text.slice(at, at + GROUP));
  return groups.join('-');
}

/**
 * Reads a share as a custodian typed or pasted it: case, spaces and dashes do not matter. A
 * mistyped character fails the checksum; the problem says so without echoing the share.
 */
export function decodeShare(typed: string): ShareDecodeResult {
  const compact = typed.toUpperCase().replace(/[\s-]/g, '');
  if (compact === '') return { ok: false, problem: 'the share is empty' };
  const bytes = fromBase32(compact);
  if (bytes === null) return { ok: false, problem: 'the share contains a character that is not part of a share (use 0-9 and A-Z without U)' };
  if (bytes.length < 1 + 16 + 1 + 2 + CHECKSUM_BYTES) return { ok: false, problem: 'the share is too short: a part is missing' };
  const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  const checksum = bytes.subarray(bytes.length - CHECKSUM_BYTES);
  if (!checksumOf(payload).equals(checksum)) return { ok: false, problem: 'the share does not check out: a character is mistyped or missing' };
  if (payload[0] !== FORMAT_VERSION) return { ok: false, problem: 'the share was written by an unknown version of Latchkey' };
  const number = payload[17] ?? 0;
  const share = payload.subarray(18);
  return { ok: true, share: { sealId: uuidText(payload.subarray(1, 17)), number, share: Uint8Array.from(share) } };
}
