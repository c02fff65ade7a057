/*
 * Active Directory's encodings, as pure functions: objectGUID bytes, FILETIME timestamps,
 * userAccountControl flags and the sub-codes AD puts in the diagnostic message of a refusal.
 */

/** userAccountControl ACCOUNTDISABLE. */
export const UAC_ACCOUNT_DISABLE = 0x2;
/** msDS-User-Account-Control-Computed UF_LOCKOUT: set while the lockout duration has not run out. */
export const UAC_LOCKOUT = 0x10;
/** msDS-User-Account-Control-Computed UF_PASSWORD_EXPIRED. */
export const UAC_PASSWORD_EXPIRED = 0x800000;

const GUID_PATTERN = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

const reversedHex = (bytes: Buffer): string => Buffer.from(bytes).reverse().toString('hex');

/**
 * The canonical string form of a 16-byte objectGUID. AD stores a GUID as Microsoft's struct: the
 * first three fields little-endian, the last eight bytes in order, so the bytes
 * `1b 72 3b 3b 3c 81 7e 4b 85 2d …` read `3b3b721b-813c-4b7e-852d-…`. Null for any other length.
 */
export function guidFromBytes(bytes: Buffer): string | null {
  if (bytes.length !== 16) return null;
  return [
    reversedHex(bytes.subarray(0, 4)),
    reversedHex(bytes.subarray(4, 6)),
    reversedHex(bytes.subarray(6, 8)),
    bytes.subarray(8, 10).toString('hex'),
    bytes.subarray(10, 16).toString('hex'),
  ].join('-');
}

/** The objectGUID bytes of a canonical GUID string; null when the text is not a GUID. */
export function guidToBytes(guid: string): Buffer | null {
  const match = GUID_PATTERN.exec(guid);
  if (!match) return null;
  const [, a, b, c, d, e] = match as unknown as [string, string, string, string, string, string];
  return Buffer.concat([
    Buffer.from(a, 'hex').reverse(),
    Buffer.from(b, 'hex').reverse(),
    Buffer.from(c, 'hex').reverse(),
    Buffer.from(d, 'hex'),
    Buffer.from(e, 'hex'),
  ]);
}

/**
 * Bytes as an RFC 4515 filter value: every byte written `\xx`, so no byte of it can be read as
 * filter syntax.
 */
export const escapeFilterBytes = (bytes: Buffer): string => [...bytes].map((byte) => `\\${byte.toString(16).padStart(2, '0')}`).join('');

/** 100-ns intervals between 1601-01-01 (the FILETIME epoch) and 1970-01-01. */
const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

/** A FILETIME attribute (`lockoutTime`, `pwdLastSet`) as a Date; null for 0, garbage or "never". */
export function dateFromFileTime(value: string | undefined): Date | null {
  if (value === undefined || !/^\d{1,20}$/.test(value.trim())) return null;
  const ticks = BigInt(value.trim());
  if (ticks === 0n || ticks >= 0x7fff_ffff_ffff_ffffn) return null;
  return new Date(Number((ticks - FILETIME_UNIX_EPOCH) / 10_000n));
}

/** A numeric flags attribute; 0 when absent or not a number. */
export function flagsOf(value: string | undefined): number {
  const parsed = value === undefined ? Number.NaN : Number.parseInt(value.trim(), 10);
  return Number.isSafeInteger(parsed) ? parsed : 0;
}

/**
 * The sub-code of an AD bind refusal: "80090308: LdapErr: … AcceptSecurityContext error, data 775,
 * v1db1" gives `775`. Lower case; null when the message carries none.
 */
export function bindSubCode(message: string): string | null {
  return /\bdata ([0-9a-f]{1,8})\b/i.exec(message)?.[1]?.toLowerCase() ?? null;
}

/**
 * The Win32 error at the head of an AD refusal: "0000052D: Constraint violation - …" gives `52d`.
 * Lower case without leading zeros; null when the message does not start with one.
 */
export function win32ErrorOf(message: string): string | null {
  const code = /^\s*([0-9a-f]{8})\s*:/i.exec(message)?.[1];
  return code === undefined ? null : code.replace(/^0+(?=.)/, '').toLowerCase();
}

/** The password bytes AD expects in unicodePwd: the password in double quotes, UTF-16LE. */
export const unicodePwdValue = (password: string): Buffer => Buffer.from(`"${password}"`, 'utf16le');
