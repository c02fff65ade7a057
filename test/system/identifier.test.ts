import { describe, expect, it } from 'vitest';
import { canonicalEmail, canonicalIdentifier, isEmailAddress, MAX_IDENTIFIER_LENGTH } from '../../src/core/account/identifier.ts';

const canon = (raw: string): string | null => {
  const result = canonicalIdentifier(raw);
  return result.ok ? result.value : null;
};

describe('canonicalIdentifier (INP-3)', () => {
  it('trims and lower-cases', () => {
    expect(canon('  Mike@Corp.Test ')).toBe('mike@corp.test');
    expect(canon('ALICE')).toBe('alice');
  });

  it('keeps Turkish dotted and dotless i apart from ASCII i', () => {
    expect(canon('MİKE@corp.test')).not.toBe('mike@corp.test');
    expect(canon('mıke@corp.test')).not.toBe('mike@corp.test');
    expect(canon('MİKE@corp.test')).not.toBe(canon('mıke@corp.test'));
    // Locale-independent: the same result whatever the process locale.
    expect(canon('MİKE@corp.test')).toBe('mi\u0307ke@corp.test');
  });

  it('folds fullwidth (NFKC) onto ASCII, so the same stored address gets the mail', () => {
    expect(canon('ｍｉｋｅ@corp.test')).toBe('mike@corp.test');
    expect(canon('ＭＩＫＥ＠ｃｏｒｐ．ｔｅｓｔ')).toBe('mike@corp.test');
    expect(canon('ﬁona@corp.test')).toBe('fiona@corp.test');
  });

  it('makes NFD and NFC spellings equal', () => {
    const nfc = 'Jos\u00e9@corp.test';
    const nfd = 'Jose\u0301@corp.test';
    expect(nfc).not.toBe(nfd);
    expect(canon(nfd)).toBe(canon(nfc));
    expect(canon(nfc)).toBe('jos\u00e9@corp.test');
  });

  it('rejects invisible, control, bidi and inner whitespace characters', () => {
    for (const raw of [
      'mike@corp.test\u200b',
      'mi\u200bke',
      'mi\u200dke',
      '\u202emike',
      'mike\u200e',
      'mi\u00adke',
      'mi\u0000ke',
      'mi\tke',
      'mi ke',
      'mi\u00a0ke',
      'mi\u3000ke',
      'mike\ufeff@corp.test',
      'mi\ue000ke',
      'mi\ud800ke',
    ]) {
      expect(canonicalIdentifier(raw), JSON.stringify(raw)).toEqual({ ok: false });
    }
  });

  it('rejects Latin mixed with Cyrillic or Greek (confusables), but allows single scripts', () => {
    expect(canonicalIdentifier('\u0430lice@corp.test')).toEqual({ ok: false }); // Cyrillic а
    expect(canonicalIdentifier('p\u0430ypal')).toEqual({ ok: false });
    expect(canonicalIdentifier('\u03bfscar')).toEqual({ ok: false }); // Greek ο
    expect(canonicalIdentifier('alice@c\u043erp.test')).toEqual({ ok: false }); // Cyrillic о in the domain
    expect(canon('иван@corp.test')).toBe('иван@corp.test');
    expect(canon('Иван')).toBe('иван');
    expect(canon('ελένη')).toBe('ελένη');
    expect(canon('山田たろう')).toBe('山田たろう');
    expect(canon('김민준')).toBe('김민준');
    expect(canon('alice.o-brien_2')).toBe('alice.o-brien_2');
  });

  it('rejects empty, over-long and multi-@ identifiers', () => {
    expect(canonicalIdentifier('')).toEqual({ ok: false });
    expect(canonicalIdentifier('   ')).toEqual({ ok: false });
    expect(canonicalIdentifier('a'.repeat(MAX_IDENTIFIER_LENGTH + 1))).toEqual({ ok: false });
    expect(canon('a'.repeat(MAX_IDENTIFIER_LENGTH))).toBe('a'.repeat(MAX_IDENTIFIER_LENGTH));
    // NFKC may expand: U+FDFA becomes 18 characters.
    expect(canonicalIdentifier('\ufdfa'.repeat(20))).toEqual({ ok: false });
    expect(canonicalIdentifier('a@b@c.test')).toEqual({ ok: false });
    expect(canonicalIdentifier('a＠b@c.test')).toEqual({ ok: false });
  });

  it('is idempotent and is also the email canonicaliser', () => {
    for (const raw of ['MİKE@corp.test', 'ｍｉｋｅ', 'Jose\u0301', 'ǅemal', 'STRASSE', 'Straße', 'ΣΊΣΥΦΟΣ']) {
      const once = canon(raw);
      expect(once, raw).not.toBeNull();
      expect(canon(once ?? ''), raw).toBe(once);
    }
    expect(canonicalEmail).toBe(canonicalIdentifier);
  });
});

describe('isEmailAddress', () => {
  it('accepts plain single addresses', () => {
    for (const value of ['alice@corp.test', 'a.b+tag@sub.corp.test', "o'brien@corp.test", 'x_y-z@corp-1.test', 'иван@пример.рф']) {
      expect(isEmailAddress(value), value).toBe(true);
    }
  });

  it('refuses lists, display-name forms, header breaks and malformed addresses', () => {
    for (const value of [
      'alice@corp,attacker@evil.test',
      'alice@corp.test,attacker@evil.test',
      'alice@corp.test;attacker@evil.test',
      'alice@corp.test\r\nBcc: attacker@evil.test',
      'alice@corp.test\n',
      'Alice <alice@corp.test>',
      '"alice"@corp.test',
      'alice (x)@corp.test',
      'alice @corp.test',
      'alice@corp',
      'alice@',
      '@corp.test',
      'alice',
      'a@@corp.test',
      'a@b@corp.test',
      '.alice@corp.test',
      'alice.@corp.test',
      'al..ice@corp.test',
      'alice@corp..test',
      'alice@-corp.test',
      'alice@corp-.test',
      'alice@.corp.test',
      'alice@corp.test.',
      `${'a'.repeat(65)}@corp.test`,
      `a@${'b'.repeat(250)}.test`,
      '',
    ]) {
      expect(isEmailAddress(value), JSON.stringify(value)).toBe(false);
    }
  });
});
