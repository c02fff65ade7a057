import { describe, expect, it } from 'vitest';
import { bindSubCode, dateFromFileTime, escapeFilterBytes, flagsOf, guidFromBytes, guidToBytes, unicodePwdValue, win32ErrorOf } from './active-directory-attributes.ts';

describe('objectGUID', () => {
  // The well-known example from Microsoft's documentation of the GUID structure.
  const bytes = Buffer.from('1b723b3b3c817e4b852d29abb9808d22', 'hex');
  const text = '3b3b721b-813c-4b7e-852d-29abb9808d22';

  it('reads the first three fields little-endian and the last two in order', () => {
    expect(guidFromBytes(bytes)).toBe(text);
  });

  it('writes a GUID back to the same bytes, whatever the letter case', () => {
    expect(guidToBytes(text)?.equals(bytes)).toBe(true);
    expect(guidToBytes(text.toUpperCase())?.equals(bytes)).toBe(true);
  });

  it('refuses anything that is not exactly a GUID', () => {
    expect(guidFromBytes(Buffer.alloc(15))).toBeNull();
    for (const text of ['', '*', '3b3b721b-813c-4b7e-852d-29abb9808d2', '3b3b721b-813c-4b7e-852d-29abb9808d22)(cn=*', 'zzzzzzzz-813c-4b7e-852d-29abb9808d22', ' 3b3b721b-813c-4b7e-852d-29abb9808d22']) {
      expect(guidToBytes(text), text).toBeNull();
    }
  });

  it('escapes every byte for a filter, so none reads as filter syntax', () => {
    expect(escapeFilterBytes(Buffer.from([0x28, 0x2a, 0x00, 0x5c, 0xff]))).toBe('\\28\\2a\\00\\5c\\ff');
  });
});

describe('FILETIME', () => {
  it('converts 100-ns intervals since 1601 to a date', () => {
    expect(dateFromFileTime('116444736000000000')?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(dateFromFileTime('134401734243738470')?.toISOString()).toBe('2026-11-26T13:30:24.373Z');
  });

  it('reads 0, "never" and garbage as no date', () => {
    expect(dateFromFileTime('0')).toBeNull();
    expect(dateFromFileTime('9223372036854775807')).toBeNull();
    expect(dateFromFileTime('-1')).toBeNull();
    expect(dateFromFileTime('soon')).toBeNull();
    expect(dateFromFileTime(undefined)).toBeNull();
  });
});

describe('flags', () => {
  it('reads a decimal attribute and treats anything else as no flags', () => {
    expect(flagsOf('514')).toBe(514);
    expect(flagsOf('')).toBe(0);
    expect(flagsOf(undefined)).toBe(0);
  });
});

describe('AD refusal codes', () => {
  it('finds the sub-code of a bind refusal', () => {
    expect(bindSubCode('80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1')).toBe('775');
    expect(bindSubCode('80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52E, v4563')).toBe('52e');
    expect(bindSubCode('Invalid credentials')).toBeNull();
  });

  it('finds the Win32 error at the head of a modify refusal', () => {
    expect(win32ErrorOf('0000052D: Constraint violation - check_password_restrictions: the password is too short.')).toBe('52d');
    expect(win32ErrorOf('00000775: Password change not permitted, account locked out!')).toBe('775');
    expect(win32ErrorOf('00002020: Operation unavailable without authentication')).toBe('2020');
    expect(win32ErrorOf('Constraint violation')).toBeNull();
  });
});

describe('unicodePwd', () => {
  it('is the quoted password in UTF-16LE', () => {
    expect(unicodePwdValue('Aé1').toString('hex')).toBe('22004100e90031002200');
    expect(unicodePwdValue('Aé1').toString('utf16le')).toBe('"Aé1"');
  });
});
